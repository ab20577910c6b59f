"""From the outside: the built wheel in a fresh virtual environment, a `django-admin startproject`
project with only the lines the package README documents, served by runserver on 127.0.0.1.

The project's AUTH0 setting is the documented two-key dict. Its DOMAIN is a local HTTPS server
(127.0.0.1 on a free port, certificate from a CA made here, trusted through SSL_CERT_FILE) that
publishes the JWKS at the path Auth0 uses; so the issuer and the JWKS URL are derived exactly as
for a real tenant, and nothing leaves the machine but pip's downloads from the package index.

Run by `make test-package` (CI); not part of `make test`.
"""

import base64
import contextlib
import datetime
import ipaddress
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
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[1]
AUDIENCE = "https://api.example.com/"
KID = "outside-in-key"
PIP = ["-m", "pip", "--disable-pip-version-check", "--no-input"]

# What the package README tells a project to add (with the opt-in RFC 6750 exception handler).
SETTINGS_LINES = """
INSTALLED_APPS += ["rest_framework", "auth0_jwt"]

AUTH0 = {{
    "DOMAIN": "{domain}",
    "AUDIENCE": "{audience}",
}}

REST_FRAMEWORK = {{
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth0_jwt.authentication.JSONWebTokenAuthentication"],
    "EXCEPTION_HANDLER": "auth0_jwt.exceptions.exception_handler",
}}
"""

VIEWS = """
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth0_jwt.permissions import HasRequiredScopes


class MessagesView(APIView):
    permission_classes = [IsAuthenticated, HasRequiredScopes]
    required_scopes = ["read:messages"]

    def get(self, request):
        return Response({"sub": request.auth.subject, "scopes": sorted(request.auth.scopes)})
"""

URLS_LINES = """
from mysite.views import MessagesView

urlpatterns += [path("api/messages/", MessagesView.as_view())]
"""


