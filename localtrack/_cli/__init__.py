"""The `localtrack` command line."""
