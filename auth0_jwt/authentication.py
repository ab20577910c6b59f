"""DRF authentication for Auth0 access tokens: `Authorization: Bearer <JWT>`, and DPoP-bound ones
(RFC 9449): `Authorization: DPoP <JWT>` with a `DPoP: <proof JWT>` header.

`authenticate()` is a short pipeline: get_header -> get_raw_token -> get_validated_token ->
get_user. It returns None when the request carries no credentials of an accepted scheme (so DRF
answers 401 "not provided" with the challenges of `authenticate_header`) and raises an RFC 6750
error otherwise. A DPoP request adds, after the token: get_dpop_proof -> get_validated_proof ->
the token's `cnf.jkt` against the proof's key -> check_replay. `AUTH0_DPOP` (off, allowed,
required) decides which schemes are accepted; a token bound to a key is never accepted as Bearer.
"""

import hmac
import logging
import re

from django.db import DatabaseError
from rest_framework.authentication import BaseAuthentication

from auth0_jwt.conf import get_auth0_settings
from auth0_jwt.dpop import (
    MalformedProof,
    NonceRequired,
    ProofRejected,
    VerifiedProof,
    check_proof_syntax,
    get_dpop_verifier,
)
from auth0_jwt.exceptions import (
    REALM,
    DatabaseUnavailable,
    DPoPInvalidRequest,
    DPoPInvalidToken,
    InvalidDPoPProof,
    InvalidRequest,
    InvalidToken,
    ReplayCacheUnavailable,
    SigningKeysUnavailable,
    UseDPoPNonce,
    no_credentials_challenge,
)
from auth0_jwt.replay import ReplayStoreUnavailable, get_replay_store, replay_key
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
BOUND_AS_BEARER = (
    "The token is bound to a DPoP key (cnf claim), so it cannot be used as a Bearer token."
)
DPOP_REQUIRED = (
    "This API accepts DPoP-bound tokens only: send Authorization: DPoP <token> with a DPoP proof."
)
NOT_BOUND = "The token is not bound to a key (no cnf.jkt claim), so it cannot be used with DPoP."
OTHER_KEY = "The token is bound to another key than the one that signed the DPoP proof."
NO_PROOF = "A DPoP request needs exactly one DPoP header holding a proof."
REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."


