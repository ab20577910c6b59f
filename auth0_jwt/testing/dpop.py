"""A DPoP client for tests (RFC 9449): a P-256 key pair kept in memory that signs a proof for one
request, the way Auth0's SDKs do."""

import json
import time
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from auth0_jwt.dpop import PROOF_TYPE, access_token_hash, jwk_thumbprint
from auth0_jwt.jws import b64url

__all__ = ["DPoPKey"]


class DPoPKey:
    """A DPoP client's key pair: `auth0_token(dpop_key=key)` binds a token to it (`cnf.jkt`), and
    `key.proof(method, url, token=token)` signs the `DPoP` header of one request."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | None = None):
        if private_key is None:
            private_key = ec.generate_private_key(ec.SECP256R1())
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise TypeError("a DPoP key is an EC P-256 private key (ES256)")
        self.private_key = private_key
        numbers = private_key.public_key().public_numbers()
        self.public_jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        self.thumbprint = jwk_thumbprint(self.public_jwk)  # what a bound token's cnf.jkt holds

    @classmethod
    def of(cls, key: "DPoPKey | ec.EllipticCurvePrivateKey") -> "DPoPKey":
        """`key` as a DPoPKey (a bare P-256 private key is wrapped)."""
        return key if isinstance(key, DPoPKey) else cls(key)

    def proof(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        nonce: str | None = None,
        jti: str | None = None,
        issued_at: float | None = None,
    ) -> str:
        """The `DPoP` header for a `method` request to `url` (absolute, as the server sees it, e.g.
        "http://testserver/api/private/"; query and fragment are left out of `htu`): `ath` binds
        it to `token`, `nonce` is the server's last `DPoP-Nonce`; a new `jti` each time unless
        one is given."""
        header = {"typ": PROOF_TYPE, "alg": "ES256", "jwk": self.public_jwk}
        claims = {
            "jti": jti or uuid.uuid4().hex,
            "htm": method.upper(),
            "htu": url.split("#", 1)[0].split("?", 1)[0],
            "iat": int(time.time() if issued_at is None else issued_at),
        }
        if token is not None:
            claims["ath"] = access_token_hash(token)
        if nonce is not None:
            claims["nonce"] = nonce
        signing_input = ".".join(
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        der = self.private_key.sign(signing_input.encode("ascii"), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        return f"{signing_input}.{b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def __repr__(self) -> str:
        return f"DPoPKey(thumbprint={self.thumbprint!r})"
