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


def test_private_endpoint_with_a_valid_token_answers_with_the_subject(api_client, make_token):
    response = api_client.get("/api/private/", **bearer(make_token(sub="auth0|abc")))
    assert response.status_code == 200
    assert response.json() == {
        "message": "Hello from a private endpoint! You need to be authenticated to see this.",
        "sub": "auth0|abc",
    }


def test_private_scoped_endpoint_accepts_the_scope_claim(api_client, make_token):
    token = make_token(scope="openid read:messages write:messages")
    response = api_client.get("/api/private-scoped/", **bearer(token))
    assert response.status_code == 200
    assert response.json()["sub"] == "auth0|user-1"


def test_private_scoped_endpoint_accepts_rbac_permissions(api_client, make_token):
    token = make_token(permissions=["read:messages"])
    response = api_client.get("/api/private-scoped/", **bearer(token))
    assert response.status_code == 200


@pytest.mark.parametrize(
    "claims",
    [
        {},
        {"scope": "read:other write:messages"},
        {"scope": "read:messages:all"},
        {"permissions": []},
        {"scope": ""},
    ],
)
def test_private_scoped_endpoint_without_the_scope_is_403_insufficient_scope(
    api_client, make_token, claims
):
    response = api_client.get("/api/private-scoped/", **bearer(make_token(**claims)))
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
