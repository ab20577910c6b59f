"""What the package tests share: running commands with a clean environment, the wheel, a local
HTTPS "tenant" publishing the JWKS, free ports, and serving a project in its own process group.

Nothing here leaves 127.0.0.1 but pip's downloads from the package index.
"""

import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from auth0_jwt.tests.tls import make_tls_files

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_README = ROOT / "auth0_jwt" / "README.md"
AUDIENCE = "https://api.example.com/"
KID = "outside-in-key"
PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]

# What pip needs from the machine's environment to reach the package index (its own settings,
# the trust store, proxies); nothing of the test run's Django set-up is passed on.
PASSED_ON = {"PATH", "HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}
PASSED_ON_SUFFIXES = ("_PROXY", "_proxy")


def run(*command, check=True, **options):
    """Run a command; with `check`, fail the test with its output when it fails."""
    options.setdefault("env", clean_environment())
    result = subprocess.run(  # noqa: S603 - the test's own commands
        command, capture_output=True, text=True, timeout=900, **options
    )
    if check:
        assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


def clean_environment(**extra) -> dict:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name in PASSED_ON or name.startswith("PIP_") or name.endswith(PASSED_ON_SUFFIXES)
    }
    return {**environment, **extra}


def project_environment(venv: Path, ca_file: Path) -> dict:
    """A served project's environment: its virtualenv first on PATH, the local tenant's CA as the
    trust store, and no proxy (it talks to 127.0.0.1 directly)."""
    environment = {
        name: value
        for name, value in clean_environment().items()
        if not name.endswith(PASSED_ON_SUFFIXES)
    }
    environment["PATH"] = f"{venv / 'bin'}:{os.environ['PATH']}"
    environment["SSL_CERT_FILE"] = str(ca_file)
    return environment


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build_wheel(folder: Path) -> Path:
    """The distribution built from the repository, as `pip install .` builds it."""
    run(sys.executable, *PIP, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(folder), ROOT)
    [built] = folder.glob("*.whl")
    return built


def pinned_versions() -> dict[str, str]:
    """Every `name==version` line of requirements.txt and requirements-dev.txt, by lower-cased
    name: the versions the service runs and tests with."""
    pinned = {}
    for requirements in ("requirements.txt", "requirements-dev.txt"):
        for line in (ROOT / requirements).read_text().splitlines():
            name, _, version = line.partition("==")
            if version:
                pinned[name.strip().lower()] = version.strip()
    return pinned


def write_constraints(folder: Path) -> Path:
    """A pip constraints file of `pinned_versions()`, so that what is installed beside the wheel
    gets the repository's versions."""
    path = folder / "constraints.txt"
    lines = [f"{name}=={version}" for name, version in sorted(pinned_versions().items())]
    path.write_text("\n".join(lines) + "\n")
    return path


# --- A local "tenant": HTTPS on 127.0.0.1 serving the JWKS ---------------------------------------


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _b64url_uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class Tenant:
    """An HTTPS server on 127.0.0.1 publishing one RSA signing key at /.well-known/jwks.json,
    counting the fetches. Made with `available=False`, it answers 503 to every fetch (an identity
    provider that is down) until `make_available()`."""

    def __init__(self, folder: Path, *, available: bool = True):
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.signing_key.public_key().public_numbers()
        jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID}
        jwk.update(n=_b64url_uint(numbers.n), e=_b64url_uint(numbers.e))
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.available = available
        self.fetches = 0  # answered with the key set
        self.refused = 0  # answered 503
        self.fetched = threading.Event()
        self._write_tls_files(folder)
        tenant = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                if not tenant.available:
                    tenant.refused += 1
                    self.send_error(503)
                    return
                tenant.fetches += 1
                tenant.fetched.set()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(tenant.jwks)))
                self.end_headers()
                self.wfile.write(tenant.jwks)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.server_cert, self.server_key)
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _write_tls_files(self, folder: Path):
        make_tls_files(folder, "outside-in CA")
        self.ca_file = folder / "ca.pem"
        self.server_cert = folder / "server.pem"
        self.server_key = folder / "server.key"

    def make_available(self) -> None:
        self.available = True

    @property
    def domain(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def token(self, **claims) -> str:
        now = int(time.time())
        payload = {
            "iss": f"https://{self.domain}/",
            "aud": AUDIENCE,
            "sub": "auth0|outside-in",
            "iat": now,
            "exp": now + 600,
            **claims,
        }
        return jwt.encode(payload, self.signing_key, algorithm="RS256", headers={"kid": KID})

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- Serving and asking --------------------------------------------------------------------------


@contextlib.contextmanager
def serving(site: Path, environment: dict, name: str, command: list[str], port: int):
    """Run a server command in its own process group until the block ends; yield its base URL.
    Its output goes to `<site>/<name>.log`."""
    log_path = site / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - the test's own command
            command,
            cwd=site,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"{name} did not start:\n{log_path.read_text()}")
                    time.sleep(0.1)
            yield f"http://127.0.0.1:{port}"
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@dataclass(frozen=True)
class Answer:
    """A served answer: status, headers and the body's bytes."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def get(url: str, headers: dict[str, str] | None = None) -> Answer:
    """The answer to a GET of `url` with `headers`."""
    request = urllib.request.Request(url, headers=headers or {})  # noqa: S310 - 127.0.0.1 only
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            status, received, body = response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        status, received, body = error.code, error.headers, error.read()
    return Answer(status, {name.lower(): value for name, value in received.items()}, body)
