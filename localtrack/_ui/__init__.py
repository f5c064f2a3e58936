"""The dashboard (`localtrack ui`): an HTTP server over read-only snapshots of the store, and its static views."""
