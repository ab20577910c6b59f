"""The authentication layer's Prometheus instruments.

prometheus_client is optional for the auth0_jwt package: without it every instrument here is a
no-op and costs a method call. Under gunicorn, set PROMETHEUS_MULTIPROC_DIR before this module is
first imported, so that every worker's counts add up (prometheus_client's multiprocess mode).

Label values are fixed codes only, never a token, a `kid` or free text: a rejection reason that is
not in `REJECTION_REASONS` is counted as `other`, so the number of series stays bounded. The
`issuer` label is a configured issuer (`https://tenant.us.auth0.com/`), taken from the
configuration, never from a token: a token whose `iss` is none of them counts as `unconfigured`.

Each issuer's verifier binds its children once (`IssuerMetrics`), so the hot path never calls
`labels()`. The key store names no issuer: the JWKS source of each issuer's store
(`LabelledSource`) tells `jwks_fetched`, on the thread doing the fetch, which issuer it is for.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

try:
    from prometheus_client import Counter, Gauge, Histogram
except ImportError:  # pragma: no cover - exercised by test_metrics without prometheus_client
    # The client is optional: without it the names are None (and every instrument a no-op).
    Counter = Gauge = Histogram = None  # type: ignore[assignment, misc]

if TYPE_CHECKING:
    from auth0_jwt.keystore import KeySet

InstrumentT = TypeVar("InstrumentT")

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
    "missing_organization",  # AUTH0["ORGANIZATIONS"] requires one and the token has no org_id
    "organization_not_allowed",  # the token's organization is not in AUTH0["ORGANIZATIONS"]
    "other",
)
UNCONFIGURED = "unconfigured"  # the issuer label of a token whose iss is not configured
UNLABELLED = ""  # the issuer label of a key store built without one (tests, tools)
FETCH_TRIGGERS = ("startup", "scheduled", "unknown_kid")

# First-seen verifications take a few hundred microseconds (an RSA signature check); a JWKS
# refetch for an unknown kid shows up in the upper buckets.
VERIFY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)
FETCH_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class NoOpInstrument:
    """Stands in for a Counter, Gauge or Histogram (or one of its children) without the client."""

    def labels(self, *values: str, **named: str) -> NoOpInstrument:
        return self

    def inc(self, amount: float = 1) -> None:
        pass

    def observe(self, amount: float) -> None:
        pass

    def set(self, value: float) -> None:
        pass


def _instrument(
    kind: Callable[..., InstrumentT] | None,
    name: str,
    documentation: str,
    labels: Sequence[str] = (),
    **options: Any,
) -> InstrumentT | NoOpInstrument:
    if kind is None:
        return NoOpInstrument()
    return kind(name, documentation, labels, **options)


TOKENS = _instrument(
    Counter,
    "auth0_jwt_tokens",
    "Bearer tokens presented, by issuer, outcome and (for rejections) a stable reason code.",
    ("issuer", "outcome", "reason"),
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
    "JWKS fetches, by issuer, outcome and what caused them.",
    ("issuer", "outcome", "trigger"),
)
JWKS_FETCH_SECONDS = _instrument(
    Histogram,
    "auth0_jwt_jwks_fetch_seconds",
    "Duration of JWKS fetches, successful or not.",
    buckets=FETCH_BUCKETS,
)
# Per worker and issuer; in multiprocess mode the lowest of the live workers, so 0 means that some
# worker cannot verify that issuer's tokens. Set by each issuer's key-set listener (IssuerMetrics).
SIGNING_KEYS_BY_ISSUER = _instrument(
    Gauge,
    "auth0_jwt_signing_keys",
    "Usable signing keys in each issuer's key set (the fewest among live workers).",
    ("issuer",),
    multiprocess_mode="livemin",
)
VERIFY_SECONDS = _instrument(
    Histogram,
    "auth0_jwt_verify_seconds",
    "Duration of first-seen token verifications (token cache misses), whatever the outcome.",
    buckets=VERIFY_BUCKETS,
)

# The children the hot path uses, bound once (labels() takes a lock and builds a tuple).
TOKEN_CACHE_HIT = TOKEN_CACHE.labels("hit")
TOKEN_CACHE_MISS = TOKEN_CACHE.labels("miss")


class IssuerMetrics:
    """The children of one issuer's series, bound once: what its verifier, token cache and key
    store count. `issuer` is a configured issuer, `UNCONFIGURED` or `UNLABELLED`."""

    _lock = threading.Lock()
    _instances: dict[str, IssuerMetrics] = {}

    def __init__(self, issuer: str):
        self.issuer = issuer
        self.accepted = TOKENS.labels(issuer, "accepted", "none")
        self._rejected = {
            reason: TOKENS.labels(issuer, "rejected", reason) for reason in REJECTION_REASONS
        }
        self._fetches = {
            (outcome, trigger): JWKS_FETCHES.labels(issuer, outcome, trigger)
            for outcome in ("ok", "error")
            for trigger in FETCH_TRIGGERS
        }
        self.signing_keys = SIGNING_KEYS_BY_ISSUER.labels(issuer)

    @classmethod
    def of(cls, issuer: str) -> IssuerMetrics:
        """The one instance for `issuer` (verifiers are rebuilt on every settings change)."""
        metrics = cls._instances.get(issuer)
        if metrics is None:
            with cls._lock:
                metrics = cls._instances.setdefault(issuer, cls(issuer))
        return metrics

    def rejected(self, reason: str) -> None:
        """Count a rejection under its code; an unknown code counts as `other`."""
        (self._rejected.get(reason) or self._rejected["other"]).inc()

    def fetched(self, *, ok: bool, trigger: str) -> None:
        child = self._fetches.get(("ok" if ok else "error", trigger))
        if child is not None:
            child.inc()

    def on_key_set_changed(self, key_set: KeySet) -> None:
        """Key store listener: the gauge follows the key set (fetched or restored from a save)."""
        self.signing_keys.set(len(key_set.keys))


def token_accepted(issuer: str = UNLABELLED) -> None:
    IssuerMetrics.of(issuer).accepted.inc()


def token_rejected(reason: str, issuer: str = UNLABELLED) -> None:
    """Count a rejection under its code; an unknown code counts as `other`."""
    IssuerMetrics.of(issuer).rejected(reason)


# --- Which issuer a JWKS fetch is for ------------------------------------------------------------

_fetching = threading.local()


class LabelledSource:
    """A key store's JWKS source that names the issuer it fetches for: the fetch the store counts
    next on this thread (`jwks_fetched`, right after the source returns or fails) is that issuer's.
    """

    def __init__(self, source: Callable[[], Any], issuer: str):
        self.source = source
        self.issuer = issuer

    def __call__(self) -> Any:
        from auth0_jwt.keystore import JWKSError  # (the key store imports this module)

        _fetching.issuer = self.issuer
        try:
            return self.source()
        except JWKSError:
            raise
        except BaseException:
            _fetching.issuer = None  # the store does not count a fetch that raised this
            raise

    def __getattr__(self, name: str) -> Any:  # e.g. the HTTP source's `url`, for the tools
        if name == "source":
            raise AttributeError(name)
        return getattr(self.source, name)


def jwks_fetched(*, ok: bool, trigger: str, seconds: float, key_count: int | None) -> None:
    """Count one JWKS fetch (under the issuer its `LabelledSource` named, if any); `key_count` is
    the new key set's size after a success (the gauge follows the issuer's listener instead)."""
    issuer = getattr(_fetching, "issuer", None)
    _fetching.issuer = None
    IssuerMetrics.of(issuer if issuer is not None else UNLABELLED).fetched(ok=ok, trigger=trigger)
    JWKS_FETCH_SECONDS.observe(seconds)


class _IssuerlessGauge:
    """What the key store sets as `SIGNING_KEYS`: nothing. The gauge is per issuer, and each
    issuer's key-set listener sets its own (`IssuerMetrics.on_key_set_changed`), so a store
    being built or restoring a saved key set never touches another issuer's series."""

    def set(self, value: float) -> None:
        pass


SIGNING_KEYS = _IssuerlessGauge()


def __getattr__(name: str) -> Counter | NoOpInstrument:
    # The unlabelled child under its former name (bench/metrics_cost.py times it), bound on first
    # use so that a process that never asks for it exposes no unlabelled series.
    if name == "TOKEN_ACCEPTED":
        return IssuerMetrics.of(UNLABELLED).accepted
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
