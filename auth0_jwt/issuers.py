"""Several issuers in one tenant: Auth0's Multiple Custom Domains (MCD).

A tenant with custom domains issues tokens whose `iss` is `https://{domain}/` for whichever of its
domains the user logged in through, and an API must accept each of them. `MultiIssuerVerifier`
holds one `CachingTokenVerifier` (with its own key store) per configured issuer, and answers as a
single verifier does (`verify(raw)`, `may_fetch(raw)`), so the request authenticator and every
adapter work unchanged. The rules:
- the token's `iss` picks its verifier before anything is fetched, compared exactly with the
  configured issuers: another case, a trailing dot, a port or a user name is another issuer, and
  a token of an issuer that is not configured is refused (401) without touching any key store, so
  `iss` can never make this process fetch from a host of the token's choosing;
- each issuer's key store keeps every rule of one (keystore.py): the background load, rotation,
  the unknown-`kid` refetch, stale-on-error, and 503 until its keys are loaded, per issuer;
- one token cache serves every issuer (its bound holds for all of them together); a hit is found
  by the token string alone and answered by the verifier that stored it, whose key set is
  refreshed first when due, as with one issuer: no JSON is decoded on a hit;
- with a domains resolver (a callable returning the current domains), the list is resolved on
  first use, again once it is `resolve_interval` old (by the next request, which does not wait
  for it), and at once when a token names an issuer the list lacks, at most once per
  `retry_interval`. A resolver that fails or returns nothing usable leaves the last good list in
  place (and before the first one, tokens get 503). An issuer that leaves the list leaves the
  token cache with it.

`DiscoveredJWKSSource` finds an issuer's JWKS through its OpenID configuration
(`/.well-known/openid-configuration`): the `issuer` it names must be exactly the configured one,
and its `jwks_uri` must be on the issuer's own scheme, host and port, or nothing is fetched from it.
"""

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

from auth0_jwt import metrics
from auth0_jwt.domains import (
    MAX_ISSUERS,
    discovery_url_for_issuer,
    issuer_for_domain,
    jwks_url_for_issuer,
    parse_domain,
)
from auth0_jwt.keystore import (
    HTTPJWKSSource,
    JWKSError,
    JWKSKeyStore,
    KeySet,
    KeySetUnavailable,
    check_fetching_allowed,
)
from auth0_jwt.token_cache import CachingTokenVerifier, VerifiedTokenCache
from auth0_jwt.verifier import (
    TokenRejected,
    VerifiedToken,
    check_claim_types,
    check_header,
    check_issuer,
    check_shape,
    decode_segment,
)

logger = logging.getLogger(__name__)


# --- OpenID discovery -----------------------------------------------------------------------------


