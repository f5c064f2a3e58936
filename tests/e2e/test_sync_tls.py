"""Sync over real HTTPS: a TLS-terminating proxy (made here, with a CA made here) in front of
the test MLflow server. MLflow's own variables decide what is trusted."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from localtrack_daemon.cli import main as cli
from localtrack_daemon.state import load_state
from mlflow import MlflowClient
from sync_store import Store, assert_synced

pytestmark = pytest.mark.mlflow


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_ca(cn):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(_name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def make_server_cert(ca_key, ca_cert):
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    return key, cert


def pem(cert):
    return cert.public_bytes(serialization.Encoding.PEM)


class TlsProxy:
    """Accepts TLS on loopback and pipes the plain bytes to `upstream` (host, port)."""

    def __init__(self, upstream, cert_file, key_file):
        self.upstream = upstream
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(cert_file, key_file)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"https://127.0.0.1:{self.port}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self._stop:
            try:
                raw, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw):
        try:
            client = self.ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError):
            raw.close()  # the client refused our certificate: what the wrong-CA test wants
            return
        server = socket.create_connection(self.upstream)
        threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()
        self._pipe(client, server)

    @staticmethod
    def _pipe(src, dst):
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def close(self):
        self._stop = True
        self.sock.close()


@pytest.fixture
def https(tmp_path, mlflow_server):
    """(proxy, path of the CA that signed its certificate, path of another CA)."""
    ca_key, ca_cert = make_ca("localtrack test CA")
    key, cert = make_server_cert(ca_key, ca_cert)
    _, other_ca = make_ca("some other CA")
    (tmp_path / "ca.pem").write_bytes(pem(ca_cert))
    (tmp_path / "other-ca.pem").write_bytes(pem(other_ca))
    (tmp_path / "server.pem").write_bytes(pem(cert))
    (tmp_path / "server.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    host, port = mlflow_server.url.split("//")[1].split(":")
    proxy = TlsProxy((host, int(port)), tmp_path / "server.pem", tmp_path / "server.key")
    yield proxy, tmp_path / "ca.pem", tmp_path / "other-ca.pem"
    proxy.close()


@pytest.fixture
def tls_env(monkeypatch):
    for var in (
        "MLFLOW_TRACKING_SERVER_CERT_PATH",
        "MLFLOW_TRACKING_INSECURE_TLS",
        "REQUESTS_CA_BUNDLE",
        "CURL_CA_BUNDLE",
    ):
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


def one_run(tmp_path, name):
    run = Store(tmp_path / "runs", project="tls", name=name)
    run.scalars([("loss", s, 1.0 / (s + 1)) for s in range(50)])
    run.finish()
    return run


def sync(run, url):
    root = str(run.dir.parent.parent)
    return cli(["sync", "--once", "--root", root, "--uri", url, "--grace", "0"])


def test_the_ca_in_mlflow_tracking_server_cert_path_makes_https_work(
    tmp_path, https, tls_env, mlflow_server
):
    proxy, ca, _ = https
    tls_env.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(ca))
    run = one_run(tmp_path, "trusted")
    assert sync(run, proxy.url) == 0
    assert_synced(MlflowClient(mlflow_server.url), run.dir, run.run_id)


def test_a_wrong_ca_needs_a_person_and_names_the_certificate_problem(
    tmp_path, https, tls_env, capsys
):
    proxy, _, other = https
    tls_env.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", str(other))
    run = one_run(tmp_path, "untrusted")
    assert sync(run, proxy.url) == 1
    problem = load_state(run.dir, proxy.url, run.run_id).problem
    assert problem is not None and problem.kind == "needs_person"
    assert "\n" not in problem.message
    assert f"TLS certificate of {proxy.url} is not trusted" in problem.message
    assert "unable to get local issuer certificate" in problem.message
    assert str(other) in problem.message
    status = cli(["sync", "--status", "--root", str(tmp_path / "runs"), "--uri", proxy.url])
    assert status == 1 and "is not trusted" in capsys.readouterr().out


def test_insecure_tls_works_and_warns_once(tmp_path, https, tls_env, mlflow_server, capsys):
    proxy, _, _ = https
    tls_env.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    runs = [one_run(tmp_path, f"insecure-{i}") for i in range(2)]
    capsys.readouterr()
    assert sync(runs[0], proxy.url) == 0
    client = MlflowClient(mlflow_server.url)
    for run in runs:
        assert_synced(client, run.dir, run.run_id)
    warned = [x for x in capsys.readouterr().err.splitlines() if "warning" in x]
    assert warned == [
        "sync: warning: MLFLOW_TRACKING_INSECURE_TLS=true: the server's TLS certificate is not "
        "checked, so anyone between here and the server can read and change what is sent"
    ]
