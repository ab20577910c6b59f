"""The DRF adapter: `JSONWebTokenAuthentication` for Auth0 access tokens, `Authorization: Bearer
<JWT>` and DPoP-bound ones (RFC 9449: `Authorization: DPoP <JWT>` with a `DPoP` proof header).

Every rule lives in the request authenticator (authenticator.py); this class only hands it the
request and translates its verdict: no credentials -> None (DRF answers 401 "not provided" with
the challenges of `authenticate_header`), a refusal -> the DRF exception of exceptions.py, a pass
-> `(user, token)`, so `request.user` is the token's user and `request.auth` its `VerifiedToken`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rest_framework.authentication import BaseAuthentication

from auth0_jwt.authenticator import BEARER, DPOP, REALM, AuthError
from auth0_jwt.exceptions import from_auth_error
from auth0_jwt.runtime import DjangoRequest, get_request_authenticator

if TYPE_CHECKING:
    from rest_framework.request import Request

    from auth0_jwt.verifier import VerifiedToken


class JSONWebTokenAuthentication(BaseAuthentication):
    """Authenticates requests that carry an Auth0-issued (or local development) access token."""

    keyword = BEARER
    dpop_keyword = DPOP
    www_authenticate_realm = REALM

    def authenticate(self, request: Request) -> tuple[Any, VerifiedToken] | None:
        verdict = get_request_authenticator().authenticate(DjangoRequest(request._request))
        if verdict is None:
            return None
        if isinstance(verdict, AuthError):
            raise from_auth_error(verdict)
        return verdict.user, verdict.token

    def authenticate_header(self, request: Request) -> str:
        return get_request_authenticator().no_credentials_challenge()
