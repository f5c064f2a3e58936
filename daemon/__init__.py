"""The sync daemon: uploads runs to an MLflow tracking server, exactly once (installed as localtrack_daemon)."""
