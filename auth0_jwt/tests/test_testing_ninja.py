"""The testing plugin's Django Ninja clients: Ninja's `TestClient` and `TestAsyncClient` carrying a
token (and a DPoP proof per request) to operations protected by `Auth0Bearer`."""

import pytest
from asgiref.sync import async_to_sync

pytest.importorskip("ninja")

from ninja import NinjaAPI  # noqa: E402

from auth0_jwt.ninja import Auth0Bearer, install  # noqa: E402
from auth0_jwt.testing import DEFAULT_SUBJECT  # noqa: E402

pytestmark = pytest.mark.django_db

NEEDS_SCOPE = "The access token lacks the scope this endpoint needs: read:messages."

api = NinjaAPI(auth=Auth0Bearer(), urls_namespace="auth0-jwt-testing-plugin")
install(api)


@api.get("/messages", auth=Auth0Bearer(scopes=["read:messages"]))
def messages(request):
    return {"sub": request.auth.subject, "user": request.user.username}


@api.get("/async-messages", auth=Auth0Bearer(scopes=["read:messages"]))
async def async_messages(request):
    return {"sub": request.auth.subject}


def test_the_ninja_client_carries_the_token(auth0_ninja_client):
    response = auth0_ninja_client(api, scopes=["read:messages"]).get("/messages")
    assert response.status_code == 200
    assert response.json() == {"sub": DEFAULT_SUBJECT, "user": "auth0.test-user"}


def test_a_token_without_the_scope_gets_the_drf_403_with_its_header(auth0_ninja_client):
    response = auth0_ninja_client(api, permissions=["read:other"]).get("/messages")
    assert response.status_code == 403
    assert response.json() == {"detail": NEEDS_SCOPE}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )


def test_a_wrong_token_gets_401(auth0_ninja_client):
    response = auth0_ninja_client(api, scopes=["read:messages"], expired=True).get("/messages")
    assert response.status_code == 401
    assert response.json() == {"detail": "The token has expired."}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The token has expired."'
    )


def test_the_ninja_dpop_client_signs_a_proof_per_request(auth0_ninja_client, auth0_dpop_key):
    client = auth0_ninja_client(api, scopes=["read:messages"], dpop_key=auth0_dpop_key)
    for _ in range(2):
        response = client.get("/messages")
        assert response.status_code == 200, response.content
    assert client.auth0.authorization.startswith("DPoP ")


def test_the_ninja_async_client_reaches_async_operations(auth0_ninja_async_client, auth0_dpop_key):
    client = auth0_ninja_async_client(api, scopes=["read:messages"], dpop_key=auth0_dpop_key)
    response = async_to_sync(client.get)("/async-messages")
    assert response.status_code == 200
    assert response.json() == {"sub": DEFAULT_SUBJECT}
    refused = async_to_sync(auth0_ninja_async_client(api).get)("/async-messages")
    assert refused.status_code == 403
    assert refused.json() == {"detail": NEEDS_SCOPE}
