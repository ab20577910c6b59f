"""Two custom domains of one test tenant, served over real HTTPS on 127.0.0.1 (issue 20).

A certificate authority made in the test session signs a certificate for 127.0.0.1; each "domain"
is an HTTPS server on its own loopback port, so its domain is `127.0.0.1:PORT` and its issuer
`https://127.0.0.1:PORT/`, as Auth0 would write `https://login.example.com/`. Each serves its
JWKS and its OpenID configuration, counts every request by path, and can be told to answer
otherwise. The key stores trust the CA through SSL_CERT_FILE, as in production through the system
store. No connection leaves 127.0.0.1.
"""

import json
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from auth0_jwt.tests.tls import make_tls_files
from conftest import AUDIENCE, KID, public_jwk, sign_compact

JWKS_PATH = "/.well-known/jwks.json"
DISCOVERY_PATH = "/.well-known/openid-configuration"


class HTTPSDomain:
    """One custom domain of the test tenant: an HTTPS server on 127.0.0.1 serving its JWKS and
    its OpenID configuration. `jwks` and `configuration` are what it serves (None: 404),
    `status` the JWKS answer's status; `hits` counts requests by path."""

    def __init__(self, tls_folder):
        self.lock = threading.Lock()
        domain = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                with domain.lock:
                    domain.hits[self.path] = domain.hits.get(self.path, 0) + 1
                    status, body = domain.answer_for(self.path)
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
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(tls_folder / "server.pem", tls_folder / "server.key")
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()
        self.reset()

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"https://{self.domain}/"

    @property
    def jwks_url(self) -> str:
        return f"https://{self.domain}{JWKS_PATH}"

    def reset(self, *keys):
        self.jwks = {"keys": list(keys)}
        self.status = 200
        self.configuration = {
            "issuer": self.issuer,
            "jwks_uri": self.jwks_url,
            "authorization_endpoint": f"{self.issuer}authorize",
        }
        self.hits = {}

    def answer_for(self, path):
        if path.partition("?")[0] == JWKS_PATH and self.jwks is not None:
            return self.status, json.dumps(self.jwks).encode()
        if path == DISCOVERY_PATH and self.configuration is not None:
            return 200, json.dumps(self.configuration).encode()
        return 404, b'{"detail": "not found"}'

    @property
    def jwks_fetches(self) -> int:
        return self.hits.get(JWKS_PATH, 0)

    @property
    def requests(self) -> int:
        return sum(self.hits.values())

    def token(self, private_key, *, kid=KID, headers=None, drop=(), **claims) -> str:
        """A token of this domain (its `iss`), RS256, valid for an hour unless `claims` say."""
        now = int(time.time())
        payload = {"iss": self.issuer, "aud": AUDIENCE, "sub": "auth0|user-1"}
        payload.update(iat=now, exp=now + 3600)
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        header = {"alg": "RS256", "typ": "JWT", "kid": kid, **(headers or {})}
        return sign_compact(header, payload, private_key)  # (jwt.encode checks claim types)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def tenancy_settings(base: dict, *, domains, **overrides) -> dict:
    """`base` (the AUTH0 setting) with `DOMAINS` instead of one issuer, and `overrides`."""
    single = ("DOMAIN", "ISSUER", "JWKS_URL", "DOMAINS", "DOMAINS_RESOLVER")
    config = {name: value for name, value in base.items() if name not in single}
    config.update(DOMAINS=list(domains), AUDIENCE=AUDIENCE, LOCAL_ISSUER=False)
    config.update(overrides)
    return config


def tenant_jwk(private_key, kid=KID, **extra) -> dict:
    return public_jwk(private_key, kid=kid, **extra)


# --- Fixtures (imported by the tenancy test modules) ----------------------------------------------


@pytest.fixture(scope="session")
def _tenancy_tls(tmp_path_factory):
    return make_tls_files(tmp_path_factory.mktemp("tenancy-tls"))


@pytest.fixture(scope="session")
def _tenancy_domains(_tenancy_tls):
    servers = (HTTPSDomain(_tenancy_tls), HTTPSDomain(_tenancy_tls))
    yield servers
    for server in servers:
        server.close()


@pytest.fixture
def domains(_tenancy_domains, _tenancy_tls, monkeypatch, rsa_key, jwks_server):
    """The tenant's two custom domains (A and B), both publishing the tenant's key; HTTPS to them
    is trusted through SSL_CERT_FILE. (`jwks_server` keeps the keys coming over HTTP: the
    project's other issuers stay out of the way.)"""
    monkeypatch.setenv("SSL_CERT_FILE", str(_tenancy_tls / "ca.pem"))
    for server in _tenancy_domains:
        server.reset(public_jwk(rsa_key))
    return _tenancy_domains


class Tenancy:
    """Configures the service for the test's domains: `configure(**AUTH0 overrides)` sets the
    setting (DOMAINS = both domains unless given) and builds the verifier on the fake clock."""

    def __init__(self, settings, clock, domains):
        self.settings = settings
        self.clock = clock
        self.a, self.b = domains

    def configure(self, *, domains=None, **overrides):
        from auth0_jwt.runtime import build_token_verifier, get_token_verifier, reset_token_verifier

        names = [d.domain for d in (self.a, self.b)] if domains is None else domains
        base = self.settings.AUTH0
        self.settings.AUTH0 = tenancy_settings(base, domains=names, **overrides)
        reset_token_verifier(build_token_verifier(clock=self.clock))
        return get_token_verifier()


@pytest.fixture
def tenancy(settings, clock, domains):
    tenancy = Tenancy(settings, clock, domains)
    tenancy.configure()
    return tenancy


# --- A domains resolver (AUTH0["DOMAINS_RESOLVER"] names it by its dotted path) ------------------

RESOLVED = {"domains": [], "calls": 0, "error": None}
RESOLVER_PATH = "auth0_jwt.tests.tenancy_support.resolve_domains"


def resolve_domains():
    """What a project's resolver does: read the current domains (here, from `RESOLVED`)."""
    RESOLVED["calls"] += 1
    if RESOLVED["error"] is not None:
        raise RESOLVED["error"]
    return list(RESOLVED["domains"])


@pytest.fixture
def resolved():
    RESOLVED.update(domains=[], calls=0, error=None)
    yield RESOLVED
    RESOLVED.update(domains=[], calls=0, error=None)
