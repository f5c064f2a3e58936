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


def _plugins() -> list[ModuleType]:
    modules = [importlib.import_module(name) for name in COMMAND_MODULES]
    try:
        from localtrack_daemon import cli as daemon_cli
    except ImportError:
        pass
    else:
        modules.append(daemon_cli)
    return modules


def build_parser() -> argparse.ArgumentParser:
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
    for module in _plugins():
        module.register(subparsers)
    for sub in subparsers.choices.values():
        if not any("--root" in a.option_strings for a in sub._actions):
            sub.add_argument("--root", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
