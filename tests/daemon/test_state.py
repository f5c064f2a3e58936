import json

import pytest
from localtrack_daemon.remote import classify
from localtrack_daemon.state import (
    Problem,
    SyncState,
    broken_files,
    broken_name,
    load_state,
    open_state,
    parse_state,
    public_url,
    remote_name,
    save_state,
    state_path,
)

from localtrack._errors import NeedsPerson, RetryLater


@pytest.fixture(autouse=True)
def _run_marker(tmp_path):
    """tmp_path is the run directory: states are only ever saved into a run that exists."""
    (tmp_path / "localtrack-run.json").write_text("{}")


def test_remote_is_named_without_credentials():
    uri = "https://alice:hunter2@mlflow.example.org:8443/base/?x=1"
    assert public_url(uri) == "https://mlflow.example.org:8443/base"
    name = remote_name(uri)
    assert "hunter2" not in name and "alice" not in name
    assert name == remote_name("https://mlflow.example.org:8443/base")


def test_state_round_trips_atomically_and_holds_no_secret(tmp_path):
    uri = "http://bob:s3cret-pw@127.0.0.1:5000"
    state = load_state(tmp_path, uri, "run1")
    state.mlflow_run_id = "abc"
    state.progress("scalars", "00aa11bb").mark_done(4)
    state.progress("scalars", "00aa11bb").mark_partial(5, 17)
    state.problem = Problem("retry_later", "cannot reach", 1.0)
    save_state(tmp_path, uri, state)
    text = state_path(tmp_path, uri).read_text()
    assert "s3cret-pw" not in text and "bob" not in text
    again = load_state(tmp_path, uri, "run1")
    assert again.to_json() == state.to_json()
    assert again.streams["scalars"]["00aa11bb"].rows_done(5) == 17
    assert [p.name for p in (tmp_path / "sync").iterdir()] == [state_path(tmp_path, uri).name]


def test_a_version_1_state_keeps_finished_seqs_and_resends_partly_sent_ones(tmp_path):
    uri = "http://127.0.0.1:5000"
    state = SyncState(remote=uri, local_run_id="run1", mlflow_run_id="abc")
    state.progress("scalars", "w1").mark_done(4)
    state.progress("scalars", "w1").mark_partial(5, 17)
    old = {**state.to_json(), "version": 1}  # counted rows in another order
    state_path(tmp_path, uri).parent.mkdir()
    state_path(tmp_path, uri).write_text(json.dumps(old))
    again = load_state(tmp_path, uri, "run1")
    progress = again.streams["scalars"]["w1"]
    assert again.mlflow_run_id == "abc" and progress.is_done(4)
    assert progress.rows_done(5) == 0 and not progress.is_done(5)


def test_state_of_another_run_or_unreadable_is_ignored(tmp_path):
    uri = "http://127.0.0.1:5000"
    save_state(tmp_path, uri, SyncState(remote=uri, local_run_id="other", mlflow_run_id="x"))
    assert load_state(tmp_path, uri, "mine").mlflow_run_id is None
    state_path(tmp_path, uri).write_text("{not json")
    assert load_state(tmp_path, uri, "mine").mlflow_run_id is None
    state_path(tmp_path, uri).write_text(json.dumps({"format": "localtrack-sync", "version": 99}))
    assert load_state(tmp_path, uri, "mine").mlflow_run_id is None


def test_failures_are_classed():
    for status in (500, 502, 503, 504, 429, 408):
        assert isinstance(classify(status, "", "x"), RetryLater)
    for status in (400, 401, 403, 404):
        assert isinstance(classify(status, "", "x"), NeedsPerson)
    e = classify(
        400,
        '{"error_code": "INVALID_PARAMETER_VALUE", "message": "Changing param values is not allowed"}',
        "x",
    )
    assert "Changing param values" in str(e)


def test_credentials_come_from_the_environment_only(monkeypatch):
    from localtrack_daemon.remote import Remote

    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok-123")
    r = Remote("https://mlflow.example.org")
    assert r.session.headers["Authorization"] == "Bearer tok-123"
    assert r.url == "https://mlflow.example.org"
    monkeypatch.delenv("MLFLOW_TRACKING_TOKEN")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "ann")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "pw-9")
    r = Remote("http://127.0.0.1:5000")
    assert r.session.auth == ("ann", "pw-9") and "Authorization" not in r.session.headers
    # log-batch requests go through lanes prepared by the same session: same credentials
    assert r.lanes(2)[1].headers["Authorization"] == "Basic YW5uOnB3LTk="
    r.close()
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")
    r = Remote("http://bob:pw-7@127.0.0.1:5000/")
    assert r.session.auth == ("bob", "pw-7") and r.url == "http://127.0.0.1:5000"