def run(*command, **options):
    """Run a command; fail the test with its output when it fails."""
    options.setdefault("env", clean_environment())
    result = subprocess.run(  # noqa: S603 - the test's own commands
        command, capture_output=True, text=True, timeout=600, **options
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result


# What pip needs from the machine's environment to reach the package index (its own settings,
# the trust store, proxies); nothing of the test run's Django set-up is passed on.
PASSED_ON = {"PATH", "HOME", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE"}
PASSED_ON_SUFFIXES = ("_PROXY", "_proxy")


def clean_environment(**extra) -> dict:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name in PASSED_ON or name.startswith("PIP_") or name.endswith(PASSED_ON_SUFFIXES)
    }
    return {**environment, **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- The wheel -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The distribution built from the repository, as `pip install .` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    run(sys.executable, *PIP, "wheel", "--no-deps", "--quiet", "--wheel-dir", str(out), str(ROOT))
    [built] = out.glob("*.whl")
    return built


def test_the_wheel_holds_the_package_and_nothing_else(wheel):
    assert wheel.name == "drf_auth0_jwt-1.0.0-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    top_levels = {name.split("/")[0] for name in names}
    assert top_levels == {"auth0_jwt", "drf_auth0_jwt-1.0.0.dist-info"}
    assert not [name for name in names if name.startswith("auth0_jwt/tests")]
    for expected in (
        "auth0_jwt/py.typed",
        "auth0_jwt/migrations/0001_initial.py",
        "auth0_jwt/management/commands/mint_token.py",
        "drf_auth0_jwt-1.0.0.dist-info/licenses/LICENSE",
    ):
        assert expected in names
    metadata = zipfile.ZipFile(wheel).read("drf_auth0_jwt-1.0.0.dist-info/METADATA").decode()
    requirements = sorted(
        line.removeprefix("Requires-Dist: ")
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ") and "extra ==" not in line
    )
    assert requirements == [
        "asgiref>=3.7",
        "cryptography>=42",
        "django>=4.2",
        "pyjwt[crypto]>=2.15",
    ]
    # DRF is the `drf` extra: a project with plain views or Django Ninja does not get it.
    assert "Provides-Extra: drf" in metadata
    assert "Requires-Dist: djangorestframework>=3.15; extra == 'drf'" in metadata
    assert "License-Expression: MIT" in metadata
    assert "# drf-auth0-jwt" in metadata  # the package README is the long description


# --- A local "tenant": HTTPS on 127.0.0.1 serving the JWKS ---------------------------------------


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


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Tenant:
    """An HTTPS server on 127.0.0.1 publishing one RSA signing key at /.well-known/jwks.json,
    counting the fetches."""

    def __init__(self, folder: Path):
        self.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        numbers = self.signing_key.public_key().public_numbers()
        jwk = {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": KID}
        jwk.update(n=_b64url_uint(numbers.n), e=_b64url_uint(numbers.e))
        self.jwks = json.dumps({"keys": [jwk]}).encode()
        self.fetches = 0
        self.fetched = threading.Event()
        self._write_tls_files(folder)
        tenant = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
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
        ca_key = ec.generate_private_key(ec.SECP256R1())
        server_key = ec.generate_private_key(ec.SECP256R1())
        ca = _certificate("outside-in CA", "outside-in CA", ca_key.public_key(), ca_key, ca=True)
        server = _certificate(
            "127.0.0.1", "outside-in CA", server_key.public_key(), ca_key, ca=False,
            san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))],
        )  # fmt: skip
        self.ca_file = folder / "ca.pem"
        self.server_cert = folder / "server.pem"
        self.server_key = folder / "server-key.pem"
        self.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        self.server_cert.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        self.server_key.write_bytes(
            server_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

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


@pytest.fixture(scope="module")
def tenant(tmp_path_factory):
    server = Tenant(tmp_path_factory.mktemp("tenant"))
    yield server
    server.close()


# --- The project ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def project(tmp_path_factory, wheel, tenant):
    """A fresh virtual environment with the wheel installed, and a startproject project with the
    documented lines; `migrate` has run."""
    folder = tmp_path_factory.mktemp("outside")
    venv = folder / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = venv / "bin" / "python"
    # As a newcomer to the DRF integration would: the wheel with its `drf` extra; Django, DRF,
    # PyJWT and cryptography come from its declared ranges (on Python 3.11 the newest Django is
    # 5.2: Django 6 needs Python 3.12).
    run(str(python), *PIP, "install", "--quiet", f"{wheel}[drf]")
    site = folder / "site"
    site.mkdir()
    run(str(venv / "bin" / "django-admin"), "startproject", "mysite", str(site))
    settings = site / "mysite" / "settings.py"
    settings.write_text(
        settings.read_text() + SETTINGS_LINES.format(domain=tenant.domain, audience=AUDIENCE)
    )
    (site / "mysite" / "views.py").write_text(VIEWS)
    urls = site / "mysite" / "urls.py"
    urls.write_text(urls.read_text() + URLS_LINES)
    # The project trusts the local tenant's CA, and talks to 127.0.0.1 directly (no proxy).
    environment = {
        name: value
        for name, value in clean_environment().items()
        if not name.endswith(PASSED_ON_SUFFIXES)
    }
    environment["PATH"] = f"{venv / 'bin'}:{os.environ['PATH']}"
    environment["SSL_CERT_FILE"] = str(tenant.ca_file)
    manage = [str(python), "manage.py"]
    run(*manage, "migrate", "--noinput", cwd=site, env=environment)
    run(*manage, "check", "--fail-level", "WARNING", cwd=site, env=environment)
    return {"site": site, "python": python, "env": environment, "manage": manage}


def test_the_package_comes_from_the_wheel_not_the_repository(project):
    result = run(
        str(project["python"]),
        "-c",
        "import auth0_jwt, django, importlib.metadata as m; "
        "print(auth0_jwt.__file__); print(m.version('drf-auth0-jwt')); print(django.get_version())",
        cwd=project["site"],
        env=project["env"],
    )
    location, version, django_version = result.stdout.split()
    assert "site-packages" in location
    assert not location.startswith(str(ROOT))
    assert version == "1.0.0"
    assert django_version.startswith("5.2.")


def test_commands_that_do_not_serve_load_no_keys(project, tenant):
    run(*project["manage"], "check", cwd=project["site"], env=project["env"])
    assert tenant.fetches == 0  # migrate and check (in the fixture and here) fetched nothing


@contextlib.contextmanager
def serving(project, name, command, port):
    """Run a server command in its own process group until the block ends; yield its base URL."""
    log_path = project["site"] / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(  # noqa: S603 - the test's own command
            command,
            cwd=project["site"],
            env=project["env"],
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


@pytest.fixture(scope="module")
def server(project):
    """runserver on a free port, with its autoreloader (the keys load in the reloaded child)."""
    port = free_port()
    command = [*project["manage"], "runserver", f"127.0.0.1:{port}"]
    with serving(project, "runserver", command, port) as url:
        yield url


def get(url, token=None):
    """(status, headers, JSON body) of a GET."""
    request = urllib.request.Request(url)  # noqa: S310 - http://127.0.0.1 only
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, response.headers, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read())


def test_no_token_is_401_and_the_first_request_starts_the_key_load(server, tenant):
    assert tenant.fetches == 0
    status, headers, body = get(f"{server}/api/messages/")
    assert status == 401
    assert body == {"detail": "Authentication credentials were not provided."}
    assert headers["WWW-Authenticate"] == NO_CREDENTIALS_CHALLENGE
    # The request carried no token, yet the served process fetched the keys in the background.
    assert tenant.fetched.wait(timeout=30)
    assert tenant.fetches == 1


def test_a_token_with_the_scope_is_200(server, tenant):
    token = tenant.token(scope="read:messages openid")
    status, headers, body = get(f"{server}/api/messages/", token)
    assert status == 200
    assert body == {"sub": "auth0|outside-in", "scopes": ["openid", "read:messages"]}
    assert "WWW-Authenticate" not in headers
    assert tenant.fetches == 1  # the key set loaded at start-up served this token


def test_a_token_without_the_scope_is_403(server, tenant):
    status, headers, body = get(f"{server}/api/messages/", tenant.token(scope="openid"))
    assert status == 403
    assert body == {
        "detail": "The access token lacks the scope this endpoint needs: read:messages."
    }
    assert headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )


