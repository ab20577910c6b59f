"""The example service in token mode (AUTH0_USER=token, `AUTH0["USER"] = "token"`): `check
--deploy` passes without a database to reach, and the customers endpoints, which keep rows per
Django user, refuse token users with a 403 of their own instead of failing on the first query."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from auth0_django_example.tests.support import (
    clean_environment,
    documented_production_environment,
    manage,
)
from conftest import bearer
from customers.models import Customer
from customers.permissions import DatabaseUserRequired

LIST_URL = "/api/customers/"
ALL_SCOPES = "read:customers write:customers"
REFUSED = {
    "detail": "Customers are kept per user in the database; this service runs with "
    "AUTH0_USER=token, which keeps no users."
}
# Nothing listens on port 9 of 127.0.0.1 (discard): any connection attempt fails at once.
UNREACHABLE_DATABASE = "postgres://nobody@127.0.0.1:9/nothing"


@pytest.mark.parametrize("user_mode", ["token", "database"])
def test_check_deploy_needs_no_reachable_database(static_root, user_mode):
    """Neither mode's system checks open a database connection (token mode never needs one for
    authentication; database mode meets its database on the first request)."""
    result = manage(
        "check", "--deploy", "--fail-level", "WARNING",
        env=clean_environment(
            **{
                **documented_production_environment(),
                "DJANGO_STATIC_ROOT": str(static_root),
                "DATABASE_URL": UNREACHABLE_DATABASE,
                "AUTH0_USER": user_mode,
            }
        ),
    )  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "System check identified no issues (0 silenced).\n",
        "",
    )


@pytest.fixture
def token_mode(settings, jwks_server):
    settings.AUTH0 = {**settings.AUTH0, "USER": "token"}


@pytest.mark.django_db
@pytest.mark.parametrize(
    "method, path, body",
    [
        ("get", LIST_URL, None),
        ("post", LIST_URL, {"name": "Ada Lovelace", "email": "ada@example.com"}),
        ("get", f"{LIST_URL}00000000-0000-4000-8000-000000000000/", None),
        ("delete", f"{LIST_URL}00000000-0000-4000-8000-000000000000/", None),
    ],
)
def test_customers_refuse_a_token_user_with_403_and_touch_no_table(
    token_mode, api_client, auth0_token, method, path, body
):
    headers = bearer(auth0_token(sub="auth0|stateless", scopes=ALL_SCOPES))
    with CaptureQueriesContext(connection) as queries:
        response = getattr(api_client, method)(path, body, format="json", **headers)
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert queries.captured_queries == []
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_the_refusal_comes_after_authentication_and_scopes(token_mode, api_client, auth0_token):
    anonymous = api_client.get(LIST_URL)
    assert anonymous.status_code == 401
    no_scope = api_client.get(LIST_URL, **bearer(auth0_token(scopes="write:customers")))
    assert (no_scope.status_code, no_scope.json()) == (
        403,
        {"detail": "The access token lacks the scope this endpoint needs: read:customers."},
    )
    assert no_scope.headers["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:customers"'
    )


@pytest.mark.django_db
def test_database_mode_serves_customers_as_before(api_client, auth0_token):
    response = api_client.get(LIST_URL, **bearer(auth0_token(scopes=ALL_SCOPES)))
    assert response.status_code == 200
    assert DatabaseUserRequired.code == "database_user_required"
