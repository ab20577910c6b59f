"""DPoP test helpers: client keys made in the test session, proofs signed the honest way or broken
one rule at a time, a wall clock tests move by hand, and the exact answers the service gives."""

import json
import shutil
import socket
import subprocess
import time
import uuid

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from auth0_jwt.dpop import access_token_hash, b64url, jwk_thumbprint
from conftest import b64url_uint

PRIVATE_URL = "http://testserver/api/private/"
DPOP_CHALLENGE = 'DPoP algs="ES256"'
BOTH_CHALLENGES = 'Bearer realm="api", DPoP algs="ES256"'
CURVES = {"ES256": ec.SECP256R1(), "ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}
CURVE_NAMES = {"ES256": "P-256", "ES384": "P-384", "ES512": "P-521"}
HASHES = {"256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512}


class WallClock:
    """A wall clock (seconds since the epoch) that moves only when a test says so."""

    def __init__(self, start: float | None = None):
        self.now = float(int(time.time()) if start is None else start)

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def public_jwk(private_key) -> dict:
    """The public JWK of an EC or RSA private key (thumbprint members only)."""
    numbers = private_key.public_key().public_numbers()
    if isinstance(private_key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "n": b64url_uint(numbers.n), "e": b64url_uint(numbers.e)}
    size = (private_key.curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[
            private_key.curve.name
        ],
        "x": b64url(numbers.x.to_bytes(size, "big")),
        "y": b64url(numbers.y.to_bytes(size, "big")),
    }


def thumbprint(private_key) -> str:
    return jwk_thumbprint(public_jwk(private_key))


def sign(signing_input: bytes, private_key, alg: str) -> bytes:
    """A JWS signature of `alg` (ES*, RS*, PS*) with `private_key`."""
    hash_type = HASHES[alg[2:]]
    if alg.startswith("ES"):
        r, s = decode_dss_signature(private_key.sign(signing_input, ec.ECDSA(hash_type())))
        size = (private_key.curve.key_size + 7) // 8
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg.startswith("PS"):
        pss = padding.PSS(mgf=padding.MGF1(hash_type()), salt_length=hash_type.digest_size)
        return private_key.sign(signing_input, pss, hash_type())
    return private_key.sign(signing_input, padding.PKCS1v15(), hash_type())


def compact(header, claims, private_key=None, *, alg=None, signature: bytes | None = None) -> str:
    """A compact JWS of any header and claims (dicts, or raw bytes), signed with `alg`."""
    segments = [
        part if isinstance(part, bytes) else json.dumps(part).encode() for part in (header, claims)
    ]
    signing_input = ".".join(b64url(segment) for segment in segments)
    if signature is None:
        signature = sign(signing_input.encode(), private_key, alg or header["alg"])
    return f"{signing_input}.{b64url(signature)}"


def proof_claims(*, method="GET", url=PRIVATE_URL, token=None, now=None, drop=(), **overrides):
    """Honest proof claims for one request, then `overrides`, then the names in `drop` removed."""
    claims = {
        "jti": uuid.uuid4().hex,
        "htm": method,
        "htu": url,
        "iat": int(time.time() if now is None else now),
    }
    if token is not None:
        claims["ath"] = access_token_hash(token)
    claims.update(overrides)
    for name in drop:
        claims.pop(name, None)
    return claims


def make_proof(
    private_key,
    *,
    alg="ES256",
    header=None,
    drop_header=(),
    jwk=None,
    sign_with=None,
    **claim_options,
) -> str:
    """A DPoP proof by `private_key`: honest unless a header field, the jwk, the signing key or a
    claim (see `proof_claims`) is changed."""
    fields = {"typ": "dpop+jwt", "alg": alg, "jwk": jwk or public_jwk(private_key)}
    fields.update(header or {})
    for name in drop_header:
        fields.pop(name, None)
    return compact(fields, proof_claims(**claim_options), sign_with or private_key, alg=alg)


# --- The exact answers ----------------------------------------------------------------------------


def assert_invalid_proof(response, detail):
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == (
        f'{DPOP_CHALLENGE}, error="invalid_dpop_proof", error_description="{detail}"'
    )


def assert_invalid_dpop_token(response, detail):
    assert response.status_code == 401, response.content
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == (
        f'{DPOP_CHALLENGE}, error="invalid_token", error_description="{detail}"'
    )


def assert_invalid_dpop_request(response, detail):
    assert response.status_code == 400, response.content
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == (
        f'{DPOP_CHALLENGE}, error="invalid_request", error_description="{detail}"'
    )


def assert_dpop_accepted(response, sub="auth0|user-1"):
    assert response.status_code == 200, response.content
    assert response.json()["sub"] == sub
    assert "WWW-Authenticate" not in response


# --- A throwaway Redis ----------------------------------------------------------------------------


class RedisServer:
    """Debian's redis-server on a free 127.0.0.1 port, no persistence, in a temporary folder.

    `make test` installs the package when it is missing (Makefile); without it the tests that need
    Redis fail with a one-line explanation instead of being skipped.
    """

    def __init__(self, directory):
        self.directory = directory
        self.process = None
        self.port = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *, timeout: float = 20) -> "RedisServer":
        import redis  # only the Redis tests need the client (the `redis` extra)

        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError(
                "redis-server is not installed: `make test` installs Debian's redis-server "
                "(or run: apt-get install -y redis-server)."
            )
        if self.port is None:  # a restart keeps the port, so clients find the server again
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                self.port = probe.getsockname()[1]
        log = open(self.directory / "redis.log", "wb")  # noqa: SIM115 - closed with the process
        self.process = subprocess.Popen(  # noqa: S603 - Debian's binary, fixed arguments
            [
                binary,
                "--bind", "127.0.0.1",
                "--port", str(self.port),
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.directory),
                "--daemonize", "no",
                "--loglevel", "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    client.close()
                    return self
            except redis.RedisError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        log_text = (self.directory / "redis.log").read_text(errors="replace")
        raise RuntimeError(f"redis-server did not start on port {self.port}:\n{log_text}")

    def flush(self) -> None:
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=2)
        client.flushdb()
        client.close()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
