"""The MLflow tracking server over REST, with every failure classed as retry-later or needs-person.

`RetryLater`: connection refused or reset, timeout, 5xx, 429, 408, a reply that is not JSON.
`NeedsPerson`: 401/403 (credentials, permission), a param whose value changed, any other 4xx
(a value or key the server rejects). A 4xx that a race between two uploaders explains (the
database's unique constraint hit by two inserts of the same row) is `RetryLater`: the retry
finds the row there. Messages never carry credentials.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from localtrack._errors import NeedsPerson, RetryLater, SyncError

from . import tls
from .aimd import FixedLimit, is_overload
from .lane import WHAT as LOG_BATCH
from .lane import Lane
from .state import public_url

API = "/api/2.0/mlflow"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
_RETRY_STATUSES = frozenset({408, 425, 429})
RACE_MARKS = (
    "IntegrityError",  # SQLAlchemy's name, in MLflow's message
    "UNIQUE constraint failed",  # sqlite
    "duplicate key value violates unique constraint",  # PostgreSQL
    "Duplicate entry",  # MySQL
)
"""What a server says when two inserts of the same row raced (the second one lost)."""


@dataclass(frozen=True)
class Credentials:
    """How to authenticate: basic auth, a bearer token, or nothing. Read from the environment."""

    username: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def from_env(cls, uri: str) -> Credentials:
        parts = urlsplit(uri)
        return cls(
            username=os.environ.get("MLFLOW_TRACKING_USERNAME") or parts.username,
            password=os.environ.get("MLFLOW_TRACKING_PASSWORD") or parts.password,
            token=os.environ.get("MLFLOW_TRACKING_TOKEN"),
        )


def classify(status: int, body: str, what: str) -> SyncError:
    """The exception for a non-200 reply: retry later or needs a person."""
    detail = _reply_message(body)
    if status >= 500 or status in _RETRY_STATUSES or any(m in body for m in RACE_MARKS):
        return RetryLater(f"{what}: server answered {status} {detail}", status=status)
    if status in (401, 403):
        return NeedsPerson(
            f"{what}: server answered {status} ({'unauthenticated' if status == 401 else 'forbidden'}): "
            "check MLFLOW_TRACKING_USERNAME/PASSWORD or TOKEN and the user's permissions",
            status=status,
        )
    return NeedsPerson(f"{what}: server rejected the request with {status} {detail}", status=status)


def _reply_message(body: str) -> str:
    try:
        data = json.loads(body)
    except ValueError:
        return body.strip()[:200]
    if isinstance(data, dict):
        return f"{data.get('error_code', '')}: {str(data.get('message', ''))[:300]}"
    return str(data)[:200]


def error_code(exc: SyncError) -> str:
    """The MLflow error code named in an exception's message ('' when none)."""
    text = str(exc)
    for code in ("RESOURCE_ALREADY_EXISTS", "RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
        if code in text:
            return code
    return ""


def is_race(exc: SyncError) -> bool:
    """True when the failure is one a concurrent insert of the same row explains."""
    text = str(exc)
    return error_code(exc) == "RESOURCE_ALREADY_EXISTS" or any(m in text for m in RACE_MARKS)


def acknowledge(status: int, text: str) -> None:
    """Check a log-batch reply: a 200 with a JSON object, or raise as `classify` says."""
    if status != 200:
        raise classify(status, text, LOG_BATCH)
    json_object(text, LOG_BATCH)  # a proxy's 200 login page is no acknowledgement


def json_object(text: str, what: str) -> dict[str, Any]:
    """A 200 reply's JSON object; anything else is retried rather than taken as an answer."""
    try:
        data = json.loads(text)
    except ValueError:
        raise RetryLater(f"{what}: reply is not JSON") from None
    if not isinstance(data, dict):
        raise RetryLater(f"{what}: reply is not a JSON object")
    return data


class Remote:
    """One tracking server: a requests session plus the endpoints the uploader uses."""

    def __init__(
        self,
        uri: str,
        *,
        credentials: Credentials | None = None,
        timeout: float = 30.0,
        slots: FixedLimit | None = None,
    ) -> None:
        """`slots`: shared by every Remote of a daemon, one per log-batch request in flight;
        its Retry-After pause holds every other request too."""
        self.uri = uri
        self.url = public_url(uri)
        self.timeout = (min(timeout, 10.0), timeout)
        self.session = requests.Session()
        # Proxies and CA bundle are read from the environment once, not on every request.
        self.session.proxies = requests.utils.get_environ_proxies(self.url)
        self.session.verify = tls.verify_setting()
        self.session.trust_env = False
        self.session.headers["Content-Type"] = "application/json"
        creds = credentials if credentials is not None else Credentials.from_env(uri)
        self.credentials = creds
        self._lanes: list[Lane] = []
        self._slots = slots
        if creds.token:
            self.session.headers["Authorization"] = f"Bearer {creds.token}"
        elif creds.username is not None and creds.password is not None:
            self.session.auth = (creds.username, creds.password)

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()
        self.session.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        body: str | bytes | None = None,
        what: str = "",
        headers: dict[str, str] | None = None,
    ) -> requests.Response:
        """Send one request; return the 200 reply or raise RetryLater / NeedsPerson."""
        what = what or path
        if isinstance(body, str):
            body = body.encode("utf-8")
        request = requests.Request(method, self.url + path, data=body, headers=headers)
        prepared = self.session.prepare_request(request)
        if self._slots is not None:
            self._slots.wait_unpaused()  # the server asked for a pause (Retry-After)
        try:
            reply = self.session.send(prepared, timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as e:
            raise RetryLater(f"{what}: timed out ({type(e).__name__})") from None
        except requests.RequestException as e:
            refused = tls.untrusted(e, self.url)
            if refused is not None:
                raise refused from None
            raise RetryLater(f"{what}: cannot reach {self.url} ({type(e).__name__})") from None
        if reply.status_code != 200:
            if self._slots is not None and is_overload(reply.status_code):
                self._slots.pause(reply.headers.get("Retry-After"))
            raise classify(reply.status_code, reply.text, what)
        return reply

    def call(self, method: str, endpoint: str, body: str | None = None) -> dict[str, Any]:
        """A JSON endpoint under /api/2.0/mlflow; its JSON reply (a non-JSON 200 is retried)."""
        reply = self.request(method, f"{API}/{endpoint}", body=body, what=endpoint)
        return json_object(reply.text, endpoint)

    # -- experiments and runs -------------------------------------------------------------

    def experiment_id(self, name: str) -> str:
        """The id of the experiment called `name`, created when missing."""
        try:
            data = self.call("GET", f"experiments/get-by-name?experiment_name={quote(name)}")
            exp = data["experiment"]
            if exp.get("lifecycle_stage") == "deleted":
                raise NeedsPerson(
                    f"experiment {name!r} is deleted on {self.url}: restore it or rename the project"
                )
            return str(exp["experiment_id"])
        except NeedsPerson as e:
            if error_code(e) != "RESOURCE_DOES_NOT_EXIST":
                raise
        try:
            data = self.call("POST", "experiments/create", json.dumps({"name": name}))
            return str(data["experiment_id"])
        except SyncError as e:
            if not is_race(e):  # another syncer created it first: read it
                raise
        data = self.call("GET", f"experiments/get-by-name?experiment_name={quote(name)}")
        return str(data["experiment"]["experiment_id"])

    def runs_tagged(self, experiment_id: str, tag: str, value: str) -> list[dict[str, Any]]:
        """Every run of this experiment, deleted ones too, whose tag `tag` equals `value`."""
        escaped = value.replace("\\", "\\\\").replace("'", "\\'")
        body: dict[str, Any] = {
            "experiment_ids": [experiment_id],
            "filter": f"tags.`{tag}` = '{escaped}'",
            "run_view_type": "ALL",
            "max_results": 1000,
        }
        runs: list[dict[str, Any]] = []
        while True:
            page = self.call("POST", "runs/search", json.dumps(body))
            runs += page.get("runs", [])
            if not page.get("next_page_token"):
                return runs
            body["page_token"] = page["next_page_token"]

    def run_params(self, run_id: str) -> dict[str, str]:
        """The params the server holds for a run."""
        data = self.call("GET", f"runs/get?run_id={quote(run_id)}")
        params = data.get("run", {}).get("data", {}).get("params", [])
        return {str(p["key"]): str(p.get("value", "")) for p in params}

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (MLflow keeps it restorable until `mlflow gc`)."""
        self.call("POST", "runs/delete", json.dumps({"run_id": run_id}))

    def create_run(
        self, experiment_id: str, name: str, start_ms: int, tags: list[tuple[str, str]]
    ) -> dict[str, Any]:
        body = {
            "experiment_id": experiment_id,
            "run_name": name,
            "start_time": start_ms,
            "tags": [{"key": k, "value": v} for k, v in tags],
        }
        run: dict[str, Any] = self.call("POST", "runs/create", json.dumps(body))["run"]
        return run

    def update_run(self, run_id: str, status: str, end_ms: int | None) -> None:
        body: dict[str, Any] = {"run_id": run_id, "status": status}
        if end_ms is not None:
            body["end_time"] = end_ms
        self.call("POST", "runs/update", json.dumps(body))

    def lanes(self, n: int) -> list[Lane]:
        """`n` connections to runs/log-batch, kept for the session's life (see lane.py)."""
        while len(self._lanes) < n:
            url = f"{self.url}{API}/{LOG_BATCH}"
            self._lanes.append(Lane(self.session, url, self.timeout, self._slots))
        return self._lanes[:n]

    def log_batch(self, body: str) -> None:
        """POST one runs/log-batch body; return once the server acknowledged it."""
        lane = self.lanes(1)[0]
        lane.send(body.encode("utf-8"))
        acknowledge(*lane.receive())

    def put_artifact(self, artifact_uri: str, relpath: str, data: bytes) -> None:
        """Upload one file under the run's artifacts (needs a server that proxies artifacts)."""
        prefix = "mlflow-artifacts:"
        if not artifact_uri.startswith(prefix):
            raise NeedsPerson(
                f"artifacts of this run live at {artifact_uri}, which localtrack cannot write: "
                "start the server with --serve-artifacts"
            )
        if ".." in relpath.split("/"):
            raise ValueError(f"artifact path {relpath!r} must not contain '..'")
        location = artifact_uri[len(prefix) :].lstrip("/")
        path = f"{ARTIFACTS_API}/{quote(location)}/{quote(relpath)}"
        self.request(
            "PUT",
            path,
            body=data,
            what=f"artifact {relpath}",
            headers={"Content-Type": "application/octet-stream"},
        )
