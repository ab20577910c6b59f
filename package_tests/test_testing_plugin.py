"""From the outside: the testing plugin as a project gets it. The built wheel alone (with its
`drf`, `ninja` and `testing` extras) in a fresh virtual environment, a `django-admin startproject`
project with pytest-django, the views of the package README, and the test modules its "Testing
your API" section shows, copied from the README itself: one for DRF, one for plain views and one
for Django Ninja.

No conftest: the fixtures come from the wheel's pytest11 entry point. The project's `AUTH0`
setting names a real-looking tenant; a network guard (an audit hook, loaded with `-p`) stops and
reports any lookup of or connection to a host other than this machine. Nothing is fetched, and
nothing is written to disk but what pytest and Python write anyway (`__pycache__`).

Run by `make test-package` (CI); not part of `make test`.
"""

import re
import sys
from pathlib import Path

import pytest
from support import PACKAGE_README, PIP, clean_environment, run, write_constraints

# A code block of the README's testing section that is a whole test module: its first line names
# the file.
DOCUMENTED_MODULE = re.compile(r"```python\n(# (tests/test_\w+\.py)\n.*?)```", re.S)

SETTINGS_LINES = """
INSTALLED_APPS += ["rest_framework", "auth0_jwt"]

AUTH0 = {
    "DOMAIN": "dev-your-tenant.us.auth0.com",
    "AUDIENCE": "https://api.example.com/",
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth0_jwt.authentication.JSONWebTokenAuthentication"],
    "EXCEPTION_HANDLER": "auth0_jwt.exceptions.exception_handler",
}
"""

# The views of the package README: DRF's, a plain view, and a Django Ninja API.
VIEWS = """
from django.http import JsonResponse
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth0_jwt.django import requires_auth
from auth0_jwt.permissions import HasRequiredScopes


class MessagesView(APIView):
    permission_classes = [IsAuthenticated, HasRequiredScopes]
    required_scopes = ["read:messages"]

    def get(self, request):
        return Response({"sub": request.auth.subject, "scopes": sorted(request.auth.scopes)})


@requires_auth(scopes=["read:messages"])
def messages(request):
    return JsonResponse({"sub": request.auth.subject, "scopes": sorted(request.auth.scopes)})
"""

API = """
from ninja import NinjaAPI

from auth0_jwt.ninja import Auth0Bearer, install

api = NinjaAPI(auth=Auth0Bearer())
install(api)


@api.get("/messages", auth=Auth0Bearer(scopes=["read:messages"]))
def messages(request):
    return {"sub": request.auth.subject, "scopes": sorted(request.auth.scopes)}
"""

URLS_LINES = """
from mysite.api import api
from mysite.views import MessagesView, messages

urlpatterns += [
    path("api/messages/", MessagesView.as_view()),
    path("messages/", messages),
    path("ninja/", api.urls),
]
"""

PYTEST_INI = """[pytest]
DJANGO_SETTINGS_MODULE = mysite.settings
"""

NETWORK_GUARD = '''
"""Stops and reports any lookup of or connection to a host other than this machine."""

import sys

import pytest

LOCAL = {"127.0.0.1", "localhost", "::1"}
attempts = []


def audit(event, args):
    if event == "socket.getaddrinfo" and str(args[0]) not in LOCAL:
        attempts.append(args[0])
        raise OSError("blocked by the network guard")
    if event == "socket.connect" and isinstance(args[1], tuple) and args[1][0] not in LOCAL:
        attempts.append(args[1])
        raise OSError("blocked by the network guard")


sys.addaudithook(audit)


@pytest.fixture(autouse=True)
def no_network():
    yield
    assert attempts == [], f"network access: {attempts}"
'''


def documented_test_modules() -> dict[str, str]:
    """The test modules of the package README's "Testing your API" section, by file name."""
    text = PACKAGE_README.read_text()
    section = text[text.index("## Testing your API") :]
    section = section[: section.index("\n## ", 1)]
    return {path: code for code, path in DOCUMENTED_MODULE.findall(section)}


