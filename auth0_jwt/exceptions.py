"""API errors of the authentication layer and the exception handler that adds RFC 6750 challenges.

DRF sets `WWW-Authenticate: Bearer realm="api"` on 401 answers; for a rejected token RFC 6750
section 3 also wants the `error` (and a description), and for a missing scope a 403 with
`error="insufficient_scope"` and the `scope` needed. `exception_handler` adds those.

Errors of a request made with the DPoP scheme (RFC 9449 section 7.1) carry the same parameters in a
`DPoP algs="ES256", error=...` challenge, with `error="invalid_dpop_proof"` for a bad proof.
"""

import re

from rest_framework import status
from rest_framework.exceptions import APIException, AuthenticationFailed, PermissionDenied

from auth0_jwt.conf import get_auth0_settings

REALM = "api"
# RFC 6750 section 3: error_description and scope use %x20-21 / %x23-5B / %x5D-7E only.
_CHALLENGE_UNSAFE = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


def _quoted(value: str) -> str:
    return '"' + _CHALLENGE_UNSAFE.sub("", value) + '"'


class BearerChallengeMixin:
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

    def __init__(self, detail, nonce: str):
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

    def __init__(self, scopes):
        self.scopes = tuple(scopes)
        super().__init__(
            detail=f"The access token lacks the scope this endpoint needs: {' '.join(self.scopes)}."
        )

    def challenge_parameters(self) -> dict[str, str]:
        return {"error": self.bearer_error, "scope": " ".join(self.scopes)}


class SigningKeysUnavailable(APIException):
    """The issuer's signing keys are not loaded yet (IdP down or slow at start)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "Tokens cannot be verified right now: the identity provider's signing keys are not "
        "loaded yet. Try again shortly."
    )
    default_code = "signing_keys_unavailable"


class DatabaseUnavailable(APIException):
    """The token is valid but its user cannot be loaded because the database is down."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service's database is unavailable. Try again shortly."
    default_code = "database_unavailable"


class ReplayCacheUnavailable(APIException):
    """A DPoP proof cannot be checked for replay because the shared replay store is down."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = (
        "DPoP proofs cannot be checked right now: the replay cache is unavailable. "
        "Try again shortly."
    )
    default_code = "replay_cache_unavailable"


def bearer_challenge(**parameters: str) -> str:
    """`Bearer realm="api", name="value", ...`, values stripped of characters RFC 6750 forbids."""
    items = [f"realm={_quoted(REALM)}"] + [
        f"{name}={_quoted(value)}" for name, value in parameters.items() if value
    ]
    return "Bearer " + ", ".join(items)


def dpop_challenge(**parameters: str) -> str:
    """`DPoP algs="ES256", name="value", ...` (RFC 9449 section 7.1), algs from the settings."""
    algorithms = " ".join(get_auth0_settings().dpop_algorithms)
    items = [f"algs={_quoted(algorithms)}"] + [
        f"{name}={_quoted(value)}" for name, value in parameters.items() if value
    ]
    return "DPoP " + ", ".join(items)


def no_credentials_challenge(dpop_mode: str) -> str:
    """The challenge of a 401 without credentials: the schemes the API accepts in this mode."""
    if dpop_mode == "off":
        return bearer_challenge()
    if dpop_mode == "required":
        return dpop_challenge()
    return bearer_challenge() + ", " + dpop_challenge()


def exception_handler(exc, context):
    """DRF's handler, plus RFC 6750 challenge parameters and Retry-After where they apply."""
    # Imported here: rest_framework.views imports the authentication classes, which import this.
    from rest_framework.views import exception_handler as drf_exception_handler

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, BearerChallengeMixin):
        if exc.challenge_scheme == "DPoP" or _authenticated_with_dpop(exc, context):
            response["WWW-Authenticate"] = dpop_challenge(**exc.challenge_parameters())
        else:
            response["WWW-Authenticate"] = bearer_challenge(**exc.challenge_parameters())
        if isinstance(exc, UseDPoPNonce):
            response["DPoP-Nonce"] = exc.nonce
    elif isinstance(exc, (SigningKeysUnavailable, DatabaseUnavailable, ReplayCacheUnavailable)):
        response["Retry-After"] = "5"
    return response


def _authenticated_with_dpop(exc, context) -> bool:
    """Whether a missing scope is reported on a request made with DPoP: only DPoP-bound tokens
    (`cnf`) get that far with DPoP, and the Bearer scheme refuses them."""
    if not isinstance(exc, InsufficientScope):
        return False
    request = context.get("request")
    token = getattr(request, "_auth", None)
    claims = getattr(token, "claims", None)
    return claims is not None and "cnf" in claims
