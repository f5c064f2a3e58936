"""The `localtrack` command: a thin dispatcher; each command lives in its own module.

Every command takes `--root` (default $LOCALTRACK_DIR, then ./runs). Errors are one line on
stderr and a non-zero exit code; long work reports progress on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

import duckdb

from localtrack._errors import LocaltrackError

COMMAND_MODULES = (
    "localtrack._cli.runs",
    "localtrack._cli.sql",
    "localtrack._cli.show",
    "localtrack._cli.tail",
    "localtrack._cli.export",
    "localtrack._cli.import_",
    "localtrack._cli.compact",
    "localtrack._cli.rm",
    "localtrack._cli.ui",
)


EXAMPLES = """bring other trackers' logs in, take runs out (docs/INTEROP.md):
  localtrack import tensorboard ./tb_logs --follow     TensorBoard event files, incrementally
  localtrack import wandb ./wandb                      W&B offline-run-*/run-* folders
  localtrack export RUN... --format tensorboard --out ./tb && tensorboard --logdir ./tb
"""


def root_option() -> argparse.ArgumentParser:
    """`--root`, accepted before or after the command name."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--root",
        default=argparse.SUPPRESS,
        help="runs root (default: $LOCALTRACK_DIR, then ./runs)",
    )
    return parent


DAEMON_COMMANDS = frozenset({"daemon", "sync"})
"""The commands the sync daemon's package registers (when it is installed)."""


def command_name(argv: Sequence[str]) -> str | None:
    """The command `argv` names (the first word that is not an option or --root's value)."""
    words = iter(argv)
    for word in words:
        if word == "--root":
            next(words, None)
        elif not word.startswith("-"):
            return word
    return None


def _plugins(command: str | None = None) -> list[ModuleType]:
    """The modules that register commands: only `command`'s when it is a known one (a command
    then imports what it needs and nothing else: `localtrack ui` starts without the daemon's
    HTTP client, say), else all of them (for --help and for argparse's list of choices)."""
    own = [n for n in COMMAND_MODULES if n.rsplit(".", 1)[1].rstrip("_") == command]
    if own:
        return [importlib.import_module(name) for name in own]
    # the daemon's own commands need only its module; anything else lists every command
    wanted = () if command in DAEMON_COMMANDS else COMMAND_MODULES
    modules = [importlib.import_module(name) for name in wanted]
    try:
        from localtrack_daemon import cli as daemon_cli
    except ImportError:
        pass
    else:
        modules.append(daemon_cli)
    return modules


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="localtrack",
        description="Offline-first experiment tracking: list, query and manage logged runs.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--root", default=None, help="runs root (default: $LOCALTRACK_DIR, then ./runs)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _plugins(command):
        module.register(subparsers)
    for sub in subparsers.choices.values():
        if not any("--root" in a.option_strings for a in sub._actions):
            sub.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(command_name(words))
    args = parser.parse_args(words)
    run = getattr(args, "run", None)
    if run is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        code: int = run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except (LocaltrackError, duckdb.Error, OSError) as e:
        message = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"localtrack {args.command}: error: {message}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
