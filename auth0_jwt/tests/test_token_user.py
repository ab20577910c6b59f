"""Stateless mode (`AUTH0["USER"] = "token"`): request.user is built from the token, with no
database read and no row written; everything else about the token is checked as in database mode."""

import pytest
from django.contrib.auth import get_user_model
from django.core.checks import run_checks
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auth0_jwt.models import Auth0Identity
from auth0_jwt.runtime import get_request_authenticator
from auth0_jwt.token_user import TokenUser
from conftest import bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def token_mode(settings, jwks_server):
    settings.AUTH0 = {**settings.AUTH0, "USER": "token"}


def test_a_valid_token_is_served_without_touching_the_database(token_mode, api_client, make_token):
    token = make_token(sub="auth0|stateless")
    with CaptureQueriesContext(connection) as queries:
        response = api_client.get("/api/private/", **bearer(token))
    assert response.status_code == 200
    assert response.json()["sub"] == "auth0|stateless"
    assert queries.captured_queries == []
    assert Auth0Identity.objects.count() == 0
    assert get_user_model().objects.count() == 0


def test_the_user_is_a_token_user_with_the_tokens_sub_scopes_and_permissions(
    token_mode, rf, make_token
):
    token = make_token(sub="auth0|abc", scope="read:messages", permissions=["write:messages"])
    request = rf.get("/api/private/", **bearer(token))
    from auth0_jwt.runtime import DjangoRequest

    verdict = get_request_authenticator().authenticate(DjangoRequest(request))
    user = verdict.user
    assert isinstance(user, TokenUser)
    assert (user.is_authenticated, user.is_anonymous, user.is_active) == (True, False, True)
    assert (user.sub, user.pk, user.id, user.get_username(), str(user)) == ("auth0|abc",) * 5
    assert user.scopes == frozenset({"read:messages", "write:messages"})
    assert user.permissions == ("write:messages",)
    assert user.has_perm("customers.add_customer") is False
    assert user == TokenUser(verdict.token) and hash(user) == hash("auth0|abc")


def test_scopes_are_checked_as_in_database_mode(token_mode, api_client, make_token):
    response = api_client.get("/api/private-scoped/", **bearer(make_token(scope="other")))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The access token lacks the scope this endpoint needs: read:messages."
    }
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )


def test_a_bad_token_is_refused_as_in_database_mode(token_mode, api_client, make_token):
    response = api_client.get("/api/private/", **bearer(make_token(aud="https://other.test/")))
    assert response.status_code == 401
    assert response.json() == {"detail": "The token's audience is not this API."}


def test_database_mode_is_the_default_and_creates_the_user(api_client, make_token):
    response = api_client.get("/api/private/", **bearer(make_token(sub="auth0|kept")))
    assert response.status_code == 200
    assert Auth0Identity.objects.get(sub="auth0|kept").user.username == "auth0.kept"


def test_an_unknown_user_mode_is_a_check_error_naming_the_key(settings):
    settings.AUTH0 = {**settings.AUTH0, "USER": "session"}
    messages = [error.msg for error in run_checks() if error.id == "auth0_jwt.E002"]
    assert messages == ["AUTH0[\"USER\"] must be one of database, token; got 'session'."]
