"""From the outside: the built wheel in a fresh virtual environment, a `django-admin startproject`
project with only the lines the package README documents, served by runserver on 127.0.0.1.

The project's AUTH0 setting is the documented two-key dict. Its DOMAIN is a local HTTPS server
(127.0.0.1 on a free port, certificate from a CA made here, trusted through SSL_CERT_FILE) that
publishes the JWKS at the path Auth0 uses; so the issuer and the JWKS URL are derived exactly as
for a real tenant, and nothing leaves the machine but pip's downloads from the package index.

Run by `make test-package` (CI); not part of `make test`.
"""

import json
import sys
import urllib.error
import urllib.request
import zipfile

import pytest
from support import (
    AUDIENCE,
    PIP,
    ROOT,
    Tenant,
    free_port,
    project_environment,
    run,
    serving,
)

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


# --- The wheel -----------------------------------------------------------------------------------


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
    environment = project_environment(venv, tenant.ca_file)
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


@pytest.fixture(scope="module")
def server(project):
    """runserver on a free port, with its autoreloader (the keys load in the reloaded child)."""
    port = free_port()
    command = [*project["manage"], "runserver", f"127.0.0.1:{port}"]
    with serving(project["site"], project["env"], "runserver", command, port) as url:
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
    with serving(
        project["site"], project["env"], "gunicorn", [*command, "mysite.wsgi"], port
    ) as url:
        assert tenant.fetches == before  # the master and the idle workers fetched nothing
        for _ in range(4):
            status, _, body = get(f"{url}/api/messages/", tenant.token(scope="read:messages"))
            assert (status, body["sub"]) == (200, "auth0|outside-in")
        assert before + 1 <= tenant.fetches <= before + 2  # one load per worker that served


# The service's own pin (requirements.txt): a real WSGI server that forks, outside the package.
GUNICORN = "gunicorn==27.0.1"
