"""The local development issuer: an RSA key pair kept in a git-ignored folder, used when no Auth0
tenant is configured and DEBUG is on.

It publishes its public key in Auth0's JWKS shape and mints tokens for `manage.py mint_token`.
The key store reads the JWKS from here directly (no HTTP round trip to the service itself), then
verifies tokens with exactly the same code as for Auth0.
"""

import base64
import datetime
import hashlib
import json
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from auth0_jwt.keystore import JWKSError

KEY_FILE_NAME = "signing-key.pem"
ALGORITHM = "RS256"
DEFAULT_SUBJECT = "auth0|local-dev"
DEFAULT_EXPIRES_IN = 3600


class LocalIssuerError(Exception):
    """The local issuer's key cannot be created or read; `str()` says why in one line."""


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


class LocalIssuer:
    """Creates, keeps and uses the development signing key."""

    def __init__(self, *, key_dir: Path, issuer: str, audience: str):
        self.key_dir = Path(key_dir)
        self.issuer = issuer
        self.audience = audience
        self._private_key = None
        self._certificate = None

    @classmethod
    def from_settings(cls, config) -> "LocalIssuer":
        return cls(
            key_dir=config.local_issuer_key_dir, issuer=config.issuer, audience=config.audience
        )

    @property
    def key_path(self) -> Path:
        return self.key_dir / KEY_FILE_NAME

    def _load(self):
        if self._private_key is None:
            pem = self._read_or_create_key_file()
            try:
                self._private_key = serialization.load_pem_private_key(pem, password=None)
                self._certificate = x509.load_pem_x509_certificate(pem)
            except ValueError:
                raise LocalIssuerError(
                    f"{self.key_path} is not a valid key file; delete it to create a new key."
                ) from None
        return self._private_key, self._certificate

    def _read_or_create_key_file(self) -> bytes:
        try:
            return self.key_path.read_bytes()
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise LocalIssuerError(f"Cannot read {self.key_path}: {exc.strerror}.") from None
        try:
            self.key_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            return self._create_key_file()
        except OSError as exc:
            raise LocalIssuerError(
                f"Cannot create the local issuer key in {self.key_dir}: {exc.strerror}."
            ) from None

    def _create_key_file(self) -> bytes:
        """Write a new key and certificate with owner-only permissions, atomically.

        Two processes starting at once both write a temporary file; the first `link` wins and the
        other process reads the winner's key.
        """
        pem = _new_key_and_certificate_pem()
        temporary = self.key_dir / f".{KEY_FILE_NAME}.{os.getpid()}.{uuid.uuid4().hex}"
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(pem)
            try:
                os.link(temporary, self.key_path)
            except FileExistsError:
                return self.key_path.read_bytes()
        finally:
            temporary.unlink(missing_ok=True)
        return pem

    @property
    def kid(self) -> str:
        """RFC 7638 thumbprint of the public key: stable across restarts, new with a new key."""
        return self.jwks()["keys"][0]["kid"]

    def jwks(self) -> dict:
        """The public key in Auth0's JWKS shape; raises JWKSError if the key cannot be loaded."""
        try:
            private_key, certificate = self._load()
        except LocalIssuerError as exc:
            raise JWKSError(str(exc)) from None
        numbers = private_key.public_key().public_numbers()
        n, e = _b64url_uint(numbers.n), _b64url_uint(numbers.e)
        thumbprint_input = json.dumps(
            {"e": e, "kty": "RSA", "n": n}, separators=(",", ":"), sort_keys=True
        )
        kid = (
            base64.urlsafe_b64encode(hashlib.sha256(thumbprint_input.encode()).digest())
            .rstrip(b"=")
            .decode()
        )
        x5c = base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "n": n,
                    "e": e,
                    "kid": kid,
                    "alg": ALGORITHM,
                    "x5c": [x5c],
                }
            ]
        }

    def mint(
        self,
        *,
        sub: str = DEFAULT_SUBJECT,
        scope: str | None = None,
        permissions: list[str] | None = None,
        expires_in: int = DEFAULT_EXPIRES_IN,
        audience: str | list[str] | None = None,
        extra_claims: dict | None = None,
        now: float | None = None,
    ) -> str:
        """Sign an access token the way Auth0 shapes them."""
        private_key, _ = self._load()
        issued_at = int(now if now is not None else time.time())
        claims = {
            "iss": self.issuer,
            "sub": sub,
            "aud": audience if audience is not None else self.audience,
            "iat": issued_at,
            "exp": issued_at + expires_in,
        }
        if scope is not None:
            claims["scope"] = scope
        if permissions is not None:
            claims["permissions"] = permissions
        claims.update(extra_claims or {})
        return jwt.encode(
            claims, private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"}
        )


def _new_key_and_certificate_pem() -> bytes:
    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "auth0-django-example local issuer")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .sign(private_key, hashes.SHA256())
    )
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + certificate.public_bytes(serialization.Encoding.PEM)
