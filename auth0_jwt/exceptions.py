"""The DRF adapter's errors: a DRF exception for each answer of the request authenticator
(authenticator.py), and the exception handler that puts the core's headers on DRF's answer.

DRF sets `WWW-Authenticate: Bearer realm="api"` on 401 answers; for a rejected token RFC 6750
section 3 also wants the `error` (and a description), for a missing scope a 403 with
`error="insufficient_scope"` and the `scope` needed, and a request made with the DPoP scheme
(RFC 9449 section 7.1) a `DPoP algs="ES256", error=...` challenge. The core computes those headers
(`AuthError.headers`); `exception_handler` sets them. An exception of this module raised by a
project's own code (`raise InvalidToken("...")`) gets the same headers, built from its class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed, PermissionDenied

from auth0_jwt.authenticator import REALM, AuthError, bearer_challenge
from auth0_jwt.verifier import VerifiedToken

if TYPE_CHECKING:
    from rest_framework.response import Response

    # For the type checker, the mixins are the DRF exceptions they are mixed into.
    _MixedIntoAPIException = APIException
else:
    _MixedIntoAPIException = object

__all__ = [
    "REALM",
    "DPoPInvalidRequest",
    "DPoPInvalidToken",
    "DatabaseUnavailable",
    "InsufficientScope",
    "InvalidDPoPProof",
    "InvalidRequest",
    "InvalidToken",
    "ReplayCacheUnavailable",
    "SigningKeysUnavailable",
    "UseDPoPNonce",
    "bearer_challenge",
    "exception_handler",
    "from_auth_error",
]


class CoreAnswerMixin(_MixedIntoAPIException):
    """A DRF exception that may carry the core's `AuthError` (and so its headers)."""

    auth_error: AuthError | None = None


class BearerChallengeMixin(CoreAnswerMixin):
    """An error that carries an RFC 6750 `error` code for the `WWW-Authenticate` header."""

    bearer_error: str = ""
    challenge_scheme: str = "Bearer"  # or "DPoP" for errors of a request made with DPoP

    def challenge_parameters(self) -> dict[str, str]:
        return {"error": self.bearer_error, "error_description": str(self.detail)}


class InvalidToken(BearerChallengeMixin, AuthenticationFailed):
    """The bearer token was rejected (expired, wrong audience, bad signature, ...)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "The access token is invalid."
    default_code = "invalid_token"
    bearer_error = "invalid_token"


class InvalidRequest(BearerChallengeMixin, AuthenticationFailed):
    """The Authorization header (or a token in the URL) is malformed: RFC 6750 `invalid_request`."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The Authorization header is malformed."
    default_code = "invalid_request"
    bearer_error = "invalid_request"


