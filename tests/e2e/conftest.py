"""End-to-end sync tests: a real mlflow server on loopback (one per session), real processes."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mlflow_server import auth_server, mlflow_server

__all__ = ["auth_server", "mlflow_server"]
