"""The token verifier: turns a raw JWT into verified claims, or says in plain words why not.

It knows JOSE, not Django users or HTTP requests. Everything is pinned: the accepted algorithms,
the audience, the issuer, the leeway and the required claims. Header fields that point at keys
(`jku`, `x5u`, `jwk`, `x5c`) are never used: keys come from the key store only, by `kid`. A token
whose key could only be found by fetching (no key set yet, a stale one, an unknown `kid`) must name
this verifier's issuer first: another `iss` never costs a fetch. The organization policy
(organizations.py) is applied to the verified claims, and the token's organization is kept.
"""

import math
import re
import time
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from auth0_jwt import metrics
from auth0_jwt.jws import COMPACT_JWS, MalformedSegment, is_numeric_date, json_segment
from auth0_jwt.keystore import (
    KEY_TYPES_BY_ALGORITHM_PREFIX,
    JWKSKeyStore,
    KeySetUnavailable,
    SigningKey,
    UnknownSigningKey,
)
from auth0_jwt.organizations import (
    Organization,
    OrganizationPolicy,
    OrganizationRejected,
    organization_of,
)

MAX_TOKEN_LENGTH = 16 * 1024
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")
TIME_CLAIMS = ("exp", "nbf", "iat")
# Control characters and lone surrogates: no identifier holds them, and a lone surrogate (which
# JSON's "\ud800" escape yields) cannot be encoded as UTF-8 for the database or the response.
UNSAFE_SUBJECT_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


class TokenRejected(Exception):
    """The token is not acceptable; `reason` is a plain-words sentence safe to show the caller.

    `reason` never repeats a value taken from the token. `code` is a short stable word for it
    (`expired`, `bad_signature`, ...: the `reason` label of the auth0_jwt_tokens_total metric).
    """

    def __init__(self, reason: str, code: str = "invalid"):
        super().__init__(reason)
        self.reason = reason
        self.code = code


__all__ = [
    "COMPACT_JWS",
    "KeySetUnavailable",
    "Organization",
    "TokenRejected",
    "TokenVerifier",
    "Verification",
    "VerifiedToken",
]


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """Claims of a token that passed every check, with the facts the service needs from them."""

    claims: Mapping[str, Any]
    header: Mapping[str, Any]
    subject: str
    scopes: frozenset[str]
    expires_at: float
    not_before: float | None
    kid: str
    # The Auth0 organization the token acts for (`org_id`, and `org_name` when sent), or None.
    organization: Organization | None = None

    def has_scopes(self, required: Iterable[str]) -> bool:
        return set(required) <= self.scopes


@dataclass(frozen=True, slots=True)
class Verification:
    """The outcome of a full verification: the token, the key that verified it, and the clock
    readings (leeway included) between which it is acceptable, [valid_from, valid_until)."""

    token: VerifiedToken
    key: SigningKey
    valid_from: float
    valid_until: float


def time_window(token: VerifiedToken, leeway: float) -> tuple[float, float]:
    """The clock readings, leeway included, between which `token` is acceptable: [from, until)."""
    nbf, iat = token.claims.get("nbf"), token.claims.get("iat")
    starts = nbf if iat is None else iat if nbf is None else max(nbf, iat)
    valid_from = -math.inf if starts is None else starts - leeway
    return valid_from, token.expires_at + leeway


EXPIRED = "The token has expired."
BAD_ISSUER = "The token was not issued by the expected issuer."
NO_ISSUER = "The token has no iss claim."
NOT_YET_VALID = "The token is not valid yet (its nbf or iat is in the future)."

# PyJWT's exceptions, most specific first, mapped to the reason the caller sees and its code.
PYJWT_REASONS = (
    (jwt.ExpiredSignatureError, EXPIRED, "expired"),
    (jwt.ImmatureSignatureError, NOT_YET_VALID, "not_yet_valid"),
    (jwt.InvalidAudienceError, "The token's audience is not this API.", "bad_audience"),
    (jwt.InvalidIssuerError, BAD_ISSUER, "bad_issuer"),
    (jwt.InvalidSignatureError, "The token's signature is invalid.", "bad_signature"),
    (jwt.InvalidIssuedAtError, "The token's iat claim is not a valid time.", "bad_claim"),
    (
        jwt.exceptions.InvalidSubjectError,
        "The token's sub claim is empty or not a string.",
        "bad_claim",
    ),
    (jwt.exceptions.InvalidJTIError, "The token's jti claim is not a string.", "bad_claim"),
    (
        jwt.InvalidAlgorithmError,
        "The token's signing algorithm is not accepted.",
        "disallowed_alg",
    ),
    (jwt.InvalidKeyError, "The token's algorithm does not fit its signing key.", "key_mismatch"),
    (jwt.DecodeError, "The token is malformed.", "malformed"),
)