def test_a_token_for_another_audience_is_401_invalid_token(server, tenant):
    token = tenant.token(scope="read:messages", aud="https://other.example.com/")
    status, headers, body = get(f"{server}/api/messages/", token)
    assert status == 401
    assert body == {"detail": "The token's audience is not this API."}
    assert headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The token\'s audience is not this API."'
    )


def test_the_jit_user_exists_in_the_projects_database(project, server, tenant):
    get(f"{server}/api/messages/", tenant.token(scope="read:messages"))
    result = run(
        *project["manage"],
        "shell",
        "--verbosity",
        "0",
        "-c",
        "from auth0_jwt.models import Auth0Identity as I; "
        "print([(i.sub, i.user.username) for i in I.objects.all()])",
        cwd=project["site"],
        env=project["env"],
    )
    assert result.stdout.strip() == "[('auth0|outside-in', 'auth0.outside-in')]"


NO_CREDENTIALS_CHALLENGE = 'Bearer realm="api", DPoP algs="ES256"'  # DPoP is "allowed" by default


def test_gunicorn_preloading_the_app_loads_the_keys_in_its_workers_after_the_fork(project, tenant):
    """With --preload the master runs ready() before forking: a key-loading thread started there
    would not survive the fork. Nothing is fetched until a worker serves its first request."""
    run(str(project["python"]), *PIP, "install", "--quiet", GUNICORN)
    gunicorn = str(project["python"].parent / "gunicorn")
    port = free_port()
    command = [gunicorn, "--preload", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    before = tenant.fetches
    with serving(project, "gunicorn", [*command, "mysite.wsgi"], port) as url:
        assert tenant.fetches == before  # the master and the idle workers fetched nothing
        for _ in range(4):
            status, _, body = get(f"{url}/api/messages/", tenant.token(scope="read:messages"))
            assert (status, body["sub"]) == (200, "auth0|outside-in")
        assert before + 1 <= tenant.fetches <= before + 2  # one load per worker that served


# The service's own pin (requirements.txt): a real WSGI server that forks, outside the package.
GUNICORN = "gunicorn==27.0.1"
