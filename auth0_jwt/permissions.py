"""Scope and organization checks for DRF views: a view lists the scopes it needs, per HTTP method
or for all, and may belong to one Auth0 organization (or a few)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import BasePermission

from auth0_jwt.authenticator import scopes_for_method
from auth0_jwt.exceptions import from_auth_error
from auth0_jwt.runtime import get_request_authenticator
from auth0_jwt.verifier import VerifiedToken

if TYPE_CHECKING:
    # Not at run time: rest_framework.views imports the permission classes its settings name.
    from rest_framework.request import Request
    from rest_framework.views import APIView


def required_scopes_for(view: object, method: str) -> tuple[str, ...]:
    """The scopes `view` needs for `method`: `required_scopes` is a sequence or a method mapping,
    read by the core's rule, as the plain-view and Ninja adapters read theirs."""
    return scopes_for_method(getattr(view, "required_scopes", ()), method)


class HasRequiredScopes(BasePermission):
    """Grants access when the token holds every scope the view requires.

    A scope counts when it is in the space-separated `scope` claim or in Auth0's RBAC
    `permissions` list. Without a valid token the answer is 401; with one that lacks a scope,
    403 with `error="insufficient_scope"` (RFC 6750 section 3.1).
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, VerifiedToken) or request.method is None:
            return False
        error = get_request_authenticator().check_scopes(
            token, required_scopes_for(view, request.method)
        )
        if error is not None:
            raise from_auth_error(error)
        return True


class HasRequiredOrganization(BasePermission):
    """Grants access when the token acts for the view's `required_organization`: an organization
    id (`org_...`, compared exactly), a name (compared lower-cased with the token's `org_name`),
    or a list of them.

    Without a valid token the answer is 401; with a token of another organization, or of none,
    401 `invalid_token`, as Auth0 asks of an API: "otherwise deem the token invalid".
    """

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, VerifiedToken):
            return False
        required = getattr(view, "required_organization", None)
        if not required:
            raise ImproperlyConfigured(
                f"{type(view).__name__} uses HasRequiredOrganization without a "
                "required_organization (an organization id or name, or a list of them)."
            )
        error = get_request_authenticator().check_organization(token, required)
        if error is not None:
            raise from_auth_error(error)
        return True
