"""The dashboard over real HTTP, on stores written by the real writer."""

from __future__ import annotations

import csv
import http.client as httpclient
import io
import os
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import requests

import localtrack
from localtrack._ui.wire import decode_series

XSS = "<img src=x onerror=alert(1)>"
BIG = 20_000
SPIKE_AT = 12_345


def write_store(root: Path) -> None:
    w = localtrack.SummaryWriter(root / "exp" / "alpha")
    for step in range(50):
        w.add_scalar("Loss/train", 1.0 / (step + 1), step)
        w.add_scalar("Accuracy/val", step / 100, step)
    w.add_scalar("Loss/train", float("nan"), 50)
    w.add_scalar(XSS, 1.0, 0)
    w.add_histogram("weights", np.arange(10.0), 0)
    w.add_histogram("weights", np.arange(10.0), 1)
    w.add_text("notes", "hello", 0)
    w.close()
    big = localtrack.SummaryWriter(root / "exp" / "big")
    rng = np.random.default_rng(0)
    values = rng.normal(0, 1, BIG)
    values[SPIKE_AT] = 1e6
    for step, v in enumerate(values.tolist()):
        big.add_scalar("Loss/train", v, step)
    big.close()
    run = localtrack.init(
        project="wb", name="gamma", dir=root, config={"lr": 0.1, "opt": {"name": "adam"}}
    )
    for i in range(5):
        run.log({"reward": float(i)})
    run.summary["best"] = 0.93
    run.finish()


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("store")
    write_store(root)
    return root


@pytest.fixture(scope="module")
def server(root: Path) -> Iterator[localtrack.ui.Dashboard]:
    with localtrack.ui.serve(root, port=0) as handle:
        yield handle


@pytest.fixture
def http(server) -> requests.Session:
    s = requests.Session()
    s.headers["Authorization"] = f"token {server.token}"
    return s


def base(server) -> str:
    return f"http://127.0.0.1:{server.port}"


def runs_by_name(http, server) -> dict[str, dict]:
    return {r["name"]: r for r in http.get(base(server) + "/api/runs").json()["runs"]}


def series(http, server, **params) -> tuple[dict, list[dict]]:
    r = http.get(base(server) + "/api/series", params=params)
    assert r.status_code == 200, r.text
    assert r.headers["X-Localtrack-Format"] == "series-v1"
    assert r.headers["Content-Type"] == "application/octet-stream"
    return decode_series(r.content)


def test_url_has_the_token(server) -> None:
    assert server.url == f"http://127.0.0.1:{server.port}/?token={server.token}"
    assert len(server.token) == 48


def test_token_is_required_then_a_cookie(server) -> None:
    url = base(server)
    for path in ("/", "/api/runs", "/static/vendor/uplot/LICENSE"):
        r = requests.get(url + path)
        assert r.status_code == 401, path
    assert "printed" in requests.get(url + "/").text
    assert requests.get(url + "/api/runs").json()["error"]
    assert requests.get(url + "/?token=wrong", allow_redirects=False).status_code == 401

    s = requests.Session()
    r = s.get(server.url + "&view=run", allow_redirects=False)
    assert r.status_code == 302
    assert r.headers["Location"] == "/?view=run"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert s.get(url + "/").status_code == 200  # the cookie alone now
    assert s.get(url + "/api/runs").status_code == 200
    assert requests.get(url + "/api/runs", params={"token": server.token}).status_code == 200
    auth = {"Authorization": f"token {server.token}"}
    assert requests.get(url + "/api/runs", headers=auth).status_code == 200
    assert requests.get(url + "/favicon.ico").status_code in (200, 204)


def test_foreign_host_header_is_refused(server, http) -> None:
    for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.nip.io"):
        r = http.get(base(server) + "/api/runs", headers={"Host": host})
        assert r.status_code == 403
    assert http.get(f"http://localhost:{server.port}/api/runs").status_code == 200


def raw_get(server, path: str) -> tuple[int, bytes]:
    conn = httpclient.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", f"127.0.0.1:{server.port}")
    conn.putheader("Authorization", f"token {server.token}")
    conn.endheaders()
    r = conn.getresponse()
    body = r.read()
    conn.close()
    return r.status, body