def files_under(folder: Path) -> set[str]:
    """Every file under `folder` but Python's bytecode caches."""
    return {
        str(path.relative_to(folder))
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


@pytest.fixture(scope="module")
def project(tmp_path_factory, wheel):
    """The wheel in a fresh virtual environment; a startproject project with the views, pytest.ini
    and the documented test modules (no conftest); the network guard beside it."""
    folder = tmp_path_factory.mktemp("outside")
    venv = folder / "venv"
    run(sys.executable, "-m", "venv", str(venv))
    python = venv / "bin" / "python"
    constraints = write_constraints(folder)  # what comes beside the wheel: the repository's pins
    run(str(python), *PIP, "install", "--quiet", "-c", constraints, f"{wheel}[drf,ninja,testing]")
    site = folder / "site"
    site.mkdir()
    run(str(venv / "bin" / "django-admin"), "startproject", "mysite", str(site))
    settings = site / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + SETTINGS_LINES)
    (site / "mysite" / "views.py").write_text(VIEWS)
    (site / "mysite" / "api.py").write_text(API)
    urls = site / "mysite" / "urls.py"
    urls.write_text(urls.read_text() + URLS_LINES)
    (site / "pytest.ini").write_text(PYTEST_INI)
    (site / "tests").mkdir()
    for path, code in documented_test_modules().items():
        (site / path).write_text(code)
    guard = folder / "guard"
    guard.mkdir()
    (guard / "network_guard.py").write_text(NETWORK_GUARD)
    environment = clean_environment(PYTHONPATH=str(guard))
    return {"site": site, "python": python, "env": environment}


def pytest_in(project, *arguments, check=True):
    return run(
        str(project["python"]),
        "-m",
        "pytest",
        "-p",
        "network_guard",
        *arguments,
        cwd=project["site"],
        env=project["env"],
        check=check,
    )


def test_the_readme_shows_a_test_module_for_drf_plain_views_and_ninja():
    assert sorted(documented_test_modules()) == [
        "tests/test_messages_drf.py",
        "tests/test_messages_ninja.py",
        "tests/test_messages_views.py",
    ]


def test_the_fixtures_come_with_the_wheel(project):
    assert not list(project["site"].rglob("conftest.py"))
    result = pytest_in(project, "--fixtures", "-q")
    for fixture in (
        "auth0_issuer",
        "auth0_token",
        "auth0_dpop_key",
        "auth0_api_client",
        "auth0_client",
        "auth0_async_client",
        "auth0_ninja_client",
    ):
        assert f"\n{fixture} -- " in result.stdout, result.stdout
    assert "site-packages/auth0_jwt/testing/plugin.py" in result.stdout


def test_the_documented_test_modules_pass_with_nothing_fetched_or_written(project):
    before = files_under(project["site"])
    result = pytest_in(project, "-q", "-p", "no:cacheprovider")
    expected = sum(code.count("\ndef test_") for code in documented_test_modules().values())
    assert f"{expected} passed" in result.stdout, result.stdout
    assert "failed" not in result.stdout
    assert files_under(project["site"]) == before


def test_an_assertion_edited_to_be_wrong_fails(project):
    code = documented_test_modules()["tests/test_messages_drf.py"]
    right = "assert response.status_code == 403"
    assert code.count(right) == 1
    edited = project["site"] / "tests" / "test_messages_drf_edited.py"
    edited.write_text(code.replace(right, "assert response.status_code == 200"))
    try:
        result = pytest_in(project, "-q", "-p", "no:cacheprovider", str(edited), check=False)
    finally:
        edited.unlink()
    assert result.returncode == 1, result.stdout + result.stderr
    assert re.search(r"\b1 failed, \d+ passed\b", result.stdout), result.stdout
    assert "assert 403 == 200" in result.stdout
