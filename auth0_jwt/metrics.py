"""The authentication layer's Prometheus instruments.

prometheus_client is optional for the auth0_jwt package: without it every instrument here is a
no-op and costs a method call. Under gunicorn, set PROMETHEUS_MULTIPROC_DIR before this module is
first imported, so that every worker's counts add up (prometheus_client's multiprocess mode).

Label values are fixed codes only, never a token, a `kid` or free text: a rejection reason that is
not in `REJECTION_REASONS` is counted as `other`, so the number of series stays bounded.
"""

try:
    from prometheus_client import Counter, Gauge, Histogram
except ImportError:  # pragma: no cover - exercised by test_metrics without prometheus_client
    Counter = Gauge = Histogram = None

# Why the verifier did not accept a token (TokenRejected.code). A token the verifier accepted may
# still be refused after it (an inactive user, a DPoP proof): those refusals are logged, not here.
REJECTION_REASONS = (
    "malformed",  # not a compact JWS, or a header, payload or claim set that cannot be read
    "too_long",
    "encrypted",  # a JWE
    "disallowed_alg",
    "critical_header",  # crit or b64
    "missing_kid",
    "unknown_kid",
    "key_mismatch",  # the algorithm does not fit the key's type or its alg
    "bad_signature",
    "expired",
    "not_yet_valid",
    "bad_audience",
    "bad_issuer",
    "missing_claim",
    "bad_claim",  # a claim of the wrong type or with characters that are not allowed
    "invalid",  # any other PyJWT verdict
    "keys_unavailable",  # not verifiable: no key set loaded yet (503)
    "other",
)
FETCH_TRIGGERS = ("startup", "scheduled", "unknown_kid")

# First-seen verifications take a few hundred microseconds (an RSA signature check); a JWKS
# refetch for an unknown kid shows up in the upper buckets.
VERIFY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)
FETCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class NoOpInstrument:
    """Stands in for a Counter, Gauge or Histogram (or one of its children) without the client."""

    def labels(self, *values, **named):
        return self

    def inc(self, amount=1):
        pass

    def observe(self, amount):
        pass

    def set(self, value):
        pass


def _instrument(kind, name, documentation, labels=(), **options):
    if kind is None:
        return NoOpInstrument()
    return kind(name, documentation, labels, **options)


TOKENS = _instrument(
    Counter,
    "auth0_jwt_tokens",
    "Bearer tokens presented, by outcome and (for rejections) a stable reason code.",
    ("outcome", "reason"),
)
TOKEN_CACHE = _instrument(
    Counter,
    "auth0_jwt_token_cache",
    "Lookups in the verified-token cache, by result.",
    ("result",),
)
JWKS_FETCHES = _instrument(
    Counter,
    "auth0_jwt_jwks_fetches",
    "JWKS fetches, by outcome and by what caused them.",
    ("outcome", "trigger"),
)
JWKS_FETCH_SECONDS = _instrument(
    Histogram,
    "auth0_jwt_jwks_fetch_seconds",
    "Duration of JWKS fetches, successful or not.",
    buckets=FETCH_BUCKETS,
)
# Per worker; in multiprocess mode the lowest of the live workers, so 0 means that some worker
# cannot verify any token.
SIGNING_KEYS = _instrument(
    Gauge,
    "auth0_jwt_signing_keys",
    "Usable signing keys in the key set (the fewest among live workers).",
    multiprocess_mode="livemin",
)
VERIFY_SECONDS = _instrument(
    Histogram,
    "auth0_jwt_verify_seconds",
    "Duration of first-seen token verifications (token cache misses), whatever the outcome.",
    buckets=VERIFY_BUCKETS,
)

# The children the hot path uses, bound once (labels() takes a lock and builds a tuple).
TOKEN_ACCEPTED = TOKENS.labels("accepted", "none")
TOKEN_REJECTED = {reason: TOKENS.labels("rejected", reason) for reason in REJECTION_REASONS}
TOKEN_CACHE_HIT = TOKEN_CACHE.labels("hit")
TOKEN_CACHE_MISS = TOKEN_CACHE.labels("miss")
JWKS_FETCH = {
    (outcome, trigger): JWKS_FETCHES.labels(outcome, trigger)
    for outcome in ("ok", "error")
    for trigger in FETCH_TRIGGERS
}


def token_accepted() -> None:
    TOKEN_ACCEPTED.inc()


def token_rejected(reason: str) -> None:
    """Count a rejection under its code; an unknown code counts as `other`."""
    (TOKEN_REJECTED.get(reason) or TOKEN_REJECTED["other"]).inc()


def jwks_fetched(*, ok: bool, trigger: str, seconds: float, key_count: int | None) -> None:
    """Count one JWKS fetch; `key_count` is the new key set's size after a success."""
    child = JWKS_FETCH.get(("ok" if ok else "error", trigger))
    if child is not None:
        child.inc()
    JWKS_FETCH_SECONDS.observe(seconds)
    if key_count is not None:
        SIGNING_KEYS.set(key_count)
