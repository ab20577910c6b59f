"""Scope and permission shapes on /api/private-scoped/ (needs `read:messages`).

A valid token with the scope: 200. Without it: 403 `insufficient_scope`. A `scope` or
`permissions` claim of the wrong shape makes the token itself invalid: 401 `invalid_token`.
"""

import pytest

from auth0_jwt.tests.attacks.support import (
    SCOPED,
    assert_accepted,
    assert_insufficient_scope,
    assert_invalid_token,
    assert_no_credentials,
    claims,
    now,
    rs256,
)
from conftest import bearer

pytestmark = pytest.mark.django_db

BAD_SCOPE = "The token's scope claim is not a space-separated string."
BAD_PERMISSIONS = "The token's permissions claim is not a list of strings."


def get(api_client, rsa_key, payload, **header):
    return api_client.get(SCOPED, **bearer(rs256(rsa_key, payload, **header)))


@pytest.mark.parametrize(
    "grant",
    [
        {"scope": "read:messages"},
        {"scope": "openid profile read:messages email"},
        {"scope": "  read:messages  "},
        {"permissions": ["read:messages"]},
        {"permissions": ["write:messages", "read:messages"]},
        {"scope": "openid", "permissions": ["read:messages"]},
        {"scope": "read:messages", "permissions": []},
    ],
    ids=repr,
)
def test_scope_or_permission_read_messages_is_accepted(api_client, rsa_key, grant):
    assert_accepted(get(api_client, rsa_key, claims(**grant)))


@pytest.mark.parametrize(
    "grant",
    [
        {},
        {"scope": ""},
        {"scope": "openid profile"},
        {"scope": "read:message"},
        {"scope": "read:messages2"},
        {"scope": "READ:MESSAGES"},
        {"scope": "read:messages,write:messages"},
        {"scope": "read:messages;"},
        {"scope": '"read:messages"'},
        {"scope": "read:*"},
        {"scope": "*"},
        {"scope": "read"},
        {"scope": "messages:read"},
        {"permissions": []},
        {"permissions": ["read:messages "]},
        {"permissions": ["READ:MESSAGES"]},
        {"permissions": ["read:messages write:messages"]},
        {"scp": ["read:messages"]},
        {"scopes": "read:messages"},
        {"roles": ["read:messages"]},
        {"https://api.example.test/scope": "read:messages"},
    ],
    ids=repr,
)
def test_token_without_the_scope_in_scope_or_permissions_is_403(api_client, rsa_key, grant):
    assert_insufficient_scope(get(api_client, rsa_key, claims(**grant)))


def test_scope_in_the_header_instead_of_the_claims_is_403(api_client, rsa_key):
    assert_insufficient_scope(get(api_client, rsa_key, claims(), scope="read:messages"))


@pytest.mark.parametrize(
    "scope",
    [None, ["read:messages"], {"read:messages": True}, 1, True],
    ids=repr,
)
def test_scope_claim_that_is_not_a_string_makes_the_token_invalid(api_client, rsa_key, scope):
    assert_invalid_token(get(api_client, rsa_key, claims(scope=scope)), BAD_SCOPE)


@pytest.mark.parametrize(
    "permissions",
    [None, "read:messages", [["read:messages"]], ["read:messages", 1], [None], {"0": "x"}],
    ids=repr,
)
def test_permissions_claim_that_is_not_a_list_of_strings_makes_the_token_invalid(
    api_client, rsa_key, permissions
):
    response = get(api_client, rsa_key, claims(scope="read:messages", permissions=permissions))
    assert_invalid_token(response, BAD_PERMISSIONS)


def test_scoped_endpoint_without_a_token_is_401_not_403(api_client):
    assert_no_credentials(api_client.get(SCOPED))


def test_expired_token_with_the_scope_is_401_not_403(api_client, rsa_key):
    payload = claims(scope="read:messages", iat=now() - 7200, exp=now() - 3600)
    assert_invalid_token(get(api_client, rsa_key, payload), "The token has expired.")


def test_forged_token_with_the_scope_is_401(api_client, other_rsa_key):
    response = get(api_client, other_rsa_key, claims(scope="read:messages"))
    assert_invalid_token(response, "The token's signature is invalid.")
