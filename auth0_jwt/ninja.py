"""The Django Ninja adapter: `Auth0Bearer`, for `auth=` on an operation, a router or a whole
`NinjaAPI`, and `install(api)`, the one line that makes its answers DRF's to the header.

Every rule lives in the request authenticator (authenticator.py). `Auth0Bearer` hands it the
request, `authenticate()` for sync operations and `aauthenticate()` for async ones (key fetches,
the replay store and the user lookup then never wait on the event loop), and translates its
verdict:

- a pass: it returns the `VerifiedToken`, which Ninja puts in `request.auth`, and sets
  `request.user` (and `request.auser()`) to the token's user, already loaded;
- a refusal, no credentials at all, or a token without the operation's `scopes`: it raises
  `Auth0Error`, a Ninja `HttpError`, so even Ninja's default handler answers with the status and
  `{"detail": ...}` DRF gives. That handler drops the headers; `install(api)` puts in the one that
  keeps them (`WWW-Authenticate`, `Retry-After`, `DPoP-Nonce`) and the scopes in the OpenAPI
  document, where Ninja writes none.

A request without credentials is refused (401, as DRF's `IsAuthenticated` does), so in an
`auth=[...]` list `Auth0Bearer` goes last.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from django.http import HttpRequest, JsonResponse
from ninja.errors import HttpError
from ninja.openapi.schema import OpenAPISchema
from ninja.security.base import AuthBase

from auth0_jwt.authenticator import AuthError, organization_allow_list
from auth0_jwt.django import error_response
from auth0_jwt.runtime import DjangoRequest, get_request_authenticator

if TYPE_CHECKING:
    from ninja import NinjaAPI
    from ninja.operation import Operation

    from auth0_jwt.authenticator import Authenticated, RequestAuthenticator
    from auth0_jwt.verifier import VerifiedToken

__all__ = ["Auth0Bearer", "Auth0Error", "auth0_error_handler", "install"]


class Auth0Error(HttpError):
    """A refusal by `Auth0Bearer`, carrying the core's answer (`error`) with its headers."""

    def __init__(self, error: AuthError):
        super().__init__(error.status, error.detail)
        self.error = error


def auth0_error_handler(request: HttpRequest, exc: Auth0Error) -> JsonResponse:
    """The answer to an `Auth0Error`, as DRF gives it: status, `{"detail": ...}`, headers."""
    return error_response(exc.error)  # the same bytes as DRF's compact JSON, not Ninja's


class Auth0Bearer(AuthBase):
    """Authenticates a Ninja operation with an Auth0 access token (Bearer, or DPoP-bound); with
    `scopes`, the token must also grant each of them (from `scope` or RBAC `permissions`); with
    `organization` (an Auth0 organization id `org_...` or name, or a list), act for it."""

    openapi_type = "http"
    openapi_scheme = "bearer"
    openapi_bearerFormat = "JWT"  # noqa: N815 - the OpenAPI field, as Ninja collects it
    openapi_description = (
        "An access token issued for this API: `Authorization: Bearer <token>`, or, for a token "
        "bound to a key (`cnf`), `Authorization: DPoP <token>` with a `DPoP` proof header "
        '(RFC 9449), as AUTH0["DPOP"] allows. Required scopes are listed in the security '
        "requirement."
    )

    def __init__(self, scopes: Iterable[str] = (), *, organization: str | Iterable[str] = ()):
        if isinstance(scopes, str):
            raise TypeError('scopes is a list of scope names, e.g. scopes=["read:messages"]')
        super().__init__()
        self.scopes = tuple(scopes)
        self.organization = organization
        if organization:
            organization_allow_list(organization)  # a value that is no allow-list fails here
        # Ninja then awaits what __call__ returns in async operations; in sync ones it takes a
        # result that is not a coroutine as it is.
        self.is_async = True

    def __call__(self, request: HttpRequest) -> VerifiedToken | Coroutine[Any, Any, VerifiedToken]:
        authenticator = get_request_authenticator()
        # Ninja calls this on the event loop for an async operation, off it for a sync one.
        if _event_loop_running():
            return self._aauthenticate(authenticator, request)
        return self._accept(
            authenticator, request, authenticator.authenticate(DjangoRequest(request))
        )

    async def _aauthenticate(
        self, authenticator: RequestAuthenticator, request: HttpRequest
    ) -> VerifiedToken:
        verdict = await authenticator.aauthenticate(DjangoRequest(request))
        return self._accept(authenticator, request, verdict)

    def _accept(
        self,
        authenticator: RequestAuthenticator,
        request: HttpRequest,
        verdict: Authenticated | AuthError | None,
    ) -> VerifiedToken:
        """The token for `request.auth`, or `Auth0Error` with the core's answer."""
        if verdict is None:
            raise Auth0Error(authenticator.not_authenticated())
        if isinstance(verdict, AuthError):
            raise Auth0Error(verdict)
        error = authenticator.check_scopes(verdict.token, self.scopes)
        if error is None and self.organization:
            error = authenticator.check_organization(verdict.token, self.organization)
        if error is not None:
            raise Auth0Error(error)
        user = verdict.user
        request.user = user

        async def auser() -> Any:
            return user

        request.auser = auser
        return verdict.token


def _event_loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def install(api: NinjaAPI) -> None:
    """Give `api` the handler that answers `Auth0Error` with its headers, and the OpenAPI document
    with each `Auth0Bearer`'s scopes."""
    # Ninja types a handler as taking the exception or its class; Auth0Error is raised built.
    api.add_exception_handler(Auth0Error, auth0_error_handler)  # type: ignore[arg-type]
    # This api's own method, replaced on the instance.
    api.get_openapi_schema = partial(_get_openapi_schema, api)  # type: ignore[method-assign]


def _get_openapi_schema(
    api: NinjaAPI,
    *,
    path_prefix: str | None = None,
    path_params: dict[str, Any] | None = None,
) -> OpenAPISchema:
    """`NinjaAPI.get_openapi_schema`, building the document below."""
    if path_prefix is None:
        path_prefix = api.get_root_path(path_params or {})
    return _OpenAPISchema(api, path_prefix)


class _OpenAPISchema(OpenAPISchema):
    """Ninja's OpenAPI document, with each operation's `Auth0Bearer` scopes in its security
    requirement (Ninja leaves every list empty; OpenAPI 3.1 lets an `http` scheme's list name the
    roles an operation needs)."""

    def operation_security(self, operation: Operation) -> list[dict[str, Any]] | None:
        security = super().operation_security(operation)
        documented = [
            auth for auth in operation.auth_callbacks if hasattr(auth, "openapi_security_schema")
        ]
        for requirement, auth in zip(security or (), documented, strict=True):
            if isinstance(auth, Auth0Bearer):
                requirement[type(auth).__name__] = list(auth.scopes)
        return security
