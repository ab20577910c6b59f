"""DRF's `required_scopes` is read by the core's rule (`scopes_for_method`), as the plain-view and
Ninja adapters read theirs: one scope named alone is one scope (not its characters), and a method
mapping matches the method in any case."""

import pytest
from rest_framework.exceptions import PermissionDenied
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from auth0_jwt.permissions import HasRequiredScopes, required_scopes_for
from auth0_jwt.verifier import VerifiedToken


def view_requiring(required) -> APIView:
    return type("View", (APIView,), {"required_scopes": required})()


@pytest.mark.parametrize(
    ("required", "method", "scopes"),
    [
        ("read:messages", "GET", ("read:messages",)),
        (["read:messages", "read:customers"], "GET", ("read:messages", "read:customers")),
        ({"GET": ["read:messages"], "POST": ["write:messages"]}, "post", ("write:messages",)),
        ({"get": ["read:messages"]}, "GET", ("read:messages",)),
        ({"get": "read:messages"}, "GET", ("read:messages",)),
        ({"GET": ["read:messages"]}, "DELETE", ()),
        ((), "GET", ()),
    ],
)
def test_required_scopes_for_follows_the_core(required, method, scopes):
    assert required_scopes_for(view_requiring(required), method) == scopes


def token_with(*scopes: str) -> VerifiedToken:
    return VerifiedToken(
        claims={"sub": "auth0|user", "scope": " ".join(scopes)},
        header={"alg": "RS256", "kid": "k"},
        subject="auth0|user",
        scopes=frozenset(scopes),
        expires_at=0.0,
        not_before=None,
        kid="k",
    )


def check(required, *scopes: str) -> bool:
    request = APIRequestFactory().get("/")
    request.auth = token_with(*scopes)
    return HasRequiredScopes().has_permission(request, view_requiring(required))


def test_a_scope_named_alone_is_required_whole():
    assert check("read:messages", "read:messages") is True
    with pytest.raises(PermissionDenied) as refused:
        check("read:messages", "r", "e", "a", "d", ":")  # not its characters
    assert (
        refused.value.detail
        == "The access token lacks the scope this endpoint needs: read:messages."
    )
