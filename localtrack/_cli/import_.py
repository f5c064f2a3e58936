"""`localtrack import tensorboard|wandb PATH…`: bring other trackers' logs into the store.

Each import is incremental and idempotent (docs/INTEROP.md): run it again, or keep it running
with `--follow`, and only what is new is added. Progress goes to stderr, then a summary; the
exit code is 1 when a file could not be read whole (a corrupt record), else 0.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from localtrack._interop.report import ImportReport
from localtrack._store.layout import runs_root

EXAMPLES = """examples:
  localtrack import tensorboard ./tb_logs                 runs under ./tb_logs -> project "tensorboard"
  localtrack import tensorboard ./tb_logs --project exp1  into project "exp1"
  localtrack import tensorboard ./tb_logs --follow        keep importing what TensorBoard writes
  localtrack import wandb ./wandb                         every offline-run-*/run-* folder
  localtrack import wandb ./wandb/offline-run-20240101_120000-abc123
"""


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = subparsers.add_parser(
        "import",
        help="import TensorBoard event files or W&B runs (incremental)",
        description="Import other trackers' logs as localtrack runs. Importing again adds "
        "only what is new (docs/INTEROP.md).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    kinds = p.add_subparsers(dest="source", metavar="SOURCE", required=True)
    tb = kinds.add_parser(
        "tensorboard",
        help="event files (events.out.tfevents.*): every run directory under PATH",
        description="Import every TensorBoard run (a directory holding event files) under "
        "each PATH; a run is named by its path relative to PATH, as TensorBoard names it.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    wb = kinds.add_parser(
        "wandb",
        help="W&B runs: wandb/offline-run-*/run-*.wandb and synced run-* folders under PATH",
        description="Import every W&B run (its run-<id>.wandb transaction log) under each "
        "PATH as <root>/<project>/<W&B run id>: history, config, summary, run metadata, and "
        "the images and histograms the history logged. Needs the wandb package.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for sub, default in ((tb, "tensorboard"), (wb, None)):
        sub.add_argument("paths", metavar="PATH", nargs="+", type=Path)
        sub.add_argument(
            "--project",
            default=default,
            help=f"project to import into (default: {default or 'the W&B run’s own project'})",
        )
        sub.add_argument(
            "--follow",
            action="store_true",
            help="keep importing new records every --interval seconds until Ctrl-C",
        )
        sub.add_argument("--interval", type=float, default=2.0, help=argparse.SUPPRESS)
        sub.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
        sub.add_argument("--root", default=argparse.SUPPRESS, help="runs root to import into")
    p.set_defaults(run=run)


def _once(args: argparse.Namespace, root: Path, progress: bool) -> ImportReport:
    if args.source == "wandb":
        from localtrack._interop.wandb_import import import_wandb

        return import_wandb(args.paths, root, args.project, progress=progress)
    from localtrack._interop.tb_import import import_tensorboard

    return import_tensorboard(args.paths, root, args.project, progress=progress)


def run(args: argparse.Namespace) -> int:
    root = runs_root(getattr(args, "root", None))
    report = _once(args, root, not args.quiet)
    print(report.summary(), file=sys.stderr, flush=True)
    while args.follow:
        try:
            time.sleep(args.interval)
        except KeyboardInterrupt:
            return 0
        report = _once(args, root, False)
        if report.points or report.errors:
            print(report.summary(), file=sys.stderr, flush=True)
    return 1 if report.errors else 0
