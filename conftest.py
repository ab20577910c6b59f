"""Shared test fixtures: the test tenant (auth0_jwt.testing's issuer: its key pair made once per
session, its tokens real RS256), a real JWKS server on 127.0.0.1 for the tests of how keys are
fetched, and a fake monotonic clock for the key store's cache and rate limits.

Where a test's keys come from: a test that asks for the JWKS server (or another source the settings
name) gets its keys over HTTP, as in production; every other test runs against the testing
plugin's issuer, which gives the verifier its keys in-process. Either way the tokens are minted by
the plugin (`make_token` signs with its key, `auth0_token` is the plugin's own fixture).

Nothing here patches the project: the service is configured through its `AUTH0` setting and the
package's own seams, and the clock is handed to the key store through its constructor.
"""

import base64
import json
import os
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from auth0_jwt.runtime import build_token_verifier, reset_token_verifier
from auth0_jwt.testing import KID as TEST_ISSUER_KID
from auth0_jwt.testing import Auth0TestIssuer

# The installed distribution's pytest11 entry point loads the plugin by itself; this repository
# runs the package in place, without it. The entry point bears the module's name, so this line is
# a no-op where it has loaded the plugin already.
pytest_plugins = ["auth0_jwt.testing.plugin"]

# CI explores the same examples on every run, so a red run always means a change broke something;
# locally, hypothesis draws new examples each time and remembers failures in .hypothesis/.
hypothesis_settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

# The test tenant: pytest.ini gives the plugin's issuer the same iss and aud.
ISSUER = "https://tenant.example.test/"
AUDIENCE = "https://api.example.test/"
KID = TEST_ISSUER_KID
JWKS_PATH = "/.well-known/jwks.json"
TEST_ISSUER = Auth0TestIssuer(issuer=ISSUER, audience=AUDIENCE)

# Fixtures of tests about where the keys come from (over HTTP, the local issuer): those tests get
# their keys as the settings say; every other test from the plugin's issuer, in-process.
KEYS_FROM_SETTINGS = ("jwks_server", "raw_http_server", "local_mode")


def keys_from_settings(request) -> bool:
    """Whether this test's keys come from the source the settings name, not the plugin's issuer."""
    return any(name in request.fixturenames for name in KEYS_FROM_SETTINGS)


# --- Keys -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rsa_key():
    """The test tenant's signing key: the testing plugin's, made once per session."""
    return TEST_ISSUER.private_key


@pytest.fixture(scope="session")
def other_rsa_key():
    """A second key: a rotated-in key, or an attacker's key (the plugin's stranger key)."""
    return TEST_ISSUER.stranger_key


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
def auth0_settings(request, settings, clock):
    """Point the service at the test tenant: the testing plugin's issuer (keys in-process), or,
    for a test about fetching keys, the test JWKS server, with the key store on the fake clock.
    A unittest `TestCase` brings its own `Auth0TestIssuer`, as a project's does."""
    if isinstance(request.instance, unittest.TestCase):
        yield settings.AUTH0
        return
    if not keys_from_settings(request):
        request.getfixturevalue("auth0_issuer")
        yield settings.AUTH0
        return
    jwks_server = request.getfixturevalue("jwks_server")
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
def make_token():
    """Sign a real token with the plugin's issuer (RS256, its key and kid): valid by default;
    override claims, drop some, change the header, or sign with another key and algorithm."""

    def make(*, key=None, kid=KID, algorithm="RS256", headers=None, drop=(), **claims):
        payload = default_claims(**claims)
        for name in drop:
            payload.pop(name, None)
        header_fields = {"kid": kid, **(headers or {})}
        return TEST_ISSUER.sign(payload, headers=header_fields, key=key, algorithm=algorithm)

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