class TokenVerifier:
    """Verifies compact JWS access tokens against the key store's keys, every time in full.

    It keeps nothing about the tokens it has seen: `CachingTokenVerifier` (token_cache.py) wraps
    it so that a repeated token is not verified again. `now` is the wall clock of the verifier's
    own time check (PyJWT reads the system clock itself; tests inject a fake `now`).
    `organizations` is the `AUTH0["ORGANIZATIONS"]` policy (none by default); `metrics_label` the
    `issuer` label of its counts (the issuer by default).
    """

    def __init__(
        self,
        *,
        key_store: JWKSKeyStore,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = ("RS256",),
        leeway: int = 60,
        now: Callable[[], float] = time.time,
        organizations: OrganizationPolicy | None = None,
        metrics_label: str | None = None,
    ):
        self.key_store = key_store
        self.issuer = issuer
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.leeway = leeway
        self.now = now
        self.organizations = organizations or OrganizationPolicy()
        self.metrics = metrics.IssuerMetrics.of(issuer if metrics_label is None else metrics_label)
        self._unconfigured = metrics.IssuerMetrics.of(metrics.UNCONFIGURED)
        self._jwt = jwt.PyJWT()
        key_store.add_listener(self.metrics.on_key_set_changed)
        key_set = key_store.key_set
        self.metrics.signing_keys.set(0 if key_set is None else len(key_set.keys))

    def verify(self, raw_token: str) -> VerifiedToken:
        """Return the verified token; raise TokenRejected or KeySetUnavailable."""
        return self.verify_in_full(raw_token).token

    def may_fetch(self, raw_token: str) -> bool:
        """Whether verifying `raw_token` could fetch the JWKS or wait for a fetch (async callers
        verify such a token off the event loop)."""
        try:
            kid = json_segment(raw_token, 0).get("kid")
        except MalformedSegment:
            kid = None
        return self.key_store.may_fetch(kid if isinstance(kid, str) else None)

    def verify_in_full(self, raw_token: str) -> Verification:
        """Verify `raw_token`; return it with its key and time window (for a cache to keep).

        Each verification is counted in the metrics (auth0_jwt.metrics): its outcome, the
        rejection's code, and how long it took.
        """
        started = time.perf_counter()
        try:
            verification = self._verify_in_full(raw_token)
        except TokenRejected as exc:
            # A token of another issuer is counted as such, not as this issuer's.
            (self._unconfigured if exc.code == "bad_issuer" else self.metrics).rejected(exc.code)
            raise
        except KeySetUnavailable:
            self.metrics.rejected("keys_unavailable")
            raise
        finally:
            metrics.VERIFY_SECONDS.observe(time.perf_counter() - started)
        self.metrics.accepted.inc()
        return verification

    def _verify_in_full(self, raw_token: str) -> Verification:
        check_shape(raw_token)
        header = check_header(raw_token, self.algorithms)
        try:
            key = self._get_key(raw_token, header)
            claims = self._decode(raw_token, key, header["alg"])
        except (TokenRejected, KeySetUnavailable):
            # Time claims that are not numbers are the reason given first, whatever else fails.
            self._check_claim_types(decode_segment(raw_token, 1, "payload"))
            raise
        self._check_claim_types(claims)  # on PyJWT's claims: the payload is parsed only once
        token = self._build_verified_token(claims, header)
        valid_from, valid_until = self._check_time_window(token)
        return Verification(token, key, valid_from, valid_until)

    def _get_key(self, raw_token: str, header: Mapping[str, Any]) -> SigningKey:
        if self.key_store.may_fetch(header["kid"]):
            # Finding the key could fetch the JWKS: only for a token that names this issuer.
            check_issuer(decode_segment(raw_token, 1, "payload"), (self.issuer,))
        try:
            key = self.key_store.get_key(header["kid"])
        except UnknownSigningKey:
            raise TokenRejected(
                "The token was signed with a key this API does not know.", "unknown_kid"
            ) from None
        alg = header["alg"]
        wrong_type = key.key_type != KEY_TYPES_BY_ALGORITHM_PREFIX[alg[:2]]
        if wrong_type or (key.algorithm is not None and key.algorithm != alg):
            raise TokenRejected(
                "The token's algorithm does not match its signing key.", "key_mismatch"
            )
        return key

    def _decode(self, raw_token: str, key: SigningKey, algorithm: str) -> dict[str, Any]:
        try:
            claims = self._jwt.decode(
                raw_token,
                key=key.public_key,
                algorithms=[algorithm],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS), "verify_signature": True},
            )
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(f"The token has no {exc.claim} claim.", "missing_claim") from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(*_reason_for(exc)) from None
        except (ValueError, TypeError, OverflowError, RecursionError):
            raise TokenRejected("The token's claims are malformed.", "malformed") from None
        return claims

    def _check_claim_types(self, claims: Mapping[str, Any]) -> None:
        check_claim_types(claims)

    def _check_time_window(self, token: VerifiedToken) -> tuple[float, float]:
        """PyJWT's exp/nbf/iat rules again, on `self.now` (the clock the token cache uses);
        return the token's time window."""
        valid_from, valid_until = time_window(token, self.leeway)
        now = self.now()
        if now >= valid_until:
            raise TokenRejected(EXPIRED, "expired")
        if now < valid_from:
            raise TokenRejected(NOT_YET_VALID, "not_yet_valid")
        return valid_from, valid_until

    def _build_verified_token(
        self, claims: Mapping[str, Any], header: Mapping[str, Any]
    ) -> VerifiedToken:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip():
            raise TokenRejected("The token's sub claim is empty or not a string.", "bad_claim")
        if UNSAFE_SUBJECT_CHARACTERS.search(subject):
            raise TokenRejected(
                "The token's sub claim contains characters that are not allowed.", "bad_claim"
            )
        try:
            organization = organization_of(claims)
            self.organizations.check(organization)
        except OrganizationRejected as exc:
            raise TokenRejected(exc.reason, exc.code) from None
        return VerifiedToken(
            claims=claims,
            header=header,
            subject=subject,
            scopes=_scopes(claims),
            expires_at=float(claims["exp"]),
            not_before=float(claims["nbf"]) if "nbf" in claims else None,
            kid=header["kid"],
            organization=organization,
        )


