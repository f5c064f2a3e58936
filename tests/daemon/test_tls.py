import ssl

import requests
from localtrack_daemon import tls


def test_a_refused_certificate_is_named_and_anything_else_is_not():
    refused = ssl.SSLCertVerificationError(1, "certificate verify failed")
    refused.verify_message = "certificate has expired"
    wrapped = requests.exceptions.SSLError(refused)
    assert tls.certificate_problem(wrapped) == "certificate has expired"
    text = requests.exceptions.SSLError(
        "HTTPSConnectionPool: Max retries exceeded (Caused by SSLError(SSLCertVerificationError("
        "1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed "
        "certificate (_ssl.c:1006)')))"
    )
    assert tls.certificate_problem(text) == "self-signed certificate"
    assert tls.certificate_problem(ssl.SSLEOFError(8, "EOF occurred in violation")) is None
    assert tls.untrusted(ConnectionResetError(), "https://x") is None


def test_mlflow_tracking_insecure_tls_wins_then_the_cert_path(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", "/ca.pem")
    monkeypatch.delenv("MLFLOW_TRACKING_INSECURE_TLS", raising=False)
    assert tls.verify_setting() == "/ca.pem"
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "True")
    assert tls.insecure() and tls.verify_setting() is False
