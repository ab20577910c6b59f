"""The local development issuer: an RSA key pair kept in a git-ignored folder, used when no Auth0
tenant is configured and DEBUG is on.

It publishes its public key in Auth0's JWKS shape and mints tokens for `manage.py mint_token`.
The key store reads the JWKS from here directly (no HTTP round trip to the service itself), then
verifies tokens with exactly the same code as for Auth0.

It also plays the DPoP client for development (RFC 9449): `load_or_create_dpop_key` keeps a P-256
key in a file, `mint --dpop-key` binds a token to it (`cnf.jkt`) and `create_dpop_proof` signs the
proof `manage.py dpop_proof` prints.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from auth0_jwt.dpop import PROOF_TYPE, access_token_hash, jwk_thumbprint
from auth0_jwt.jws import b64url
from auth0_jwt.keystore import JWKSError

if TYPE_CHECKING:
    from auth0_jwt.conf import Auth0Settings

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
        self._private_key: rsa.RSAPrivateKey | None = None
        self._certificate: x509.Certificate | None = None

    @classmethod
    def from_settings(cls, config: Auth0Settings) -> LocalIssuer:
        return cls(
            key_dir=config.local_issuer_key_dir, issuer=config.issuer, audience=config.audience
        )

    @property
    def key_path(self) -> Path:
        return self.key_dir / KEY_FILE_NAME

    def _load(self) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
        if self._private_key is None or self._certificate is None:
            pem = self._read_or_create_key_file()
            try:
                private_key = serialization.load_pem_private_key(pem, password=None)
                certificate = x509.load_pem_x509_certificate(pem)
            except ValueError:
                private_key = None
            if not isinstance(private_key, rsa.RSAPrivateKey):
                raise LocalIssuerError(
                    f"{self.key_path} is not a valid key file; delete it to create a new key."
                )
            self._private_key, self._certificate = private_key, certificate
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
            return _write_new_private_file(self.key_path, _new_key_and_certificate_pem())
        except OSError as exc:
            raise LocalIssuerError(
                f"Cannot create the local issuer key in {self.key_dir}: {exc.strerror}."
            ) from None

    @property
    def kid(self) -> str:
        """RFC 7638 thumbprint of the public key: stable across restarts, new with a new key."""
        kid: str = self.jwks()["keys"][0]["kid"]
        return kid

    def jwks(self) -> dict[str, Any]:
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
        extra_claims: dict[str, Any] | None = None,
        now: float | None = None,
        dpop_key: ec.EllipticCurvePrivateKey | None = None,
        issuer: str | None = None,
        org_id: str | None = None,
        org_name: str | None = None,
    ) -> str:
        """Sign an access token the way Auth0 shapes them; bound to `dpop_key` when given. `issuer`
        replaces the configured one (another custom domain of the tenant); `org_id` and
        `org_name` make it an Auth0 Organization's token."""
        private_key, _ = self._load()
        issued_at = int(now if now is not None else time.time())
        claims: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "sub": sub,
            "aud": audience if audience is not None else self.audience,
            "iat": issued_at,
            "exp": issued_at + expires_in,
        }
        if scope is not None:
            claims["scope"] = scope
        if permissions is not None:
            claims["permissions"] = permissions
        if org_id is not None:
            claims["org_id"] = org_id
        if org_name is not None:
            claims["org_name"] = org_name
        claims.update(extra_claims or {})
        if dpop_key is not None:
            claims["cnf"] = {"jkt": jwk_thumbprint(dpop_public_jwk(dpop_key))}
        return jwt.encode(
            claims, private_key, algorithm=ALGORITHM, headers={"kid": self.kid, "typ": "JWT"}
        )


def _write_new_private_file(path: Path, data: bytes) -> bytes:
    """Write `data` to `path` with owner-only permissions, atomically; return what `path` holds.

    Two processes starting at once both write a temporary file; the first `link` wins and the
    other process reads the winner's file.
    """
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_bytes()
    finally:
        temporary.unlink(missing_ok=True)
    return data


# --- DPoP: the development client's key and proofs ------------------------------------------------


def load_or_create_dpop_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """The EC P-256 key at `path`, created (mode 0600, folder 0700) when missing."""
    path = Path(path)
    try:
        pem = path.read_bytes()
    except FileNotFoundError:
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            pem = _write_new_private_file(path, _new_dpop_key_pem())
        except OSError as exc:
            raise LocalIssuerError(f"Cannot create the DPoP key {path}: {exc.strerror}.") from None
    except OSError as exc:
        raise LocalIssuerError(f"Cannot read the DPoP key {path}: {exc.strerror}.") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        key = None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise LocalIssuerError(
            f"{path} is not an unencrypted EC P-256 private key (PEM); delete it to create one."
        )
    return key


def dpop_public_jwk(private_key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    """The public half of a P-256 key as a JWK (the proof's `jwk` header)."""
    numbers = private_key.public_key().public_numbers()
    return {
        "kty": "EC",
        "crv": "P-256",
        "x": b64url(numbers.x.to_bytes(32, "big")),
        "y": b64url(numbers.y.to_bytes(32, "big")),
    }


def create_dpop_proof(
    private_key: ec.EllipticCurvePrivateKey,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    now: float | None = None,
    jti: str | None = None,
) -> str:
    """An ES256 DPoP proof for one request (RFC 9449 section 4.2), with `ath` when a token is
    given; a fresh random `jti` unless one is given."""
    header = {"typ": PROOF_TYPE, "alg": "ES256", "jwk": dpop_public_jwk(private_key)}
    claims = {
        "jti": jti or uuid.uuid4().hex,
        "htm": method,
        "htu": url.split("?", 1)[0].split("#", 1)[0],
        "iat": int(time.time() if now is None else now),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    signing_input = ".".join(
        b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    der = private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def _new_dpop_key_pem() -> bytes:
    return ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
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
