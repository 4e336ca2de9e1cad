"""Mutual TLS on a TCP listener, with a CA and certificates made by openssl here."""

from __future__ import annotations

import http.client
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_daemon_listeners import free_port

pytestmark = pytest.mark.daemon

OPENSSL = shutil.which("openssl")


def _openssl(*args: str, cwd: Path) -> None:
    proc = subprocess.run([OPENSSL, *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"openssl {' '.join(args)}: {proc.stderr}"


def _signed(name: str, cn: str, ext: str, d: Path) -> None:
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{name}-key.pem", "-subj", f"/CN={cn}",
             "-out", f"{name}.csr", cwd=d)
    (d / f"{name}.ext").write_text(ext)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem", "-CAcreateserial",
             "-days", "2", "-sha256", "-extfile", f"{name}.ext", "-out", f"{name}.pem", cwd=d)


@pytest.fixture(scope="module")
def pki(tmp_path_factory) -> Path:
    """A CA, a server cert for 127.0.0.1, a client cert signed by the CA, and
    a client cert signed by another CA."""
    if OPENSSL is None:
        pytest.skip("openssl CLI is not installed (apt-get install openssl)")
    d = tmp_path_factory.mktemp("pki")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=barge test CA", cwd=d)
    _signed("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n", d)
    _signed("client", "client", "extendedKeyUsage=clientAuth\n", d)
    rogue = d / "rogue"
    rogue.mkdir()
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca-key.pem", "-out", "ca.pem",
             "-days", "2", "-subj", "/CN=rogue CA", cwd=rogue)
    _signed("client", "mallory", "extendedKeyUsage=clientAuth\n", rogue)
    return d


def _tls_args(pki: Path, verify: bool = True) -> list[str]:
    args = ["--tlscacert", str(pki / "ca.pem"), "--tlscert", str(pki / "server.pem"),
            "--tlskey", str(pki / "server-key.pem")]
    return (["--tlsverify"] if verify else []) + args


def _client_ctx(pki: Path, cert_dir: Path | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki / "ca.pem"))
    if cert_dir is not None:
        ctx.load_cert_chain(str(cert_dir / "client.pem"), str(cert_dir / "client-key.pem"))
    return ctx


def _get(port: int, ctx: ssl.SSLContext, path: str = "/_ping"):
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def tls_daemon(pki):
    from tests.conftest import DaemonFactory

    factory = DaemonFactory()
    port = free_port()
    try:
        d = factory(extra_hosts=[f"tcp://127.0.0.1:{port}"], extra_args=_tls_args(pki))
        yield d, port
    finally:
        factory.close()


def test_client_with_cert_is_served(tls_daemon, pki):
    d, port = tls_daemon
    assert _get(port, _client_ctx(pki, pki)) == (200, b"OK")
    status, body = _get(port, _client_ctx(pki, pki), "/v1.44/version")
    assert status == 200 and b'"ApiVersion"' in body


def test_client_without_cert_is_rejected(tls_daemon, pki):
    _, port = tls_daemon
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(port, _client_ctx(pki, None))


def test_client_cert_from_other_ca_is_rejected(tls_daemon, pki):
    _, port = tls_daemon
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _get(port, _client_ctx(pki, pki / "rogue"))


def test_plain_http_to_tls_port_gets_no_answer(tls_daemon):
    _, port = tls_daemon
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        with pytest.raises((http.client.HTTPException, ConnectionError)):
            conn.request("GET", "/_ping")
            conn.getresponse()
    finally:
        conn.close()


def test_mutual_tls_allows_non_loopback_address(pki, daemon_factory):
    """Mutual TLS lifts the loopback rule; bound to 0.0.0.0 but only reached over loopback."""
    port = free_port()
    daemon_factory(extra_hosts=[f"tcp://0.0.0.0:{port}"], extra_args=_tls_args(pki))
    assert _get(port, _client_ctx(pki, pki)) == (200, b"OK")


def test_tls_without_verify_on_non_loopback_is_refused(pki, daemon_factory):
    port = free_port()
    d = daemon_factory(extra_hosts=[f"tcp://0.0.0.0:{port}"], extra_args=_tls_args(pki, verify=False), wait=False)
    assert d.wait_exit() == 1
    assert "needs mutual TLS" in d.stderr_text()


def test_missing_key_file_is_refused(pki, daemon_factory, tmp_path):
    port = free_port()
    args = ["--tlsverify", "--tlscacert", str(pki / "ca.pem"), "--tlscert", str(pki / "server.pem"),
            "--tlskey", str(tmp_path / "missing.pem")]
    d = daemon_factory(extra_hosts=[f"tcp://127.0.0.1:{port}"], extra_args=args, wait=False)
    assert d.wait_exit() == 1
    assert "cannot load TLS files" in d.stderr_text()
