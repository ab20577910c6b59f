"""A throwaway certificate authority for tests that serve HTTPS on 127.0.0.1: the JWKS of a local
"tenant", custom domains, the outside-in projects. Clients trust it through `ca.pem` (for example
with SSL_CERT_FILE); nothing here is ever committed."""

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificate(subject, issuer, public_key, signing_key, *, ca, san=None) -> x509.Certificate:
    """A certificate valid from a minute ago for a day: a CA's, or a server's with `san`."""
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


def make_tls_files(folder: Path, ca_name: str = "test CA") -> Path:
    """A test CA (`ca.pem`) and a certificate for 127.0.0.1 it signed (`server.pem`,
    `server.key`), written into `folder`, which is returned."""
    ca_key, server_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    ca = certificate(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    server = certificate(
        "127.0.0.1", ca_name, server_key.public_key(), ca_key, ca=False,
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
