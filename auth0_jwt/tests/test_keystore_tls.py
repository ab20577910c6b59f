"""HTTPS to the JWKS uses the system trust store the standard way, so SSL_CERT_FILE is honoured.

A certificate authority made in the test signs a certificate for 127.0.0.1; a real HTTPS server
on loopback serves the key set with it.
"""

import datetime
import ipaddress
import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from auth0_jwt.keystore import HTTPJWKSSource, JWKSError
from conftest import public_jwk


def _certificate(subject, issuer, public_key, signing_key, *, ca, san=None):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )  # fmt: skip
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A test CA file, and a server certificate and key for 127.0.0.1 signed by it."""
    folder = tmp_path_factory.mktemp("tls")
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = _certificate("test CA", "test CA", ca_key.public_key(), ca_key, ca=True)
    server = _certificate(
        "127.0.0.1", "test CA", server_key.public_key(), ca_key, ca=False,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
    )  # fmt: skip
    (folder / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return folder


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
