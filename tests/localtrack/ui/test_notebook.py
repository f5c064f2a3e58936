"""`%load_ext localtrack` and `%localtrack --logdir DIR` in a real IPython shell."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output

import localtrack
from localtrack._ui import notebook


@pytest.fixture
def shell() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    try:
        yield shell
    finally:
        notebook.stop_all()
        InteractiveShell.clear_instance()


def iframe_src(captured) -> str:
    (output,) = captured.outputs
    html = output.data["text/html"]
    src = html.split('src="', 1)[1].split('"', 1)[0]
    return src.replace("&amp;", "&")


def test_magic_shows_the_dashboard_and_reuses_its_server(shell, tmp_path: Path) -> None:
    w = localtrack.SummaryWriter(tmp_path / "p" / "one")
    w.add_scalar("loss", 0.25, 3)
    w.close()
    shell.run_line_magic("load_ext", "localtrack")
    with capture_output() as first:
        shell.run_line_magic("localtrack", f'--logdir "{tmp_path}"')
    url = iframe_src(first)
    assert url.startswith("http://localhost:") and "token=" in url
    s = requests.Session()
    assert s.get(url).status_code == 200
    runs = s.get(url.split("?")[0] + "api/runs").json()["runs"]
    assert [r["name"] for r in runs] == ["one"]
    with capture_output() as second:
        shell.run_line_magic("localtrack", f"--logdir {tmp_path}")
    assert iframe_src(second) == url  # the same server, reused


def test_bad_arguments_say_how(shell) -> None:
    shell.run_line_magic("load_ext", "localtrack")
    with pytest.raises(ValueError, match="usage: %localtrack"):
        notebook.localtrack_magic("--port notanumber")