def _good(uri: str, run_id: str = "run1") -> dict:
    state = SyncState(remote=public_url(uri), local_run_id=run_id, mlflow_run_id="abc")
    state.progress("scalars", "w1").mark_done(4)
    return state.to_json()


URI = "http://127.0.0.1:5000"
GOOD = json.dumps(_good(URI)).encode()
UNTRUSTED = {
    "truncated": (GOOD[: len(GOOD) // 2], "not valid JSON"),
    "not JSON": (b"\x00\x01garbage", "not valid JSON"),
    "empty": (b"", "not valid JSON"),
    "a JSON list": (b"[1, 2]", "not a localtrack sync state"),
    "another format": (json.dumps({**_good(URI), "format": "x"}).encode(), "not a localtrack"),
    "a newer version": (json.dumps({**_good(URI), "version": 99}).encode(), "version 99"),
    "version 0": (json.dumps({**_good(URI), "version": 0}).encode(), "version 0"),
    "a version that is text": (json.dumps({**_good(URI), "version": "2"}).encode(), "version"),
    "another remote": (json.dumps(_good("http://elsewhere:5000")).encode(), "another remote"),
    "another run": (json.dumps(_good(URI, "other")).encode(), "another run"),
    "a malformed field": (
        json.dumps({**_good(URI), "streams": {"scalars": 3}}).encode(),
        "malformed",
    ),
}


@pytest.mark.parametrize("case", list(UNTRUSTED))
def test_an_untrusted_state_is_named_with_its_reason(case):
    raw, why = UNTRUSTED[case]
    found = parse_state(raw, URI, "run1")
    assert isinstance(found, str) and why in found, found


def test_a_good_state_of_either_known_version_is_trusted():
    assert isinstance(parse_state(GOOD, URI, "run1"), SyncState)
    v1 = json.dumps({**_good(URI), "version": 1}).encode()
    assert isinstance(parse_state(v1, URI, "run1"), SyncState)
    # the remote is compared without user info: credentials in the URI change nothing
    assert isinstance(parse_state(GOOD, "http://u:pw@127.0.0.1:5000/", "run1"), SyncState)


@pytest.mark.parametrize("case", list(UNTRUSTED))
def test_the_uploader_sets_an_untrusted_state_aside_and_starts_fresh(tmp_path, case):
    raw, why = UNTRUSTED[case]
    path = state_path(tmp_path, URI)
    path.parent.mkdir()
    path.write_bytes(raw)
    logged = []
    state = open_state(tmp_path, URI, "run1", log=lambda event, **f: logged.append((event, f)))
    assert state.mlflow_run_id is None and state.streams == {}
    assert not path.exists()
    (kept,) = broken_files(tmp_path, URI)
    assert kept.read_bytes() == raw  # nothing is lost: the file is kept as it was
    assert kept.name.startswith(path.name + ".broken-")
    assert [e for e, _ in logged] == ["state_set_aside"]
    assert logged[0][1]["level"] == "warning" and why in logged[0][1]["why"]
    assert [(a.file, a.why) for a in state.set_aside] == [(kept.name, logged[0][1]["why"])]
    save_state(tmp_path, URI, state)  # the record of it travels with the new state
    assert load_state(tmp_path, URI, "run1").set_aside == state.set_aside
    # read-only readers (sync --status, scripts) never move anything
    path.write_bytes(raw)
    assert load_state(tmp_path, URI, "run1").mlflow_run_id is None and path.exists()


def test_a_missing_or_good_state_is_not_set_aside(tmp_path):
    logged = []
    assert open_state(tmp_path, URI, "run1", log=lambda *a, **f: logged.append(a)).streams == {}
    path = state_path(tmp_path, URI)
    path.parent.mkdir()
    path.write_bytes(GOOD)
    assert open_state(tmp_path, URI, "run1", log=lambda *a, **f: logged.append(a)).mlflow_run_id
    assert logged == [] and broken_files(tmp_path, URI) == []


def test_a_state_is_never_saved_into_a_run_that_vanished(tmp_path):
    (tmp_path / "localtrack-run.json").unlink()
    with pytest.raises(FileNotFoundError, match="gone"):
        save_state(tmp_path, URI, SyncState(remote=URI, local_run_id="run1"))
    assert not (tmp_path / "sync").exists()


def test_broken_names_sort_by_time_and_never_collide():
    a, b = broken_name("x.json", 1764261745.000001), broken_name("x.json", 1764261745.000002)
    assert a != b and sorted([b, a]) == [a, b]
    assert a.startswith("x.json.broken-20251127T")
