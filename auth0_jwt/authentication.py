"""DRF authentication for Auth0 access tokens: `Authorization: Bearer <JWT>`.

`authenticate()` is a short pipeline: get_header -> get_raw_token -> get_validated_token ->
get_user. It returns None when the request carries no Bearer credentials (so DRF answers 401
"not provided" with a `Bearer realm="api"` challenge) and raises an RFC 6750 error otherwise.
"""

import logging
import re

from django.db import DatabaseError
from rest_framework.authentication import BaseAuthentication

from auth0_jwt.exceptions import (
    REALM,
    DatabaseUnavailable,
    InvalidRequest,
    InvalidToken,
    SigningKeysUnavailable,
)
from auth0_jwt.users import MAX_SUBJECT_LENGTH, get_or_create_user_for_subject
from auth0_jwt.verifier import (
    KeySetUnavailable,
    TokenRejected,
    VerifiedToken,
    decode_segment,
    get_token_verifier,
)

logger = logging.getLogger(__name__)

# RFC 6750 section 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class JSONWebTokenAuthentication(BaseAuthentication):
    """Authenticates requests that carry an Auth0-issued (or local development) access token."""

    keyword = "Bearer"
    www_authenticate_realm = REALM

    def authenticate(self, request):
        self.reject_token_in_url(request)
        header = self.get_header(request)
        if header is None:
            return None
        raw_token = self.get_raw_token(header)
        if raw_token is None:
            return None
        token = self.get_validated_token(request, raw_token)
        return self.get_user(request, token), token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="{self.www_authenticate_realm}"'

    def reject_token_in_url(self, request) -> None:
        """Tokens in URLs end up in logs and browser history; RFC 6750 lets us refuse them."""
        if request.META.get("QUERY_STRING") and "access_token" in request.query_params:
            raise InvalidRequest(
                "Send the access token in the Authorization header, not in the URL."
            )

    def get_header(self, request) -> str | None:
        """The Authorization header, or None when absent or empty."""
        header = request.META.get("HTTP_AUTHORIZATION", "")
        return header if header.strip() else None

    def get_raw_token(self, header: str) -> str | None:
        """The token of a `Bearer` header (scheme case-insensitive), or None for other schemes."""
        # Only HTTP's whitespace (SP, HTAB) separates the scheme from the token: str.split() would
        # also split on NBSP, NEL, VT, FF and \x1c-\x1f, so a proxy and this API would read the
        # header differently. (Splitting on " " with tabs made spaces is that, without a regex.)
        parts = [part for part in header.replace("\t", " ").split(" ") if part]
        if parts[0].lower() != self.keyword.lower():
            return None
        if len(parts) == 1:
            raise InvalidRequest("The Authorization header has no token after Bearer.")
        if len(parts) > 2:
            raise InvalidRequest("The Authorization header must hold exactly one token.")
        if not B64TOKEN.fullmatch(parts[1]):
            raise InvalidRequest("The access token contains characters that are not allowed.")
        return parts[1]

    def get_validated_token(self, request, raw_token: str) -> VerifiedToken:
        """Verify the token; translate a rejection into a 401 and missing keys into a 503."""
        try:
            return get_token_verifier().verify(raw_token)
        except TokenRejected as exc:
            self.log_rejection(request, raw_token, exc.reason)
            raise InvalidToken(exc.reason) from None
        except KeySetUnavailable as exc:
            logger.warning("Token not verified: signing keys unavailable (%s)", exc)
            raise SigningKeysUnavailable() from None

    def get_user(self, request, token: VerifiedToken):
        """The user of the token's `sub`, created just in time; inactive users are refused."""
        if len(token.subject) > MAX_SUBJECT_LENGTH:
            reason = f"The token's sub claim is longer than {MAX_SUBJECT_LENGTH} characters."
            self.log_rejection(request, None, reason, token=token)
            raise InvalidToken(reason)
        try:
            user = get_or_create_user_for_subject(token.subject)
        except DatabaseError as exc:
            logger.error("Token accepted but the user could not be loaded: %s", type(exc).__name__)
            raise DatabaseUnavailable() from None
        if not user.is_active:
            reason = "The user account of this token is disabled."
            self.log_rejection(request, None, reason, token=token)
            raise InvalidToken(reason)
        return user

    def log_rejection(self, request, raw_token, reason, *, token=None) -> None:
        """One INFO line per rejected token: reason, kid, iss, client, request id. No token."""
        header, claims = {}, {}
        if token is not None:
            header, claims = token.header, token.claims
        elif raw_token is not None:
            header, claims = _unverified_parts(raw_token)
        logger.info(
            "Token rejected: %s",
            reason,
            extra={
                "event": "token_rejected",
                "reason": reason,
                "kid": _printable(header.get("kid")),
                "iss": _printable(claims.get("iss")),
                "client": request.META.get("REMOTE_ADDR"),
                # Set by auth0_django_example's RequestIdMiddleware, when installed.
                "request_id": getattr(request, "request_id", None),
            },
        )


def _unverified_parts(raw_token: str) -> tuple[dict, dict]:
    """Header and claims for logging only, never trusted; each empty where it cannot be read."""
    parts = []
    for index, name in enumerate(("header", "payload")):
        try:
            parts.append(decode_segment(raw_token, index, name))
        except TokenRejected:
            parts.append({})
    return parts[0], parts[1]


def _printable(value, limit=200) -> str | None:
    """A short, single-line string of an untrusted value, safe for a log line."""
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text.encode("unicode_escape").decode("ascii")[:limit]
