"""TLS as MLflow's client configures it, and a certificate that cannot be trusted as *needs a person*.

`MLFLOW_TRACKING_INSECURE_TLS=true` turns verification off (the daemon logs `tls_insecure`
once, as a warning); `MLFLOW_TRACKING_SERVER_CERT_PATH` names the CA bundle (PEM) to trust;
then `REQUESTS_CA_BUNDLE`/`CURL_CA_BUNDLE`, then the system's store (mlflow.utils.rest_utils
reads the same two variables; setting both is an error there, and here the insecure one wins).
A handshake that fails because the server's certificate is not trusted (unknown CA, expired,
wrong host name) never heals by itself: it is `NeedsPerson` with a one-line reason naming the
certificate problem; any other TLS failure (a reset mid-handshake) is retried.
"""

from __future__ import annotations

import os
import re
import ssl
import warnings

import urllib3

from localtrack._errors import NeedsPerson

INSECURE_VAR = "MLFLOW_TRACKING_INSECURE_TLS"
CERT_VAR = "MLFLOW_TRACKING_SERVER_CERT_PATH"
INSECURE_WARNING = (
    f"{INSECURE_VAR}=true: the server's TLS certificate is not checked, so anyone between "
    "here and the server can read and change what is sent"
)
_VERIFY_FAILED = re.compile(r"certificate verify failed: ([^()'\"]+?)\s*(?:\(|'|\"|$)")


def insecure() -> bool:
    """True when the user asked MLflow's way not to verify the server's certificate."""
    return os.environ.get(INSECURE_VAR, "").strip().lower() in ("true", "1")


def verify_setting() -> bool | str:
    """What `requests` gets as `verify`: False, a CA bundle path, or True (system store)."""
    if insecure():
        # The daemon says so once in its log; urllib3 would warn on every request.
        warnings.filterwarnings("ignore", category=urllib3.exceptions.InsecureRequestWarning)
        return False
    for var in (CERT_VAR, "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if os.environ.get(var):
            return os.environ[var]
    return True


def _chain(e: BaseException) -> list[BaseException]:
    """`e`, its causes and contexts, and exceptions held in their args (urllib3 nests them)."""
    seen: list[BaseException] = []
    todo = [e]
    while todo:
        x = todo.pop()
        if any(x is s for s in seen):
            continue
        seen.append(x)
        todo += [a for a in x.args if isinstance(a, BaseException)]
        linked = (x.__cause__, x.__context__, getattr(x, "reason", None))
        todo += [c for c in linked if isinstance(c, BaseException)]
    return seen


def certificate_problem(e: BaseException) -> str | None:
    """Why the server's certificate was refused, or None when `e` is no such refusal (pure)."""
    for x in _chain(e):
        if isinstance(x, ssl.SSLCertVerificationError):
            return x.verify_message or str(x)
    found = _VERIFY_FAILED.search(" ".join(str(x) for x in _chain(e)))
    return found.group(1).strip() if found else None


def untrusted(e: BaseException, url: str) -> NeedsPerson | None:
    """The needs-a-person error for a refused certificate of `url`, else None."""
    why = certificate_problem(e)
    if why is None:
        return None
    via = os.environ.get(CERT_VAR)
    trusted = f"the CA in {CERT_VAR}={via}" if via else "the system's CA store"
    return NeedsPerson(
        f"TLS certificate of {url} is not trusted by {trusted}: {why} (set {CERT_VAR} to "
        f"the PEM file of the CA that signed it, or {INSECURE_VAR}=true to skip the check)"
    )