def check_shape(raw_token: str) -> None:
    """Length and compact-JWS form; TokenRejected if the token is neither."""
    if len(raw_token) > MAX_TOKEN_LENGTH:
        raise TokenRejected(f"The token is longer than {MAX_TOKEN_LENGTH} characters.", "too_long")
    if raw_token.count(".") == 4:
        raise TokenRejected(
            "Encrypted tokens (JWE) are not accepted; send a signed JWT.", "encrypted"
        )
    if not COMPACT_JWS.fullmatch(raw_token):
        raise TokenRejected(
            "The token is malformed: expected three base64url segments separated by dots.",
            "malformed",
        )


def check_header(raw_token: str, algorithms: tuple[str, ...]) -> dict[str, Any]:
    """The token's header, untrusted, if its `alg` is one of `algorithms`, it has no critical
    extensions and names a `kid`; else TokenRejected."""
    header = decode_segment(raw_token, 0, "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in algorithms:
        raise TokenRejected("The token's signing algorithm is not accepted.", "disallowed_alg")
    if "crit" in header or "b64" in header:
        raise TokenRejected(
            "The token uses critical header extensions, which are not accepted.",
            "critical_header",
        )
    kid = header.get("kid")
    if kid is None:
        raise TokenRejected("The token has no key id (kid) in its header.", "missing_kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("The token's key id (kid) is not a string.", "missing_kid")
    return header


def check_claim_types(claims: Mapping[str, Any]) -> None:
    """Time claims must be JSON numbers (PyJWT would also take numeric strings)."""
    for name in TIME_CLAIMS:
        if claims.get(name) is not None and not is_numeric_date(claims[name]):
            raise TokenRejected(
                f"The token's {name} claim is not a number of seconds.", "bad_claim"
            )


def check_issuer(payload: Mapping[str, Any], issuers: Container[str]) -> str:
    """The payload's `iss` (untrusted) if it is exactly one of `issuers` (a container of strings),
    compared as is: another case, a trailing dot, a port or a user name make another issuer."""
    issuer = payload.get("iss")
    if issuer is None:  # null counts as missing, as PyJWT's required claims do
        raise TokenRejected(NO_ISSUER, "missing_claim")
    if issuer.__class__ is not str or issuer not in issuers:
        raise TokenRejected(BAD_ISSUER, "bad_issuer")
    return issuer


def decode_segment(raw_token: str, index: int, name: str) -> dict[str, Any]:
    """Segment `index` of a compact JWS as a JSON object, untrusted; TokenRejected if not one."""
    try:
        return json_segment(raw_token, index)
    except MalformedSegment as exc:
        reason = (
            f"The token has no {name}."
            if str(exc) == "missing"
            else (f"The token's {name} is malformed.")
        )
        raise TokenRejected(reason, "malformed") from None


def _reason_for(exc: jwt.PyJWTError) -> tuple[str, str]:
    """The reason and its code for a PyJWT verdict."""
    for exception_type, reason, code in PYJWT_REASONS:
        if isinstance(exc, exception_type):
            return reason, code
    return "The token is invalid.", "invalid"


def _scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """Scopes from the space-separated `scope` claim and Auth0's RBAC `permissions` list."""
    scope = claims.get("scope", "")
    if not isinstance(scope, str):
        raise TokenRejected("The token's scope claim is not a space-separated string.", "bad_claim")
    permissions = claims.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        raise TokenRejected("The token's permissions claim is not a list of strings.", "bad_claim")
    return frozenset(scope.split()) | frozenset(permissions)
