"""The signing-key load at start-up: started by the first request a real server handles, once per
process; never by the test client, never at import, never by management commands."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_started
from django.test.client import AsyncClientHandler, ClientHandler

from auth0_jwt import apps

PROJECT_ROOT = Path(__file__).resolve().parents[2]
PUBLIC = "/api/public/"


@pytest.fixture
def fresh_process(monkeypatch):
    """The app as `ready()` leaves it in a new process: nothing started, the receiver connected."""
    monkeypatch.setattr(apps, "_started", False)
    request_started.connect(apps.start_on_first_served_request, dispatch_uid=apps.START_UID)
    yield
    request_started.disconnect(dispatch_uid=apps.START_UID)


def serve(path):
    """One request through Django's WSGI handler, as a WSGI server makes it; the status line."""
    answer = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "HTTP_HOST": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
    }
    body = WSGIHandler()(environ, lambda status, headers: answer.append(status))
    b"".join(body)
    body.close()
    return answer[0]


def test_servers_handlers_count_and_the_test_clients_do_not():
    assert apps.is_server_handler(WSGIHandler) is True
    assert apps.is_server_handler(ASGIHandler) is True
    assert apps.is_server_handler(ClientHandler) is False
    assert apps.is_server_handler(AsyncClientHandler) is False
    assert apps.is_server_handler(None) is False


@pytest.mark.django_db
def test_the_first_served_request_starts_the_key_load_once(
    fresh_process, monkeypatch, jwks_server, key_store
):
    monkeypatch.setattr(apps, "loader_thread", None)
    assert serve(PUBLIC) == "200 OK"  # a public view: the request itself needs no key
    first_loader = apps.loader_thread
    assert first_loader is not None
    first_loader.join(timeout=10)
    assert key_store.key_set is not None
    assert jwks_server.fetches == 1
    assert serve(PUBLIC) == "200 OK"
    assert apps.loader_thread is first_loader  # once per process
    assert jwks_server.fetches == 1


def test_test_client_requests_start_nothing(fresh_process, api_client, jwks_server, key_store):
    assert api_client.get(PUBLIC).status_code == 200
    assert apps._started is False
    assert key_store.key_set is None
    assert jwks_server.fetches == 0


def test_a_key_store_that_cannot_be_built_is_a_warning_not_a_crash(fresh_process, settings, caplog):
    settings.AUTH0 = {**settings.AUTH0, "LEEWAY": "soon"}
    from auth0_jwt.runtime import reset_token_verifier

    reset_token_verifier()
    with caplog.at_level("WARNING", logger="auth0_jwt.apps"):
        assert apps.start_loading_signing_keys() is False
    assert [record.getMessage() for record in caplog.records] == [
        "Signing keys will be loaded on the first token request instead: "
        "AUTH0[\"LEEWAY\"] must be a number, got 'soon'."
    ]


COMMANDS = """
import io, threading, django
from django.core.management import call_command
django.setup()
call_command("check", stdout=io.StringIO())
call_command("migrate", verbosity=0, interactive=False)
from auth0_jwt import apps
loaders = [t.name for t in threading.enumerate() if "jwks" in t.name]
print(apps._started, apps.loader_thread, loaders)
"""


def test_management_commands_and_imports_start_nothing(tmp_path):
    environment = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "auth0_jwt.tests.settings",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    result = subprocess.run(
        [sys.executable, "-c", COMMANDS],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "False None []\n"
