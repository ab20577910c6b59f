"""The verified-token cache: a token that passed full verification is not verified again.

A client re-uses its access token for its whole life (an hour or a day at Auth0), so, as API
gateways such as Envoy do, `CachingTokenVerifier` wraps the token verifier (verifier.py, which
verifies every token in full and keeps nothing) with a small cache of tokens already verified.
Rules:
- only tokens that passed every check are stored (rejections never are), keyed by the exact token
  string; the cache is a bounded LRU (`max_size` entries, 0 turns it off);
- every hit checks the token's time window again against the clock, with the leeway: `exp`, and
  `nbf`/`iat`; an entry outside its window is dropped and never served, so a token never outlives
  its `exp` here;
- when the key store loads a new key set, entries whose signing key has left it (or whose `kid` now
  names different key material) are dropped;
- an entry is stored only if its key is still the current key for its `kid`, so a token verified
  with a key that is being withdrawn cannot slip in after the purge;
- one lock guards the dictionary; the hit path holds it for a lookup and a move;
- every lookup first lets the key store refresh a key set older than its cache lifetime, so a hit
  never outlives its key's withdrawal by more than that lifetime, as without the cache.

Several issuers (issuers.py) share one cache, so that its bound holds for all of them together and
a hit is found without reading the token: each entry then names the issuer's verifier it belongs
to (its `source`), a new key set drops only that issuer's withdrawn entries, and an issuer that is
no longer configured has its entries dropped.

`SharedValues` keeps a full cache small: what the tokens it stores have in common (claim names,
the issuer, the audience, scope sets, headers) is held once, not once per token (a full default
cache: 16.7 MB instead of 34.2 MB).
"""

import functools
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from auth0_jwt import metrics
from auth0_jwt.verifier import time_window

if TYPE_CHECKING:
    from auth0_jwt.keystore import JWKSKeyStore, KeySet, SigningKey
    from auth0_jwt.organizations import Organization
    from auth0_jwt.verifier import TokenVerifier, VerifiedToken

MAX_SHARED_VALUES = 1024
MAX_INTERNED_LENGTH = 256
# Claims whose values differ in every token: interning them would only cost memory.
UNIQUE_CLAIMS = frozenset({"jti"})


class _Entry(NamedTuple):
    token: "VerifiedToken"
    key: "SigningKey"
    valid_from: float  # nbf/iat minus the leeway
    valid_until: float  # exp plus the leeway (exclusive, as PyJWT counts it)
    source: Any = None  # in a cache shared by several issuers: the verifier that stored it