class InvalidDPoPProof(BearerChallengeMixin, AuthenticationFailed):
    """The DPoP proof was rejected (RFC 9449 section 7.1: `invalid_dpop_proof`)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "The DPoP proof is invalid."
    default_code = "invalid_dpop_proof"
    bearer_error = "invalid_dpop_proof"
    challenge_scheme = "DPoP"


class UseDPoPNonce(InvalidDPoPProof):
    """Server nonces are on and the proof lacks a current one (RFC 9449 section 9): the answer
    carries the nonce to use in the `DPoP-Nonce` header."""

    default_code = "use_dpop_nonce"
    bearer_error = "use_dpop_nonce"

    def __init__(self, detail: str, nonce: str):
        super().__init__(detail)
        self.nonce = nonce


class DPoPInvalidToken(InvalidToken):
    """The access token of a DPoP request was rejected (or is not bound to the proof's key)."""

    challenge_scheme = "DPoP"


class DPoPInvalidRequest(InvalidRequest):
    """The DPoP request is malformed (no DPoP header, two of them, a proof that is not one JWS)."""

    challenge_scheme = "DPoP"


class InsufficientScope(BearerChallengeMixin, PermissionDenied):
    """A valid token lacks a scope (or RBAC permission) the endpoint needs."""

    default_detail = "The access token does not grant the scope this endpoint needs."
    default_code = "insufficient_scope"
    bearer_error = "insufficient_scope"

    def __init__(self, scopes: Iterable[str], *, token: VerifiedToken | None = None):
        self.scopes = tuple(scopes)
        self.token = token  # the request's token, if known: its `cnf` picks the DPoP challenge
        super().__init__(
            detail=f"The access token lacks the scope this endpoint needs: {' '.join(self.scopes)}."
        )

    def challenge_parameters(self) -> dict[str, str]:
        return {"error": self.bearer_error, "scope": " ".join(self.scopes)}


class SigningKeysUnavailable(CoreAnswerMixin, APIException):
    """The issuer's signing keys are not loaded yet (IdP down or slow at start)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "Tokens cannot be verified right now: the identity provider's signing keys are not "
        "loaded yet. Try again shortly."
    )
    default_code = "signing_keys_unavailable"


class DatabaseUnavailable(CoreAnswerMixin, APIException):
    """The token is valid but its user cannot be loaded because the database is down."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service's database is unavailable. Try again shortly."
    default_code = "database_unavailable"


class ReplayCacheUnavailable(CoreAnswerMixin, APIException):
    """A DPoP proof cannot be checked for replay because the shared replay store is down."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "DPoP proofs cannot be checked right now: the replay cache is unavailable. "
        "Try again shortly."
    )
    default_code = "replay_cache_unavailable"


# The DRF exception of each core answer, by (code, challenge scheme).
_EXCEPTIONS: dict[tuple[str, str | None], type[CoreAnswerMixin]] = {
    ("invalid_request", "Bearer"): InvalidRequest,
    ("invalid_request", "DPoP"): DPoPInvalidRequest,
    ("invalid_token", "Bearer"): InvalidToken,
    ("invalid_token", "DPoP"): DPoPInvalidToken,
    ("invalid_dpop_proof", "DPoP"): InvalidDPoPProof,
    ("signing_keys_unavailable", None): SigningKeysUnavailable,
    ("database_unavailable", None): DatabaseUnavailable,
    ("replay_cache_unavailable", None): ReplayCacheUnavailable,
}


def from_auth_error(error: AuthError) -> APIException:
    """The DRF exception for the core's answer, carrying it (and so its headers)."""
    exc: CoreAnswerMixin
    if error.code == "use_dpop_nonce":
        exc = UseDPoPNonce(error.detail, error.headers.get("DPoP-Nonce", ""))
    elif error.code == "insufficient_scope":
        exc = InsufficientScope(error.scopes)
    else:
        exc = _EXCEPTIONS[error.code, error.scheme](error.detail)
    exc.auth_error = error
    return exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus the RFC 6750 / RFC 9449 challenge and Retry-After where they apply."""
    # Imported here: rest_framework.views imports the authentication classes, which import this.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, CoreAnswerMixin):
        return response
    error = exc.auth_error or _auth_error_of(exc, context)
    for name, value in error.headers.items():
        response[name] = value
    return response


def _auth_error_of(exc: CoreAnswerMixin, context: Mapping[str, Any]) -> AuthError:
    """The core's answer for an exception raised without one (by a project's own code)."""
    from auth0_jwt.runtime import get_request_authenticator

    authenticator = get_request_authenticator()
    if isinstance(exc, InsufficientScope):
        token = exc.token or getattr(context.get("request"), "_auth", None)
        return authenticator.insufficient_scope(exc.scopes, token=_verified(token))
    if isinstance(exc, BearerChallengeMixin):
        return authenticator.error(
            exc.bearer_error,
            str(exc.detail),
            scheme=exc.challenge_scheme,
            nonce=getattr(exc, "nonce", None),
        )
    return authenticator.error(exc.default_code, str(exc.detail))


def _verified(token: object) -> VerifiedToken | None:
    return token if isinstance(token, VerifiedToken) else None
