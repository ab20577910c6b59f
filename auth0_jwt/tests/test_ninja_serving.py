"""The Ninja operations served by a real ASGI server: uvicorn, in this process, on 127.0.0.1, over
Django's ASGI handler, spoken to over HTTP. Async operations authenticate on uvicorn's event loop
(`aauthenticate`: the key fetch, the replay store and the user lookup in threads); sync ones in
the thread Ninja runs them in."""

import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.asgi import get_asgi_application
from django.core.signals import request_started

from auth0_jwt import apps
from auth0_jwt.replay import reset_replay_store
from auth0_jwt.runtime import reset_dpop_verifier
from auth0_jwt.tests.dpop_support import make_proof, thumbprint

# Served requests use their own database connections: the test's data must be committed.
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls("auth0_jwt.tests.ninja_urls"),
]

REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."


@pytest.fixture
def base_url():
    """uvicorn serving the test project on a free port of 127.0.0.1, for this test."""
    import uvicorn

    # The first served request would start the background key load (apps.py); these tests load
    # keys on demand from the JWKS fixture, so the receiver is off while they serve.
    listening = request_started.disconnect(dispatch_uid=apps.START_UID)
    reset_dpop_verifier()
    reset_replay_store()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(get_asgi_application(), lifespan="off", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)  # waiting for the server to listen, not for time to pass
    assert server.started, "uvicorn did not start"
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)
    listener.close()
    reset_dpop_verifier()
    reset_replay_store()
    if listening:
        request_started.connect(apps.start_on_first_served_request, dispatch_uid=apps.START_UID)


def fetch(url: str, headers=None):
    """(status, headers, JSON body) of a GET."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - 127.0.0.1
            return response.status, response.headers, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.headers, json.load(error)


@pytest.fixture(scope="module")
def client_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize("path", ["/ninja/ops/private-async/", "/ninja/ops/private/"])
def test_a_valid_token_is_accepted_and_its_user_created(base_url, make_token, path):
    token = make_token(sub="auth0|served")
    status, headers, body = fetch(base_url + path, {"Authorization": f"Bearer {token}"})
    assert status == 200, body
    assert body["sub"] == "auth0|served"
    assert "WWW-Authenticate" not in headers
    from django.contrib.auth import get_user_model

    assert get_user_model().objects.filter(username="auth0.served").exists()


def test_no_token_is_a_401_with_both_challenges(base_url):
    status, headers, body = fetch(base_url + "/ninja/ops/private-scoped-async/")
    assert status == 401
    assert body == {"detail": "Authentication credentials were not provided."}
    assert headers["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'
    assert headers["Content-Type"] == "application/json"


def test_a_dpop_proof_is_accepted_once(base_url, make_token, client_key):
    url = base_url + "/ninja-api-scoped/private-scoped-async/"
    token = make_token(scope="read:messages", cnf={"jkt": thumbprint(client_key)})
    headers = {
        "Authorization": f"DPoP {token}",
        "DPoP": make_proof(client_key, token=token, url=url),
    }
    status, _, body = fetch(url, headers)
    assert status == 200, body
    status, answer_headers, body = fetch(url, headers)
    assert status == 401
    assert body == {"detail": REPLAYED}
    assert answer_headers["WWW-Authenticate"] == (
        f'DPoP algs="ES256", error="invalid_dpop_proof", error_description="{REPLAYED}"'
    )


def test_missing_signing_keys_are_a_503_with_retry_after(base_url, make_token, jwks_server):
    jwks_server.status = 503
    token = make_token()
    status, headers, body = fetch(
        base_url + "/ninja-api/private-async/", {"Authorization": f"Bearer {token}"}
    )
    assert status == 503
    assert body == {
        "detail": "Tokens cannot be verified right now: the identity provider's signing keys are "
        "not loaded yet. Try again shortly."
    }
    assert headers["Retry-After"] == "5"
