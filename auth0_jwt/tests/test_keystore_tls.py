"""HTTPS to the JWKS uses the system trust store the standard way, so SSL_CERT_FILE is honoured.

A certificate authority made in the test signs a certificate for 127.0.0.1; a real HTTPS server
on loopback serves the key set with it.
"""

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from auth0_jwt.keystore import HTTPJWKSSource, JWKSError
from auth0_jwt.tests.tls import make_tls_files
from conftest import public_jwk


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A test CA file, and a server certificate and key for 127.0.0.1 signed by it."""
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def https_jwks_url(tls_files, rsa_key):
    body = json.dumps({"keys": [public_jwk(rsa_key)]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_files / "server.pem", tls_files / "server.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}/.well-known/jwks.json"
    server.shutdown()
    server.server_close()


def test_https_jwks_is_trusted_through_ssl_cert_file(
    monkeypatch, tls_files, https_jwks_url, rsa_key
):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files / "ca.pem"))
    assert HTTPJWKSSource(https_jwks_url, timeout=2)() == {"keys": [public_jwk(rsa_key)]}


def test_https_jwks_from_an_untrusted_authority_is_refused(monkeypatch, tmp_path, https_jwks_url):
    empty_store = tmp_path / "empty.pem"
    empty_store.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty_store))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    with pytest.raises(JWKSError) as excinfo:
        HTTPJWKSSource(https_jwks_url, timeout=2)()
    assert str(excinfo.value) == (
        "TLS certificate verification failed (unable to get local issuer certificate)"
    )
