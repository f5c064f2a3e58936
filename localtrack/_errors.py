"""Every exception localtrack raises on purpose.

    LocaltrackError
     ├── ClosedError (RuntimeError)         logging to a writer or run after close()/finish()
     ├── UsageError (ValueError)            a call that can never work (unknown dataformats…)
     ├── FormatVersionError (ValueError)    a store written by a newer localtrack
     ├── RunNotFoundError (LookupError)     no run matches the given id, name or path
     └── SyncError                          an upload failed; `retry` says which kind
          ├── RetryLater                    connection, timeout, 5xx, 429: try again later
          └── NeedsPerson                   auth, permission, rejected value: a person must act

    LocaltrackWarning (UserWarning)         bad data skipped in a training loop

Each subclass also inherits the fitting builtin, so `except ValueError` keeps working.
"""

from __future__ import annotations


class LocaltrackError(Exception):
    """Root of every error localtrack raises on purpose."""


class ClosedError(LocaltrackError, RuntimeError):
    """Logging after close()/finish(); the message names the call that closed it."""


class UsageError(LocaltrackError, ValueError):
    """A call that cannot work as written; the message says how to fix it."""


class FormatVersionError(LocaltrackError, ValueError):
    """Data written by a newer format version than this localtrack reads."""


class RunNotFoundError(LocaltrackError, LookupError):
    """No run matches the id, name or path given."""


class SyncError(LocaltrackError):
    """An upload to the remote tracker failed."""

    retry: bool = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RetryLater(SyncError):
    """A transient failure (connection, timeout, 5xx, 429): the same request may succeed later."""

    retry = True


class NeedsPerson(SyncError):
    """A failure retrying cannot fix (auth, permission, a value the remote rejects)."""

    retry = False


class LocaltrackWarning(UserWarning):
    """Bad data in a training loop: the item was skipped, everything else was kept."""
