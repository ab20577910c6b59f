"""Shared test fixtures: real RSA keys made in the test session, a real JWKS server on 127.0.0.1,
real RS256 tokens, and a fake monotonic clock for the key store's cache and rate limits.

Nothing here patches the project: the service is configured through its `AUTH0` setting, and the
clock is handed to the key store through its constructor.
"""

import base64
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from auth0_jwt.runtime import build_token_verifier, reset_token_verifier

# CI explores the same examples on every run, so a red run always means a change broke something;
# locally, hypothesis draws new examples each time and remembers failures in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ISSUER = "https://tenant.example.test/"
AUDIENCE = "https://api.example.test/"
KID = "test-key-1"
JWKS_PATH = "/.well-known/jwks.json"


# --- Keys -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rsa_key():
    """The test tenant's signing key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key():
    """A second key: a rotated-in key, or an attacker's key."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(private_key, kid=KID, **extra) -> dict:
    """The public half of `private_key` as Auth0 publishes it."""
    numbers = private_key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": kid,
        "n": b64url_uint(numbers.n),
        "e": b64url_uint(numbers.e),
        **extra,
    }


# --- The JWKS server ------------------------------------------------------------------------------


class JWKSServer:
    """A real HTTP server on 127.0.0.1 whose answers each test sets.

    `document` is served as JSON at `JWKS_PATH` (or `body` as raw bytes), with `status` and after
    `delay` seconds. `routes` serves other paths (e.g. an attacker's key set). Every request is
    counted in `hits`, by path.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.reset()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                with server.lock:
                    server.hits[self.path] = server.hits.get(self.path, 0) + 1
                    status, body, delay = server.answer_for(self.path)
                if delay:
                    time.sleep(delay)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return self.base_url + JWKS_PATH

    def reset(self):
        self.document = {"keys": []}
        self.body = None
        self.status = 200
        self.delay = 0.0
        self.routes = {}
        self.hits = {}

    def answer_for(self, path):
        if path in self.routes:
            return 200, json.dumps(self.routes[path]).encode(), 0.0
        if path != JWKS_PATH:
            return 404, b'{"detail": "not found"}', 0.0
        body = self.body if self.body is not None else json.dumps(self.document).encode()
        return self.status, body, self.delay

    @property
    def fetches(self) -> int:
        return self.hits.get(JWKS_PATH, 0)

    def publish(self, *jwks):
        self.document = {"keys": list(jwks)}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="session")
def _jwks_server_instance():
    server = JWKSServer()
    yield server
    server.close()


@pytest.fixture
def jwks_server(_jwks_server_instance, rsa_key):
    """The JWKS server, reset, publishing the test tenant's key."""
    _jwks_server_instance.reset()
    _jwks_server_instance.publish(public_jwk(rsa_key))
    return _jwks_server_instance


# --- Clock and service configuration --------------------------------------------------------------


class FakeClock:
    """A monotonic clock that moves only when a test says so."""

    def __init__(self, start=1000.0):
        self.now = start

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture(autouse=True)
def auth0_settings(settings, jwks_server, clock):
    """Point the service at the test JWKS server; the key store runs on the fake clock."""
    settings.AUTH0 = {
        **settings.AUTH0,
        "ISSUER": ISSUER,
        "AUDIENCE": AUDIENCE,
        "JWKS_URL": jwks_server.jwks_url,
    }
    reset_token_verifier(build_token_verifier(clock=clock))
    yield settings.AUTH0
    reset_token_verifier()


@pytest.fixture
def key_store():
    """The key store the service is using in this test."""
    from auth0_jwt.runtime import get_token_verifier

    return get_token_verifier().key_store


# --- Tokens ---------------------------------------------------------------------------------------


def sign_compact(header: dict, payload, private_key=None, *, signature: bytes | None = None) -> str:
    """A compact JWS with any header and payload, signed RS256 with `private_key` (for hostile
    tokens that `jwt.encode` refuses to make); `signature` replaces the real one."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    payload_bytes = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload_bytes)}"
    if signature is None:
        signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def default_claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|user-1", "iat": now, "exp": now + 3600}
    claims.update(overrides)
    return claims


@pytest.fixture
def make_token(rsa_key):
    """Sign a real RS256 token: valid by default; override claims, drop some, or change header."""

    def make(*, key=None, kid=KID, algorithm="RS256", headers=None, drop=(), **claims):
        payload = default_claims(**claims)
        for name in drop:
            payload.pop(name, None)
        header_fields = {"kid": kid} if kid is not None else {}
        header_fields.update(headers or {})
        return jwt.encode(payload, key or rsa_key, algorithm=algorithm, headers=header_fields)

    return make


# --- Clients --------------------------------------------------------------------------------------


@pytest.fixture
def api_client(db):
    return APIClient()


def bearer(token: str) -> dict:
    """Request keyword arguments carrying `Authorization: Bearer <token>`."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


# --- Redis (the DPoP replay store's shared backend) -----------------------------------------------


@pytest.fixture(scope="session")
def _redis_server_instance(tmp_path_factory):
    from auth0_jwt.tests.dpop_support import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis_server(_redis_server_instance):
    """A real redis-server on 127.0.0.1 (started once per session), emptied for each test."""
    _redis_server_instance.flush()
    return _redis_server_instance
