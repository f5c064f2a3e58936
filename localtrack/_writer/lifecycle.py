"""Nothing is lost at a clean end: atexit, SIGTERM and uncaught exceptions close open writers.

A non-zero `sys.exit(code)` is seen by wrapping `sys.exit` (as wandb's exit hooks do: Python
tells atexit nothing of the exit code), so such a run ends `failed` with that exit code.
SIGTERM is handled only when nobody else handles it (the handler was the default): every
open writer is closed with status "killed", then the signal is re-raised with the default
action so the process still dies the way its parent expects.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from types import FrameType, TracebackType
from typing import NoReturn, Protocol


class Closable(Protocol):
    def close(self, status: str = "finished", exit_code: int | None = None) -> None: ...


_open: weakref.WeakSet[Closable] = weakref.WeakSet()
_installed = False
_failed = False
_exit_code: int | None = None
"""The code of the last non-zero sys.exit() seen, or 1 after an uncaught exception."""


def register(writer: Closable) -> None:
    _install_once()
    _open.add(writer)


def unregister(writer: Closable) -> None:
    _open.discard(writer)


def _close_all(status: str, exit_code: int | None) -> None:
    for writer in list(_open):
        try:
            writer.close(status=status, exit_code=exit_code)
        except Exception as exc:  # keep closing the others; say what happened
            print(f"localtrack: closing a writer at exit failed: {exc!r}", file=sys.stderr)


def _at_exit() -> None:
    _close_all("failed" if _failed else "finished", _exit_code if _failed else None)


def exit_code_of(arg: object) -> int:
    """The process exit code `sys.exit(arg)` gives (None: 0; a message: 1)."""
    if arg is None:
        return 0
    return arg if isinstance(arg, int) else 1


def _exit(arg: str | int | None = None) -> NoReturn:
    global _failed, _exit_code
    code = exit_code_of(arg)
    if code != 0:
        _failed, _exit_code = True, code
    _previous_exit(arg)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _close_all("killed", 128 + signum)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _excepthook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
    global _failed, _exit_code
    if not issubclass(kind, KeyboardInterrupt | SystemExit):
        _failed, _exit_code = True, 1
    _previous_excepthook(kind, value, tb)


_previous_excepthook = sys.excepthook
_previous_exit = sys.exit


def _install_once() -> None:
    global _installed, _previous_excepthook, _previous_exit
    if _installed:
        return
    _installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    _previous_exit = sys.exit
    sys.exit = _exit
    if threading.current_thread() is threading.main_thread():
        try:
            if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
                signal.signal(signal.SIGTERM, _on_sigterm)
        except (ValueError, OSError):
            pass
