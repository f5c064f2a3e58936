"""The public surface is small and pinned: adding a name is a deliberate change."""

import localtrack


def test_all_lists_exactly_the_public_names():
    assert sorted(localtrack.__all__) == sorted(
        [
            "FORMAT_VERSION",
            "ClosedError",
            "FormatVersionError",
            "Histogram",
            "Image",
            "LocaltrackError",
            "LocaltrackWarning",
            "NeedsPerson",
            "RetryLater",
            "Run",
            "RunNotFoundError",
            "SummaryWriter",
            "SyncError",
            "Table",
            "UsageError",
            "__version__",
            "alert",
            "compact",
            "connect",
            "define_metric",
            "finish",
            "init",
            "load_ipython_extension",
            "log",
            "patch_tensorboard",
            "login",
            "save",
            "sql",
            "ui",
            "watch",
        ]
    )
    for name in localtrack.__all__:
        assert hasattr(localtrack, name), name


def test_import_does_not_need_torch(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys, builtins\n"
        "real = builtins.__import__\n"
        "def guard(name, *a, **k):\n"
        "    if name == 'torch' or name.startswith('torch.'):\n"
        "        raise ImportError('torch is not installed')\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = guard\n"
        "import localtrack\n"
        f"w = localtrack.SummaryWriter({str(tmp_path / 'r')!r})\n"
        "w.add_scalar('x', 1.5, 0)\n"
        "w.close()\n"
        "print(localtrack.sql('select value from scalars', root="
        + repr(str(tmp_path))
        + ").fetchall())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[(1.5,)]"