class VerifiedTokenCache:
    """Bounded, thread-safe LRU of verified tokens, keyed by the exact token string."""

    def __init__(
        self,
        *,
        max_size: int,
        leeway: float = 60,
        now: Callable[[], float] = time.time,
    ):
        if max_size < 0:
            raise ValueError("max_size must be >= 0")
        self.max_size = max_size
        self.leeway = leeway
        self.now = now
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._keys: dict[Any, Mapping[str, SigningKey]] = {}  # by source
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_size > 0

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, raw_token: str) -> bool:
        return raw_token in self._entries

    def get(self, raw_token: str) -> "VerifiedToken | None":
        """The cached token if it is still within its time window; None otherwise."""
        if not self.max_size:
            return None
        with self._lock:
            entry = self._entries.get(raw_token)
            if entry is None:
                return None
            if entry.valid_from <= self.now() < entry.valid_until:
                self._entries.move_to_end(raw_token)
                return entry.token
            del self._entries[raw_token]
            return None

    def peek(self, raw_token: str) -> _Entry | None:
        """The entry of `raw_token` as it is (no time check, no LRU move): for a guess only."""
        return self._entries.get(raw_token)

    def entry(self, raw_token: str) -> _Entry | None:
        """`get()`, answering with the whole entry (the token and the `source` that stored it)."""
        if not self.max_size:
            return None
        with self._lock:
            entry = self._entries.get(raw_token)
            if entry is None:
                return None
            if entry.valid_from <= self.now() < entry.valid_until:
                self._entries.move_to_end(raw_token)
                return entry
            del self._entries[raw_token]
            return None

    def put(
        self,
        raw_token: str,
        token: "VerifiedToken",
        key: "SigningKey",
        window: tuple[float, float] | None = None,
        source: Any = None,
    ) -> bool:
        """Store a fully verified token with the key that verified it (and its `time_window`, if
        the caller has it already; and, in a shared cache, its `source`); True if it was stored."""
        if not self.max_size:
            return False
        valid_from, valid_until = window or time_window(token, self.leeway)
        with self._lock:
            keys = self._keys.get(source)
            if keys is None or keys.get(token.kid) is not key:
                return False  # the key set changed since this token's key was looked up
            self._entries[raw_token] = _Entry(token, key, valid_from, valid_until, source)
            self._entries.move_to_end(raw_token)
            oldest_token, oldest = next(iter(self._entries.items()))
            if not oldest.valid_from <= self.now() < oldest.valid_until:
                del self._entries[oldest_token]  # opportunistic: drop one expired entry
            while len(self._entries) > self.max_size:
                self._entries.popitem(last=False)
        return True

    def discard(self, raw_token: str) -> None:
        with self._lock:
            self._entries.pop(raw_token, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def on_key_set_changed(self, key_set: "KeySet", source: Any = None) -> None:
        """Key store listener: adopt the new keys and drop entries whose key has left them (in a
        shared cache: the keys and entries of `source`)."""
        with self._lock:
            self._keys[source] = key_set.keys
            verdicts: dict[int, bool] = {}
            withdrawn = []
            for raw_token, entry in self._entries.items():
                if entry.source is not source:
                    continue
                verdict = verdicts.get(id(entry.key))
                if verdict is None:
                    verdict = _same_key(entry.key, key_set.keys.get(entry.token.kid))
                    verdicts[id(entry.key)] = verdict
                if not verdict:
                    withdrawn.append(raw_token)
            for raw_token in withdrawn:
                del self._entries[raw_token]

    def drop_source(self, source: Any) -> None:
        """Forget `source`'s keys and entries (an issuer that is no longer configured)."""
        with self._lock:
            self._keys.pop(source, None)
            for raw_token in [t for t, entry in self._entries.items() if entry.source is source]:
                del self._entries[raw_token]


class CachingTokenVerifier:
    """A token verifier with a `VerifiedTokenCache` in front: a repeated token costs a
    dictionary lookup and a clock check; a new one is verified in full by `verifier` and kept.

    `token_cache`, when given, is a cache shared with other issuers' verifiers (issuers.py); its
    entries then name this verifier as their source."""

    retired = False  # set when its issuer is no longer accepted (issuers.py)

    def __init__(
        self,
        verifier: "TokenVerifier",
        *,
        max_size: int = 0,
        token_cache: VerifiedTokenCache | None = None,
    ):
        self.verifier = verifier
        self.metrics = verifier.metrics
        self._accepted = verifier.metrics.accepted
        if token_cache is None:
            token_cache = VerifiedTokenCache(
                max_size=max_size, leeway=verifier.leeway, now=verifier.now
            )
            self._source = None
        else:
            self._source = self
        self.token_cache = token_cache
        self._shared = SharedValues()
        listener = functools.partial(token_cache.on_key_set_changed, source=self._source)
        key_store = verifier.key_store
        key_store.add_listener(listener)
        if key_store.key_set is not None:
            listener(key_store.key_set)

    @property
    def key_store(self) -> "JWKSKeyStore":
        return self.verifier.key_store

    @property
    def issuer(self) -> str:
        return self.verifier.issuer

    @property
    def audience(self) -> str:
        return self.verifier.audience

    def may_fetch(self, raw_token: str) -> bool:
        """Whether verifying `raw_token` could fetch the JWKS or wait for a fetch: a refresh is
        due, or the token is not cached and its key is not loaded."""
        if self.key_store.may_fetch():
            return True
        if raw_token in self.token_cache:
            return False
        return self.verifier.may_fetch(raw_token)

    def verify(self, raw_token: str) -> "VerifiedToken":
        """The cached token if `raw_token` is in the cache and still valid, else `verifier`'s
        verdict (kept when it is a pass); raise TokenRejected or KeySetUnavailable."""
        if not self.token_cache.enabled:
            return self.verifier.verify(raw_token)
        # A refresh that is due happens first, so a hit never outlives its key's withdrawal by
        # more than the key set's cache lifetime, as without the token cache.
        self.key_store.refresh_if_stale()
        token = self.token_cache.get(raw_token)
        if token is not None:
            metrics.TOKEN_CACHE_HIT.inc()
            self._accepted.inc()
            return token
        metrics.TOKEN_CACHE_MISS.inc()
        return self.verify_and_keep(raw_token)

    def verify_and_keep(self, raw_token: str) -> "VerifiedToken":
        """Verify `raw_token` in full (a cache miss) and keep it when it passes."""
        verification = self.verifier.verify_in_full(raw_token)  # counts its own outcome
        token = self._shared.compact(raw_token, verification.token)
        window = (verification.valid_from, verification.valid_until)
        self.token_cache.put(raw_token, token, verification.key, window, self._source)
        return token


def _same_key(old: "SigningKey", new: "SigningKey | None") -> bool:
    """True if `new` is the same key material, type and algorithm as `old`."""
    if new is None:
        return False
    if new is old:
        return True
    return (
        new.key_type == old.key_type
        and new.algorithm == old.algorithm
        and new.public_key.public_numbers() == old.public_key.public_numbers()
    )


class SharedValues:
    """One copy of what many verified tokens have in common, for the cache to store them with.

    Fed only with tokens that passed verification (the issuer's own content); the tables of
    shared headers and scope sets are bounded, and past the bound values are simply not shared.
    """

    def __init__(self, max_size: int = MAX_SHARED_VALUES):
        self.max_size = max_size
        self._headers: dict[str, Mapping[str, Any]] = {}
        self._scope_sets: dict[frozenset[str], frozenset[str]] = {}
        self._organizations: dict[Organization, Organization] = {}

    def claims(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """`claims` with its names and short strings interned (except per-token ones)."""
        shared: dict[str, Any] = {}
        for name, value in claims.items():
            if name in UNIQUE_CLAIMS:
                pass
            elif value.__class__ is str:
                if len(value) <= MAX_INTERNED_LENGTH:
                    value = sys.intern(value)
            elif isinstance(value, (list, dict)):
                value = _interned(value)
            shared[sys.intern(name)] = value
        return shared

    def header(self, segment: str, header: Mapping[str, Any]) -> Mapping[str, Any]:
        """A read-only header shared by every token whose header segment is `segment`."""
        shared = self._headers.get(segment)
        if shared is None:
            shared = MappingProxyType(self.claims(header))
            if len(self._headers) < self.max_size:
                shared = self._headers.setdefault(segment, shared)
        return shared

    def compact(self, raw_token: str, token: "VerifiedToken") -> "VerifiedToken":
        """`token` rebuilt on shared values (its header is shared by header segment)."""
        return token.__class__(  # not dataclasses.replace(), which costs a few µs more
            claims=self.claims(token.claims),
            header=self.header(raw_token.partition(".")[0], token.header),
            subject=token.subject,
            scopes=self.scopes(token.scopes),
            expires_at=token.expires_at,
            not_before=token.not_before,
            kid=token.kid,
            organization=self.organization(token.organization),
        )

    def organization(self, organization: "Organization | None") -> "Organization | None":
        """The one `Organization` equal to `organization`."""
        if organization is None:
            return None
        shared = self._organizations.get(organization)
        if shared is None:
            shared = organization
            if len(self._organizations) < self.max_size:
                shared = self._organizations.setdefault(organization, organization)
        return shared

    def scopes(self, scopes: frozenset[str]) -> frozenset[str]:
        """The one frozenset equal to `scopes`."""
        shared = self._scope_sets.get(scopes)
        if shared is None:
            shared = frozenset(_interned(scope) for scope in scopes)
            if len(self._scope_sets) < self.max_size:
                shared = self._scope_sets.setdefault(shared, shared)
        return shared


def _interned(value: Any) -> Any:
    """`value` (a JSON value) with its short strings interned."""
    if isinstance(value, str):
        return sys.intern(value) if len(value) <= MAX_INTERNED_LENGTH else value
    if isinstance(value, list):
        return [_interned(item) for item in value]
    if isinstance(value, dict):
        return {_interned(name): _interned(item) for name, item in value.items()}
    return value
