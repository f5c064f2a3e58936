"""Which command a command line names: `localtrack` imports only that command's module."""

from __future__ import annotations

import subprocess
import sys

import pytest

from localtrack._cli.main import command_name


@pytest.mark.parametrize(
    ("argv", "want"),
    [
        (["ui"], "ui"),
        (["--root", "logs", "runs", "--json"], "runs"),
        (["--root=logs", "sql", "SELECT 1"], "sql"),
        (["--help"], None),
        ([], None),
        (["import", "tensorboard", "x"], "import"),
    ],
)
def test_command_name_skips_options_and_the_root(argv: list[str], want: str | None) -> None:
    assert command_name(argv) == want


def test_ui_help_does_not_import_the_sync_daemon() -> None:
    code = (
        "import sys\n"
        "from localtrack._cli.main import main\n"
        "try:\n    main(['ui', '--help'])\n"
        "except SystemExit:\n    pass\n"
        "print('localtrack_daemon.cli' in sys.modules, 'requests' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "False False"


def test_every_command_is_listed_by_help_and_an_unknown_one_names_them() -> None:
    run = [sys.executable, "-m", "localtrack._cli.main"]
    shown = subprocess.run([*run, "--help"], capture_output=True, text=True)
    for command in ("runs", "sql", "ui", "import", "daemon", "sync"):
        assert command in shown.stdout + shown.stderr
    bad = subprocess.run([*run, "nope"], capture_output=True, text=True)
    assert bad.returncode == 2 and "'sync'" in bad.stderr and "'ui'" in bad.stderr