class JSONWebTokenAuthentication(BaseAuthentication):
    """Authenticates requests that carry an Auth0-issued (or local development) access token."""

    keyword = "Bearer"
    dpop_keyword = "DPoP"
    www_authenticate_realm = REALM

    def authenticate(self, request):
        self.reject_token_in_url(request)
        header = self.get_header(request)
        if header is None:
            return None
        mode = get_auth0_settings().dpop_mode
        raw_token = self.get_raw_token(header)
        if raw_token is not None:
            if mode == "required":
                raise DPoPInvalidToken(DPOP_REQUIRED)
            token = self.get_validated_token(request, raw_token)
            if "cnf" in token.claims:  # RFC 9449 section 7.2: a bound token is not a Bearer token
                self.log_rejection(request, None, BOUND_AS_BEARER, token=token)
                raise InvalidToken(BOUND_AS_BEARER)
            return self.get_user(request, token), token
        if mode == "off":
            return None
        raw_token = self.get_raw_token(header, keyword=self.dpop_keyword, error=DPoPInvalidRequest)
        if raw_token is None:
            return None
        return self.authenticate_dpop(request, raw_token)

    def authenticate_dpop(self, request, raw_token: str):
        """A DPoP request: the token, then the proof, the key binding and the replay check."""
        raw_proof = self.get_dpop_proof(request)
        token = self.get_validated_token(request, raw_token, error=DPoPInvalidToken)
        jkt = self.get_confirmation_thumbprint(request, token)
        proof = self.get_validated_proof(request, raw_proof, raw_token, token)
        if not hmac.compare_digest(proof.thumbprint, jkt):
            self.log_rejection(request, None, OTHER_KEY, token=token)
            raise DPoPInvalidToken(OTHER_KEY)
        self.check_replay(request, proof, token)
        return self.get_user(request, token, error=DPoPInvalidToken), token

    def authenticate_header(self, request):
        return no_credentials_challenge(get_auth0_settings().dpop_mode)

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

    def get_raw_token(self, header: str, *, keyword=None, error=InvalidRequest) -> str | None:
        """The token of a `Bearer` header (or of `keyword`'s scheme; case-insensitive), or None
        for other schemes."""
        keyword = keyword or self.keyword
        # Only HTTP's whitespace (SP, HTAB) separates the scheme from the token: str.split() would
        # also split on NBSP, NEL, VT, FF and \x1c-\x1f, so a proxy and this API would read the
        # header differently. (Splitting on " " with tabs made spaces is that, without a regex.)
        parts = [part for part in header.replace("\t", " ").split(" ") if part]
        if parts[0].lower() != keyword.lower():
            return None
        if len(parts) == 1:
            raise error(f"The Authorization header has no token after {keyword}.")
        if len(parts) > 2:
            raise error("The Authorization header must hold exactly one token.")
        if not B64TOKEN.fullmatch(parts[1]):
            raise error("The access token contains characters that are not allowed.")
        return parts[1]

    def get_validated_token(self, request, raw_token: str, *, error=InvalidToken) -> VerifiedToken:
        """Verify the token; translate a rejection into a 401 and missing keys into a 503."""
        try:
            return get_token_verifier().verify(raw_token)
        except TokenRejected as exc:
            self.log_rejection(request, raw_token, exc.reason)
            raise error(exc.reason) from None
        except KeySetUnavailable as exc:
            logger.warning("Token not verified: signing keys unavailable (%s)", exc)
            raise SigningKeysUnavailable() from None

    def get_dpop_proof(self, request) -> str:
        """The `DPoP` header: exactly one, holding one compact JWS (else a 400)."""
        raw_proof = request.META.get("HTTP_DPOP")
        if raw_proof is None:
            raise DPoPInvalidRequest(NO_PROOF)
        raw_proof = raw_proof.strip(" \t")
        try:
            # Two DPoP headers reach Django joined by a comma (WSGI), which no JWS holds.
            check_proof_syntax(raw_proof)
        except MalformedProof as exc:
            raise DPoPInvalidRequest(exc.reason) from None
        return raw_proof

    def get_confirmation_thumbprint(self, request, token: VerifiedToken) -> str:
        """The token's `cnf.jkt`: the thumbprint of the key it is bound to."""
        confirmation = token.claims.get("cnf")
        jkt = confirmation.get("jkt") if isinstance(confirmation, dict) else None
        if not isinstance(jkt, str) or not jkt:
            self.log_rejection(request, None, NOT_BOUND, token=token)
            raise DPoPInvalidToken(NOT_BOUND)
        return jkt

    def get_validated_proof(self, request, raw_proof, raw_token, token) -> VerifiedProof:
        """Check the proof against this request (method, URL behind the proxy settings, token)."""
        try:
            return get_dpop_verifier().verify(
                raw_proof,
                method=request.method,
                # Scheme and host as Django sees them: SECURE_PROXY_SSL_HEADER and
                # USE_X_FORWARDED_HOST apply, and the host passed ALLOWED_HOSTS.
                url=request.build_absolute_uri(),
                access_token=raw_token,
            )
        except MalformedProof as exc:
            raise DPoPInvalidRequest(exc.reason) from None
        except NonceRequired as exc:  # not an attack: how a client learns the current nonce
            raise UseDPoPNonce(exc.reason, exc.nonce) from None
        except ProofRejected as exc:
            self.log_rejection(request, None, exc.reason, token=token, event="dpop_proof_rejected")
            raise InvalidDPoPProof(exc.reason) from None

    def check_replay(self, request, proof: VerifiedProof, token: VerifiedToken) -> None:
        """Remember the proof in the shared store; a proof seen before is refused."""
        expires_at = get_dpop_verifier().expires_at(proof)
        try:
            fresh = get_replay_store().remember(replay_key(proof.thumbprint, proof.jti), expires_at)
        except ReplayStoreUnavailable as exc:
            logger.error("DPoP proof not checked for replay: %s", exc)
            raise ReplayCacheUnavailable() from None
        if not fresh:
            self.log_rejection(request, None, REPLAYED, token=token, event="dpop_proof_rejected")
            raise InvalidDPoPProof(REPLAYED)

    def get_user(self, request, token: VerifiedToken, *, error=InvalidToken):
        """The user of the token's `sub`, created just in time; inactive users are refused."""
        if len(token.subject) > MAX_SUBJECT_LENGTH:
            reason = f"The token's sub claim is longer than {MAX_SUBJECT_LENGTH} characters."
            self.log_rejection(request, None, reason, token=token)
            raise error(reason)
        try:
            user = get_or_create_user_for_subject(token.subject)
        except DatabaseError as exc:
            logger.error("Token accepted but the user could not be loaded: %s", type(exc).__name__)
            raise DatabaseUnavailable() from None
        if not user.is_active:
            reason = "The user account of this token is disabled."
            self.log_rejection(request, None, reason, token=token)
            raise error(reason)
        return user

    def log_rejection(self, request, raw_token, reason, *, token=None, event="token_rejected"):
        """One INFO line per rejected token (or DPoP proof): reason, kid, iss, client, request id.
        No token, no proof."""
        header, claims = {}, {}
        if token is not None:
            header, claims = token.header, token.claims
        elif raw_token is not None:
            header, claims = _unverified_parts(raw_token)
        logger.info(
            "DPoP proof rejected: %s" if event == "dpop_proof_rejected" else "Token rejected: %s",
            reason,
            extra={
                "event": event,
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
