"""The daemon's rescan walk (daemon/scan.py) finds what find_runs finds, with the fingerprints."""

from __future__ import annotations

from localtrack_daemon.scan import fingerprint, scan_runs

from localtrack._store.layout import MARKER_NAME
from localtrack._store.runs import find_runs


def test_scan_finds_the_runs_find_runs_finds_each_with_its_fingerprint(tmp_path):
    def run(path):
        path.mkdir(parents=True)
        (path / MARKER_NAME).write_text("{}")
        for d in ("scalars", "events", "sync", "writers", ".hidden"):
            (path / d).mkdir()
        return path

    run(tmp_path / "proj" / "a")
    run(tmp_path / "proj" / "b")
    run(tmp_path / "proj" / "a" / "nested")  # a run inside a run's folder
    run(tmp_path / "proj" / "a" / "scalars" / "not-a-run")  # inside a data folder: skipped
    run(tmp_path / ".trash" / "c")  # hidden: skipped
    (tmp_path / "empty").mkdir()
    found = scan_runs(tmp_path)
    assert list(found) == find_runs(tmp_path)
    assert [p.name for p in found] == ["a", "nested", "b"]
    assert found == {p: fingerprint(p) for p in find_runs(tmp_path)}
    names = [n for n, _ in found[tmp_path / "proj" / "a"]]
    assert names == ["events", "nested", "scalars"]  # not sync/, writers/, hidden ones


def test_scan_of_a_missing_root_is_empty(tmp_path):
    assert scan_runs(tmp_path / "nope") == {}
    assert fingerprint(tmp_path / "nope") == ()