TRAVERSALS = [
    "/static/../../etc/passwd",
    "/static/../ui.py",
    "/static/../../../pyproject.toml",
    "/static/%2e%2e/%2e%2e/etc/passwd",
    "/static/%2E%2E/server.py",
    "/static/..%2f..%2fetc%2fpasswd",
    "/static/vendor/../../server.py",
    "//etc/passwd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/etc/passwd",
    "/static/..\\..\\server.py",
    "/static/vendor%5c..%5c..%5cserver.py",
    "/static/vendor/uplot/LICENSE%00.js",
    "/static/%00",
    "/api/../static/../server.py",
    "/static/" + str(Path(localtrack.__file__).resolve()),
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_path_traversal_finds_nothing(server, path: str) -> None:
    status, body = raw_get(server, path)
    assert status == 404, (path, body[:100])
    assert b"root:" not in body and b"import" not in body and b"[project]" not in body


def test_static_files_gzip_etag_and_304(server, http) -> None:
    url = base(server) + "/static/vendor/uplot/uPlot.esm.js"
    r = http.get(url, headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert r.headers["Cache-Control"] == "no-cache" and "uPlot" in r.text
    etag = r.headers["ETag"]
    again = http.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    plain = http.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.headers["ETag"] != etag
    assert plain.text == r.text


def test_every_answer_has_the_security_headers(server, http) -> None:
    for path in ("/", "/api/runs", "/api/nosuch", "/static/nosuch.js"):
        r = http.get(base(server) + path)
        assert r.headers["X-Content-Type-Options"] == "nosniff", path
        assert r.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert (
        "default-src 'self'" in requests.get(base(server) + "/").headers["Content-Security-Policy"]
    )


def test_runs_lists_every_run_with_an_etag(server, http) -> None:
    r = http.get(base(server) + "/api/runs")
    body = r.json()
    assert body["root"] == str(server.root) and body["generation"] >= 1
    by_name = {run["name"]: run for run in body["runs"]}
    assert set(by_name) == {"alpha", "big", "gamma"}
    alpha = by_name["alpha"]
    assert alpha["status"] == "finished" and alpha["project"] == "exp"
    assert alpha["last_step"] == 50 and alpha["path"] == "exp/alpha"
    assert alpha["api"] == "tensorboard" and by_name["gamma"]["api"] == "wandb"
    assert isinstance(alpha["started_at"], float) and alpha["duration_s"] >= 0
    assert (
        http.get(
            base(server) + "/api/runs", headers={"If-None-Match": r.headers["ETag"]}
        ).status_code
        == 304
    )


def test_tags_of_some_runs(server, http) -> None:
    runs = runs_by_name(http, server)
    alpha, big = runs["alpha"]["run_id"], runs["big"]["run_id"]
    tags = http.get(base(server) + "/api/tags", params={"runs": alpha}).json()["tags"]
    assert [t["tag"] for t in tags] == sorted(["Loss/train", "Accuracy/val", XSS])
    loss = next(t for t in tags if t["tag"] == "Loss/train")
    assert loss == {"tag": "Loss/train", "runs": [alpha], "points": 51}
    both = http.get(base(server) + "/api/tags", params={"runs": f"{alpha},{big}"}).json()["tags"]
    loss = next(t for t in both if t["tag"] == "Loss/train")
    assert loss["runs"] == sorted([alpha, big]) and loss["points"] == 51 + BIG
    every = http.get(base(server) + "/api/tags").json()["tags"]
    assert "reward" in [t["tag"] for t in every]


def test_small_series_come_back_as_logged(server, http) -> None:
    alpha = runs_by_name(http, server)["alpha"]["run_id"]
    head, (cols,) = series(http, server, tag="Loss/train", runs=alpha, width=800)
    s = head["series"][0]
    assert head["tag"] == "Loss/train" and head["x"] == "step" and head["width"] == 800
    assert s["run_id"] == alpha and s["points"] == 51 and not s["reduced"]
    assert np.array_equal(cols["x"], np.arange(50))
    assert np.array_equal(cols["y"], 1.0 / (np.arange(50) + 1))
    assert list(cols["nonfinite_x"]) == [50] and np.isnan(cols["nonfinite_y"][0])
    assert s["last_x"] == 50 and head["xmin"] == 0 and head["xmax"] == 50


def test_large_series_is_reduced_and_keeps_the_spike(server, http) -> None:
    big = runs_by_name(http, server)["big"]["run_id"]
    head, (cols,) = series(http, server, tag="Loss/train", runs=big, width=200)
    s = head["series"][0]
    assert s["reduced"] and s["points"] == BIG and s["count"] <= 4 * 200
    assert s["band_count"] == 200
    i = int(np.argmax(cols["y"]))
    assert cols["y"][i] == 1e6 and cols["x"][i] == SPIKE_AT
    assert cols["band_max"].max() == 1e6
    # a zoom asks again at full resolution for that range
    head, (cols,) = series(
        http, server, tag="Loss/train", runs=big, width=200, xmin=12_300, xmax=12_400
    )
    assert not head["series"][0]["reduced"] and np.array_equal(cols["x"], np.arange(12_300, 12_401))


def test_after_returns_only_newer_points(server, http) -> None:
    runs = runs_by_name(http, server)
    alpha, big = runs["alpha"]["run_id"], runs["big"]["run_id"]
    _head, (a, b) = series(
        http, server, tag="Loss/train", runs=f"{alpha},{big}", after=f"{alpha}:45,{big}:19990"
    )
    assert list(a["x"]) == [46, 47, 48, 49] and list(a["nonfinite_x"]) == [50]
    assert list(b["x"]) == list(range(19_991, 20_000))


@pytest.mark.parametrize("x", ["wall", "relative"])
def test_time_axes(server, http, x: str) -> None:
    alpha = runs_by_name(http, server)["alpha"]["run_id"]
    head, (cols,) = series(http, server, tag="Accuracy/val", runs=alpha, x=x)
    first = head["series"][0]["first_wall"]
    assert first > 1.7e9 and np.all(np.diff(cols["x"]) >= 0)
    if x == "wall":
        assert cols["x"][0] == pytest.approx(first)
    else:
        assert cols["x"][0] == 0


def test_downloads_return_every_row(server, http) -> None:
    runs = runs_by_name(http, server)
    alpha, big = runs["alpha"]["run_id"], runs["big"]["run_id"]
    params = {"tag": "Loss/train", "runs": f"{big},{alpha}"}
    r = http.get(base(server) + "/api/series.csv", params=params)
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert len(rows) == 51 + BIG
    assert list(rows[0]) == ["run_id", "run_name", "tag", "step", "wall_time", "value"]
    mine = [row for row in rows if row["run_id"] == alpha]
    assert [int(row["step"]) for row in mine] == list(range(51))
    assert mine[-1]["value"] == "nan" and float(mine[1]["value"]) == 0.5
    assert mine[0]["run_name"] == "alpha" and mine[0]["wall_time"].endswith("Z")
    assert "T" in mine[0]["wall_time"]
    spike = [row for row in rows if row["run_id"] == big and row["step"] == str(SPIKE_AT)]
    assert float(spike[0]["value"]) == 1e6

    r = http.get(base(server) + "/api/series.parquet", params=params)
    assert r.status_code == 200
    table = pq.read_table(io.BytesIO(r.content))
    assert table.num_rows == 51 + BIG
    assert table.column_names == ["run_id", "run_name", "tag", "step", "wall_time", "value"]
    values = table.filter(table.column("run_id").to_numpy() == big).column("value").to_numpy()
    assert values.max() == 1e6


def test_run_page(server, http) -> None:
    gamma = runs_by_name(http, server)["gamma"]["run_id"]
    body = http.get(base(server) + "/api/run", params={"id": gamma}).json()
    run = body["run"]
    assert run["run_id"] == gamma and run["project"] == "wb" and run["name"] == "gamma"
    assert run["status"] == "finished" and run["exit_code"] in (0, None)
    assert run["api"] == "wandb" and run["path"] == f"wb/{gamma}"
    assert isinstance(run["metadata"], dict) and "argv" in run["metadata"]
    config = {c["key"]: c["value"] for c in body["config"]}
    assert config["lr"] == 0.1 and config["opt/name"] == "adam"
    assert {s["key"]: s["value"] for s in body["summary"]}["best"] == 0.93
    (reward,) = [s for s in body["scalars"] if s["tag"] == "reward"]
    assert reward["points"] == 5 and reward["last"] == 4.0 and reward["min"] == 0.0
    assert reward["max"] == 4.0 and reward["last_step"] == 4
    alpha = runs_by_name(http, server)["alpha"]["run_id"]
    body = http.get(base(server) + "/api/run", params={"id": alpha}).json()
    loss = next(s for s in body["scalars"] if s["tag"] == "Loss/train")
    assert loss["last"] == "NaN"  # non-finite floats travel as strings
    streams = {s["stream"]: (s["rows"], s["tags"]) for s in body["streams"]}
    assert streams == {"histograms": (2, 1), "texts": (1, 1)}
    assert body["run"]["status"] == "finished" and body["run"]["writers"] == 1


def test_bad_requests_answer_json_errors(server, http) -> None:
    url = base(server)
    cases = [
        ("/api/series", {"runs": "a"}, 400),
        ("/api/series", {"tag": "x", "x": "epoch"}, 400),
        ("/api/series", {"tag": "x", "width": "wide"}, 400),
        ("/api/series", {"tag": "x", "xmin": "nan"}, 400),
        ("/api/series", {"tag": "x", "runs": "../etc"}, 400),
        ("/api/series", {"tag": "x", "after": "nocolon"}, 400),
        ("/api/run", {"id": "nosuchrun"}, 404),
        ("/api/run", {"id": "a b"}, 400),
        ("/api/live", {"since": "x"}, 400),
        ("/api/nosuch", {}, 404),
    ]
    for path, params, status in cases:
        r = http.get(url + path, params=params)
        assert r.status_code == status, (path, params, r.text)
        assert r.headers["Content-Type"] == "application/json; charset=utf-8"
        assert r.json()["error"]


def tree(root: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()
    }


def test_live_reports_a_run_that_got_new_points(tmp_path: Path) -> None:
    writer = localtrack.SummaryWriter(tmp_path / "live" / "run", flush_secs=0.1)
    writer.add_scalar("loss", 1.0, 0)
    writer.flush()
    other = localtrack.SummaryWriter(tmp_path / "live" / "other")
    other.add_scalar("loss", 1.0, 0)
    other.close()
    with localtrack.ui.serve(tmp_path, port=0, token=None) as handle:
        url = f"http://127.0.0.1:{handle.port}"
        runs = {r["name"]: r for r in requests.get(url + "/api/runs").json()["runs"]}
        live_id, other_id = runs["run"]["run_id"], runs["other"]["run_id"]
        assert runs["run"]["status"] == "running"
        first = requests.get(url + "/api/live", params={"since": 0}).json()
        assert not first["reset"] and live_id in first["changed"]
        g = first["generation"]
        before = tree(tmp_path)
        writer.add_scalar("loss", 0.5, 1)
        writer.add_scalar("new/tag", 2.0, 1)
        writer.flush()
        deadline = time.monotonic() + 30
        while True:
            answer = requests.get(url + "/api/live", params={"since": g}).json()
            if answer["changed"] or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer["changed"] == [live_id] and answer["generation"] > g
        assert other_id not in answer["changed"]
        _head, (cols,) = decode_series(
            requests.get(
                url + "/api/series",
                params={"tag": "loss", "runs": live_id, "after": f"{live_id}:0"},
            ).content
        )
        assert list(cols["x"]) == [1] and list(cols["y"]) == [0.5]
        tags = requests.get(url + "/api/tags", params={"runs": live_id}).json()["tags"]
        assert "new/tag" in [t["tag"] for t in tags]
        writer.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            answer = requests.get(url + "/api/live", params={"since": g}).json()
            if answer["runs_changed"]:
                break
            time.sleep(0.05)
        assert answer["runs_changed"]
        status = {r["name"]: r["status"] for r in requests.get(url + "/api/runs").json()["runs"]}
        assert status["run"] == "finished"
        assert requests.get(url + "/api/live", params={"since": 10**9}).json()["reset"]
        # the server wrote nothing into the root (only the writer did)
        after = tree(tmp_path)
        written_by_server = {p for p in set(after) - set(before) if "/live/run/" not in p}
        assert not written_by_server


def test_server_writes_nothing_into_the_root(root: Path, server, http) -> None:
    before = tree(root)
    runs = runs_by_name(http, server)
    for run in runs.values():
        http.get(base(server) + "/api/run", params={"id": run["run_id"]})
        http.get(
            base(server) + "/api/series.parquet",
            params={"tag": "Loss/train", "runs": run["run_id"]},
        )
    assert tree(root) == before
    assert not any(name.endswith(".tmp") for name in os.listdir(root))


def test_port_in_use_raises(server) -> None:
    with pytest.raises(OSError):
        localtrack.ui.serve(server.root, port=server.port)


def test_stop_closes_the_port(tmp_path: Path) -> None:
    handle = localtrack.ui.serve(tmp_path, port=0)
    port = handle.port
    s = requests.Session()
    assert s.get(handle.url).status_code == 200  # empty root: still a page
    assert s.get(f"http://127.0.0.1:{port}/api/runs").json()["runs"] == []
    handle.stop()
    handle.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/api/runs", timeout=5)


def test_long_downloads_are_sorted_in_step_ranges(server, http, monkeypatch) -> None:
    from localtrack._ui import downloads

    monkeypatch.setattr(downloads, "SORT_ROWS", 777)
    big = runs_by_name(http, server)["big"]["run_id"]
    r = http.get(base(server) + "/api/series.parquet", params={"tag": "Loss/train", "runs": big})
    steps = pq.read_table(io.BytesIO(r.content)).column("step").to_pylist()
    assert steps == list(range(BIG))