class DiscoveredJWKSSource:
    """The JWKS of `issuer`, at the `jwks_uri` its OpenID configuration names; a zero-argument
    callable, as the key store's source.

    The configuration is read before the first JWKS fetch and again before a fetch once it is
    `max_age` old; when reading it again fails, the `jwks_uri` found before is used.
    """

    def __init__(
        self,
        issuer: str,
        *,
        timeout: float,
        max_age: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.issuer = issuer
        self.url = discovery_url_for_issuer(issuer)
        self.timeout = timeout
        self.max_age = max_age
        self.clock = clock
        self.jwks_url: str | None = None
        self._discovered_at = -math.inf

    def __call__(self) -> Any:
        deadline = time.monotonic() + self.timeout
        jwks_url = self.jwks_url
        if jwks_url is None or self.clock() - self._discovered_at >= self.max_age:
            try:
                jwks_url = self.discover()
            except JWKSError as exc:
                if jwks_url is None:
                    raise
                logger.warning(
                    "OpenID discovery failed, the JWKS URL found before is used: %s", exc
                )
        remaining = max(deadline - time.monotonic(), 0.1)
        return HTTPJWKSSource(jwks_url, timeout=remaining)()

    def discover(self) -> str:
        """Read the OpenID configuration; return its `jwks_uri` once checked, else JWKSError."""
        try:
            document = HTTPJWKSSource(self.url, timeout=self.timeout)()
        except JWKSError as exc:
            raise JWKSError(f"OpenID discovery failed: {_for_discovery(str(exc))}") from None
        jwks_url = check_discovery_document(document, self.issuer)
        self.jwks_url, self._discovered_at = jwks_url, self.clock()
        return jwks_url


def check_discovery_document(document: Any, issuer: str) -> str:
    """The `jwks_uri` of an OpenID configuration, if the document names exactly `issuer` and its
    key set is on the issuer's own scheme, host and port; JWKSError saying why not otherwise."""
    if not isinstance(document, dict):
        raise JWKSError("OpenID discovery failed: the configuration is not a JSON object")
    named = document.get("issuer")
    if named != issuer:
        raise JWKSError(
            f"OpenID discovery failed: the configuration names the issuer {_shown(named)}, "
            f"not {issuer}"
        )
    jwks_url = document.get("jwks_uri")
    if not isinstance(jwks_url, str):
        raise JWKSError("OpenID discovery failed: the configuration has no jwks_uri")
    expected = urlsplit(issuer)
    try:
        parts = urlsplit(jwks_url)
        same_origin = (parts.scheme, parts.netloc) == (expected.scheme, expected.netloc)
        same_origin = same_origin and bool(parts.hostname) and not parts.fragment
    except ValueError:
        same_origin = False
    if not same_origin:
        raise JWKSError(
            f"OpenID discovery failed: the jwks_uri {_shown(jwks_url)} is not on the issuer's "
            f"host ({expected.scheme}://{expected.netloc}), so it is not fetched"
        )
    return jwks_url


def _for_discovery(message: str) -> str:
    """The HTTP source's words (it names the JWKS) for the configuration document."""
    return message.replace("the JWKS endpoint", "the configuration endpoint").replace(
        "the JWKS", "the configuration"
    )


def _shown(value: Any, limit: int = 120) -> str:
    """An untrusted value, quoted, on one ASCII line."""
    text = ascii(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --- The verifier of several issuers --------------------------------------------------------------

# Builds the verifier of one issuer over the shared token cache.
IssuerVerifierFactory = Callable[[str, VerifiedTokenCache], CachingTokenVerifier]


class MultiIssuerVerifier:
    """Verifies the tokens of several issuers, each with its own verifier and key store; see the
    module's rules. `issuers` is a fixed list; `domains_resolver` returns the current domains."""

    def __init__(
        self,
        build: IssuerVerifierFactory,
        *,
        audience: str,
        algorithms: tuple[str, ...],
        token_cache: VerifiedTokenCache,
        issuers: Iterable[str] = (),
        domains_resolver: Callable[[], Iterable[str]] | None = None,
        resolve_interval: float = 600.0,
        retry_interval: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._build = build
        self.audience = audience
        self.algorithms = tuple(algorithms)
        self.token_cache = token_cache
        self.domains_resolver = domains_resolver
        self.resolve_interval = resolve_interval
        self.retry_interval = retry_interval
        self.clock = clock
        self.resolver_error: str | None = None
        self._verifiers: Mapping[str, CachingTokenVerifier] = {}  # replaced, never changed
        self._resolve_lock = threading.Lock()
        self._resolved_at = -math.inf
        self._last_resolve_attempt = -math.inf
        self._loading = False
        self._unconfigured = metrics.IssuerMetrics.of(metrics.UNCONFIGURED)
        if domains_resolver is None:
            issuers = list(dict.fromkeys(issuers))
            if not issuers:
                raise ValueError("MultiIssuerVerifier needs issuers or a domains resolver")
            self._install(issuers)
        self.key_store = IssuerKeyStores(self)

    # -- What a verifier of one issuer also answers --

    @property
    def issuers(self) -> tuple[str, ...]:
        """The issuers accepted now."""
        return tuple(self._verifiers)

    @property
    def issuer(self) -> str:
        """The first issuer (the one the local tools mint for by default)."""
        return next(iter(self._current()), "")

    @property
    def verifiers(self) -> Mapping[str, CachingTokenVerifier]:
        """Each accepted issuer's verifier, by issuer."""
        return self._current()

    def for_issuer(self, issuer: Any) -> CachingTokenVerifier | None:
        """The verifier of `issuer` (an untrusted `iss`, compared exactly), or None."""
        return self._current().get(issuer) if isinstance(issuer, str) else None

    # -- Verifying --

    def verify(self, raw_token: str) -> VerifiedToken:
        """The verified token; TokenRejected or KeySetUnavailable, as one issuer's verifier."""
        if self.domains_resolver is not None and self._resolve_due():
            self._resolve(wait=False)
        entry = self.token_cache.entry(raw_token)
        if entry is not None and not entry.source.retired:
            store = entry.source.key_store
            if store.may_fetch():  # a refresh is due: first, as with one issuer
                store.refresh_if_stale()
                entry = self.token_cache.entry(raw_token)
            if entry is not None:
                metrics.TOKEN_CACHE_HIT.inc()
                entry.source.metrics.accepted.inc()
                return entry.token
        metrics.TOKEN_CACHE_MISS.inc()
        return self._route(raw_token).verify_and_keep(raw_token)

    def may_fetch(self, raw_token: str) -> bool:
        """Whether verifying `raw_token` could fetch (a JWKS, or the domains) or wait for it."""
        if self.domains_resolver is not None and (self._resolve_due() or not self._verifiers):
            return True
        entry = self.token_cache.peek(raw_token)
        if entry is not None and not entry.source.retired:
            source: CachingTokenVerifier = entry.source  # what stored it: one issuer's verifier
            return source.key_store.may_fetch()
        try:
            issuer = decode_segment(raw_token, 1, "payload").get("iss")
        except TokenRejected:
            return False
        verifier = self.for_issuer(issuer)
        if verifier is None:
            return self.domains_resolver is not None  # the list may be resolved again
        return verifier.may_fetch(raw_token)

    def _route(self, raw_token: str) -> CachingTokenVerifier:
        """The verifier of the token's issuer: the token's form and header are checked first, as
        its verifier would, then its `iss` must be exactly a configured issuer."""
        started = time.perf_counter()
        try:
            check_shape(raw_token)
            check_header(raw_token, self.algorithms)
            payload = decode_segment(raw_token, 1, "payload")
            verifiers = self._verifiers_for(payload.get("iss"))
            try:
                issuer = check_issuer(payload, verifiers)
            except TokenRejected:
                check_claim_types(payload)  # as one issuer's verifier: those reasons come first
                raise
        except TokenRejected as exc:
            self._unconfigured.rejected(exc.code)
            metrics.VERIFY_SECONDS.observe(time.perf_counter() - started)
            raise
        except KeySetUnavailable:
            self._unconfigured.rejected("keys_unavailable")
            metrics.VERIFY_SECONDS.observe(time.perf_counter() - started)
            raise
        return verifiers[issuer]

    def _verifiers_for(self, issuer: Any) -> Mapping[str, CachingTokenVerifier]:
        """The verifiers to look `issuer` up in: with a resolver, resolved first when there is no
        list yet, or (at most once per `retry_interval`) when `issuer` is not in it."""
        verifiers = self._verifiers
        if self.domains_resolver is None or (verifiers and issuer in verifiers):
            return verifiers
        if verifiers and not (
            isinstance(issuer, str)
            and self.clock() - self._last_resolve_attempt >= self.retry_interval
        ):
            return verifiers
        self._resolve(wait=True)
        if not self._verifiers:
            raise KeySetUnavailable(self.resolver_error or "the domains are not resolved yet")
        return self._verifiers

    def _current(self) -> Mapping[str, CachingTokenVerifier]:
        if self.domains_resolver is not None and not self._verifiers:
            self._resolve(wait=True)
        return self._verifiers

    # -- The list of issuers --

    def _resolve_due(self) -> bool:
        return self.clock() - self._resolved_at >= self.resolve_interval

    def _resolve(self, *, wait: bool) -> None:
        """Call the domains resolver (one caller at a time; a failed call is not repeated before
        `retry_interval`) and install its issuers; keep the last good list on failure."""
        domains_resolver = self.domains_resolver
        if domains_resolver is None:
            return
        check_fetching_allowed("the domains resolver")
        if not self._resolve_lock.acquire(timeout=10 if wait else 0):
            return
        try:
            now = self.clock()
            if now - self._last_resolve_attempt < min(self.retry_interval, self.resolve_interval):
                return  # another caller just did (or a failure is still fresh)
            self._last_resolve_attempt = now
            try:
                issuers = resolve_issuers(domains_resolver)
            except ValueError as exc:
                self.resolver_error = f"the domains resolver failed: {exc}"
                logger.warning(
                    "Domains not resolved, %s: %s",
                    "the last good list is kept" if self._verifiers else "tokens get 503",
                    exc,
                    extra={"event": "domains_resolved", "outcome": "error"},
                )
                return
            self.resolver_error = None
            self._resolved_at = now
            if list(issuers) != list(self._verifiers):
                self._install(issuers)
                logger.info(
                    "Domains resolved: %d issuer(s)",
                    len(issuers),
                    extra={"event": "domains_resolved", "outcome": "ok"},
                )
        finally:
            self._resolve_lock.release()

    def _install(self, issuers: list[str]) -> None:
        """Make `issuers` the accepted ones: verifiers kept for those still listed (with their
        keys and cached tokens), built for new ones, retired for the others."""
        previous = self._verifiers
        verifiers = {}
        for issuer in issuers[:MAX_ISSUERS]:
            verifier = previous.get(issuer)
            if verifier is None:
                verifier = self._build(issuer, self.token_cache)
                if self._loading:
                    verifier.key_store.load_in_background()
            verifiers[issuer] = verifier
        if len(issuers) > MAX_ISSUERS:
            logger.warning("Only the first %d issuers are accepted", MAX_ISSUERS)
        self._verifiers = verifiers
        for issuer, verifier in previous.items():
            if issuer not in verifiers:
                verifier.retired = True
                self.token_cache.drop_source(verifier)

    def load_in_background(self, *, max_delay: float = 30.0) -> threading.Thread:
        """Start loading every issuer's keys in the background (each store's own loader), after
        resolving the domains when a resolver gives them; issuers added later start theirs when
        they are added."""

        def run() -> None:
            delay = min(1.0, max_delay)
            while not self._verifiers:
                self._resolve(wait=True)
                if self._verifiers:
                    break
                time.sleep(delay)
                delay = min(delay * 2, max_delay)
            self._loading = True
            loaders = [
                v.key_store.load_in_background(max_delay=max_delay) for v in self.verifiers.values()
            ]
            for loader in loaders:
                loader.join()

        thread = threading.Thread(target=run, name="jwks-loaders", daemon=True)
        thread.start()
        return thread


def resolve_issuers(domains_resolver: Callable[[], Iterable[str]]) -> list[str]:
    """The issuers of the domains `domains_resolver` returns now; ValueError if it raises, returns
    something else than strings, or no usable domain (an unusable one is skipped, logged)."""
    try:
        domains = domains_resolver()
        domains = [domains] if isinstance(domains, str) else list(domains)
    except Exception as exc:  # noqa: BLE001 - the project's code: any failure keeps the old list
        raise ValueError(f"{type(exc).__name__}: {exc}") from None
    issuers = []
    for raw in domains:
        try:
            issuers.append(issuer_for_domain(parse_domain(raw)))
        except ValueError:
            logger.warning("The domains resolver returned %s, which is not a domain", _shown(raw))
    if not issuers:
        raise ValueError("it returned no usable domain")
    return list(dict.fromkeys(issuers))


class IssuerKeyStores:
    """Every issuer's key store seen as one, for what asks a verifier for its `key_store`: the
    start-up loader (apps.py) and readiness checks. Ready (`key_set`) when every issuer is."""

    description = "every issuer's JWKS"

    def __init__(self, verifier: MultiIssuerVerifier):
        self._verifier = verifier

    @property
    def stores(self) -> dict[str, JWKSKeyStore]:
        return {issuer: v.key_store for issuer, v in self._verifier._verifiers.items()}

    @property
    def key_set(self) -> KeySet | None:
        """The first issuer's key set when every issuer has one; None while any has none."""
        key_sets = [store.key_set for store in self.stores.values()]
        if not key_sets or any(key_set is None for key_set in key_sets):
            return None
        return key_sets[0]

    @property
    def last_error(self) -> str | None:
        errors = [
            f"{issuer}: {store.last_error}"
            for issuer, store in self.stores.items()
            if store.last_error is not None
        ]
        if self._verifier.resolver_error:
            errors.insert(0, self._verifier.resolver_error)
        return "; ".join(errors) or None

    def may_fetch(self, kid: str | None = None) -> bool:
        return not self.stores or any(store.may_fetch() for store in self.stores.values())

    def refresh_if_stale(self) -> None:
        for store in self.stores.values():
            store.refresh_if_stale()

    def refresh(self) -> bool:
        """Fetch every issuer's key set now; True if every one succeeded."""
        return all([store.refresh() for store in self.stores.values()])

    def load_in_background(self, *, max_delay: float = 30.0) -> threading.Thread:
        return self._verifier.load_in_background(max_delay=max_delay)


__all__ = [
    "DiscoveredJWKSSource",
    "IssuerKeyStores",
    "MultiIssuerVerifier",
    "check_discovery_document",
    "issuer_for_domain",
    "jwks_url_for_issuer",
    "parse_domain",
    "resolve_issuers",
]
