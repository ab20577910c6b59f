"""Isolation, from outside: a project of its own (no conftest of this repository, the plugin loaded
with `-p`), whose settings name a real Auth0 tenant and a Redis replay store, run by pytest-xdist
on two workers at once.

Every test sends the same DPoP proof (one client key, one jti) through the same Redis, so a proof
remembered by one test or one worker would refuse another's; tests that change the settings or
withhold the keys are followed, in the same worker, by tests that need neither change. A network
guard (an audit hook) stops and reports any lookup of or connection to anything but 127.0.0.1.
"""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PYTEST_INI = """\
[pytest]
DJANGO_SETTINGS_MODULE = isolation_settings
pythonpath = .
addopts = -p auth0_jwt.testing.plugin -p no:cacheprovider
"""

SETTINGS = """\
import os

from auth0_jwt.tests.settings import *  # noqa: F403

AUTH0 = {
    "DOMAIN": "dev-real-tenant.us.auth0.com",
    "AUDIENCE": "https://api.real-project.example/",
    "REDIS_URL": os.environ["ISOLATION_REDIS_URL"],
}
"""

CONFTEST = '''\
import sys

import pytest

LOCAL = {"127.0.0.1", "localhost", "::1"}
attempts = []


def audit(event, args):
    """Record, and stop (an audit hook that raises aborts the call), any lookup of or connection
    to a host other than this machine."""
    if event == "socket.getaddrinfo" and str(args[0]) not in LOCAL:
        attempts.append((event, args[0]))
        raise OSError("blocked by the network guard")
    if event == "socket.connect" and isinstance(args[1], tuple) and args[1][0] not in LOCAL:
        attempts.append((event, args[1]))
        raise OSError("blocked by the network guard")


sys.addaudithook(audit)


@pytest.fixture(autouse=True)
def no_network():
    del attempts[:]
    yield
    assert attempts == []
'''

GUARD_TEST = """\
import socket

from conftest import attempts


def test_the_guard_sees_a_lookup():
    try:
        socket.getaddrinfo("example.com", 443)
    except OSError:
        pass
    assert attempts == [("socket.getaddrinfo", "example.com")]
    del attempts[:]
"""

TESTS = """\
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from rest_framework.test import APIClient

from auth0_jwt.runtime import get_token_verifier
from auth0_jwt.testing import DPoPKey

pytestmark = pytest.mark.django_db
URL = "http://testserver/api/private/"
# One client key and one jti for every test in every worker.
KEY = DPoPKey(ec.derive_private_key(0x5EED, ec.SECP256R1()))


def send_the_shared_proof(auth0_token):
    token = auth0_token(dpop_key=KEY)
    proof = KEY.proof("GET", URL, token=token, jti="one-jti-for-all")
    headers = {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": proof}
    return APIClient().get("/api/private/", **headers), APIClient().get("/api/private/", **headers)


@pytest.mark.parametrize("round", range(4))
def test_the_shared_proof_is_fresh_in_each_test(auth0_token, round):
    assert len(get_token_verifier().token_cache) == 0
    first, replay = send_the_shared_proof(auth0_token)
    assert first.status_code == 200, first.content
    assert replay.status_code == 401


def test_a_test_that_requires_dpop(settings, auth0_api_client):
    settings.AUTH0 = {**settings.AUTH0, "DPOP": "required"}
    assert auth0_api_client().get("/api/private/").status_code == 401


def test_the_next_test_has_bearer_again(auth0_api_client, auth0_token):
    assert auth0_api_client().get("/api/private/").status_code == 200
    assert send_the_shared_proof(auth0_token)[0].status_code == 200


def test_a_test_without_keys(auth0_issuer, auth0_api_client):
    client = auth0_api_client()
    with auth0_issuer.keys_unavailable():
        assert client.get("/api/private/").status_code == 503
    client.get("/api/private/")  # cached in this test's token cache


def test_the_next_test_has_keys_and_an_empty_cache(auth0_api_client):
    assert len(get_token_verifier().token_cache) == 0
    assert auth0_api_client().get("/api/private/").status_code == 200


def test_without_the_plugin_the_settings_are_the_projects(settings):
    assert settings.AUTH0["DOMAIN"] == "dev-real-tenant.us.auth0.com"
    assert "ISSUER" not in settings.AUTH0
"""


def test_parallel_tests_share_nothing_and_reach_no_network(redis_server, tmp_path):
    (tmp_path / "pytest.ini").write_text(PYTEST_INI)
    (tmp_path / "isolation_settings.py").write_text(SETTINGS)
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_guard.py").write_text(GUARD_TEST)
    for name in ("test_worker_one.py", "test_worker_two.py"):
        (tmp_path / name).write_text(textwrap.dedent(TESTS))
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "ISOLATION_REDIS_URL": redis_server.url,
    }
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadfile", "-q"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "19 passed" in result.stdout, result.stdout
