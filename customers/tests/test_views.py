"""The three tutorial endpoints, end to end through DRF with real tokens and a real JWKS server."""

import pytest

from conftest import bearer

pytestmark = pytest.mark.django_db

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}


def test_public_endpoint_answers_json_without_a_token(api_client):
    response = api_client.get("/api/public/")
    assert response.status_code == 200
    assert response.json() == {
        "message": "Hello from a public endpoint! You don't need to be authenticated to see this."
    }


def test_public_endpoint_ignores_a_bad_token(api_client):
    response = api_client.get("/api/public/", **bearer("not-a-jwt"))
    assert response.status_code == 200


def test_public_endpoint_renders_the_browsable_page_in_a_browser(api_client):
    response = api_client.get("/api/public/", HTTP_ACCEPT="text/html")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert b"Hello from a public endpoint!" in response.content


def test_private_endpoint_without_a_token_is_401_with_a_bearer_challenge(api_client):
    response = api_client.get("/api/private/")
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'


def test_private_endpoint_with_a_valid_token_answers_with_the_subject(auth0_api_client):
    response = auth0_api_client(sub="auth0|abc").get("/api/private/")
    assert response.status_code == 200
    assert response.json() == {
        "message": "Hello from a private endpoint! You need to be authenticated to see this.",
        "sub": "auth0|abc",
    }


def test_private_scoped_endpoint_accepts_the_scope_claim(auth0_api_client):
    client = auth0_api_client(scopes=["openid", "read:messages", "write:messages"])
    response = client.get("/api/private-scoped/")
    assert response.status_code == 200
    assert response.json()["sub"] == "auth0|test-user"


def test_private_scoped_endpoint_accepts_rbac_permissions(auth0_api_client):
    response = auth0_api_client(permissions=["read:messages"]).get("/api/private-scoped/")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "grants",
    [
        {},
        {"scopes": ["read:other", "write:messages"]},
        {"scopes": ["read:messages:all"]},
        {"permissions": []},
        {"scopes": []},
    ],
)
def test_private_scoped_endpoint_without_the_scope_is_403_insufficient_scope(
    auth0_api_client, grants
):
    response = auth0_api_client(**grants).get("/api/private-scoped/")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The access token lacks the scope this endpoint needs: read:messages."
    }
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )


def test_private_scoped_endpoint_without_a_token_is_401(api_client):
    response = api_client.get("/api/private-scoped/")
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'
