"""The key store: fetches the issuer's JWKS, builds its public keys once, and serves them by `kid`.

It knows HTTP and time, not requests or tokens. Rules:
- keys are built once per fetched key set, never per request;
- a key set older than `cache_lifetime` is refreshed by the next caller while the others keep using
  it (stale-while-revalidate); a failed refresh keeps the last good key set (stale-on-error);
- an unknown `kid` triggers a refetch at most once per `min_refetch_interval`, counted from the
  last refetch for an unknown `kid` only: the start-up and scheduled fetches do not delay it, so a
  key published just after a fetch is found at once. Callers that arrive during a fetch wait for
  it instead of starting their own, and a caller that finds a key set fetched since it started
  looking uses that one. A flood of bogus `kid`s therefore costs the IdP at most one request per
  interval on top of the scheduled fetches;
- after a failed fetch, no caller fetches again before `min_refetch_interval` has passed;
- with a `persistence` (keyset_store.py: the database every worker of every instance shares), each
  fetched key set is saved there (public keys only), and a store that has no key set yet and
  cannot fetch one starts from the saved one, if that was fetched at most `persisted_max_age`
  seconds ago. It is parsed and checked here exactly as a fetched one; a persistence that fails
  is logged and ignored, never an error.

Every fetch is named by what caused it (`startup`, `scheduled`, `unknown_kid`), for the logs and
the metrics.
"""

import base64
import contextlib
import contextvars
import http.client
import json
import logging
import math
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from jwt.algorithms import ECAlgorithm, RSAAlgorithm
from jwt.exceptions import InvalidKeyError

from auth0_jwt import metrics

logger = logging.getLogger(__name__)

MAX_JWKS_BYTES = 1024 * 1024
MIN_RSA_KEY_BITS = 2048
KEY_TYPES_BY_ALGORITHM_PREFIX = {"RS": "RSA", "PS": "RSA", "ES": "EC"}
# Members of a JWK that only a private (or symmetric) key has (RFC 7518 section 6): never saved.
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
DEFAULT_PERSISTED_MAX_AGE = 3600.0
# A saved key set stamped this far in the future (another host's clock) still counts as new.
PERSISTED_CLOCK_SKEW = 60.0

# What caused a fetch.
STARTUP = "startup"  # no key set yet: the start-up loader, or a request before it succeeded
SCHEDULED = "scheduled"  # the key set is older than its cache lifetime
UNKNOWN_KID = "unknown_kid"  # a token names a kid the key set does not hold


class JWKSError(Exception):
    """The JWKS could not be fetched or is not a usable key set; `str()` says why in plain words."""


class KeySetUnavailable(Exception):
    """No key set has been loaded yet, so no token can be verified."""


class UnknownSigningKey(Exception):
    """The key set (after any allowed refetch) has no key with the requested `kid`."""


class FetchNeeded(Exception):
    """Raised inside `no_fetching()` where a fetch (or a wait for one) would start: the caller,
    on an event loop, verifies again in a worker thread."""


_fetching_forbidden: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "auth0_jwt_fetching_forbidden", default=False
)


@contextlib.contextmanager
def no_fetching() -> Iterator[None]:
    """Within this block (in this context: one asyncio task, or one thread), a key store or a
    domains resolver raises FetchNeeded instead of fetching or waiting. An async caller verifies on
    the event loop when `may_fetch()` said no fetch was due; if the key set turned stale in
    between, it is told so instead of the loop blocking on the network."""
    token = _fetching_forbidden.set(True)
    try:
        yield
    finally:
        _fetching_forbidden.reset(token)


def check_fetching_allowed(what: str) -> None:
    """Raise FetchNeeded inside `no_fetching()`; `what` names the fetch."""
    if _fetching_forbidden.get():
        raise FetchNeeded(what)


class KeySetPersistence(Protocol):
    """Where the last good JWKS outlives a process (keyset_store.py has the database one)."""

    def load(self) -> tuple[Any, float] | None:
        """The saved JWKS document and when it was fetched (seconds since the epoch), or None."""
        ...

    def save(self, document: Any, fetched_at: float) -> None:
        """Keep `document` (public keys only), fetched at `fetched_at`, unless a newer one is
        kept already."""
        ...


@dataclass(frozen=True)
class SigningKey:
    """One public key from the JWKS, ready for signature verification."""

    kid: str
    key_type: str
    public_key: Any
    algorithm: str | None = None


@dataclass(frozen=True)
class KeySet:
    """The keys of one successful fetch, with what was skipped and why."""

    keys: Mapping[str, SigningKey]
    fetched_at: float
    version: int
    skipped: tuple[str, ...] = field(default=())


# --- Fetching -------------------------------------------------------------------------------------


class HTTPJWKSSource:
    """Fetches a JWKS document over HTTP(S) with a total deadline and a size limit.

    TLS uses the system trust store the standard way (`ssl.create_default_context`), so
    `SSL_CERT_FILE` and `SSL_CERT_DIR` are honoured.
    """

    def __init__(self, url: str, *, timeout: float):
        if not url.startswith(("https://", "http://")):
            raise ValueError("the JWKS URL must be http(s)")
        self.url = url
        self.timeout = timeout

    def __call__(self) -> Any:
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked in __init__
            self.url,
            headers={"Accept": "application/json", "User-Agent": "auth0-django-example"},
        )
        deadline = time.monotonic() + self.timeout
        # Loading the trust store costs ~50 ms: only for https (a plain-http URL is a test or a
        # local issuer; should it redirect to https, urllib makes a default context itself).
        context = ssl.create_default_context() if self.url.startswith("https://") else None
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout, context=context
            ) as response:
                body = self._read_body(response, deadline)
        except urllib.error.HTTPError as exc:
            raise JWKSError(f"the JWKS endpoint answered HTTP {exc.code}") from None
        except urllib.error.URLError as exc:
            raise JWKSError(_describe_network_error(exc.reason, self.timeout)) from None
        except (OSError, ValueError, http.client.HTTPException) as exc:
            raise JWKSError(_describe_network_error(exc, self.timeout)) from None
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            raise JWKSError("the JWKS endpoint did not return JSON") from None

    def _read_body(self, response: http.client.HTTPResponse, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while chunk := response.read(65536):
            size += len(chunk)
            if size > MAX_JWKS_BYTES:
                raise JWKSError(f"the JWKS is larger than {MAX_JWKS_BYTES} bytes")
            if time.monotonic() > deadline:
                raise TimeoutError
            chunks.append(chunk)
        return b"".join(chunks)


def _describe_network_error(reason: object, timeout: float) -> str:
    if isinstance(reason, socket.gaierror):
        return "DNS lookup of the JWKS host failed"
    if isinstance(reason, ssl.SSLCertVerificationError):
        return f"TLS certificate verification failed ({reason.verify_message})"
    if isinstance(reason, ssl.SSLError):
        return "TLS handshake with the JWKS host failed"
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return f"the JWKS host did not answer within {timeout:g} s"
    if isinstance(reason, ConnectionRefusedError):
        return "the JWKS host refused the connection"
    if isinstance(reason, http.client.HTTPException):  # a bad status line, headers or chunks
        return f"the JWKS host did not answer in valid HTTP ({type(reason).__name__})"
    return f"the JWKS could not be fetched ({reason})"


# --- Parsing --------------------------------------------------------------------------------------


def parse_jwks(
    document: Any, *, algorithms: tuple[str, ...]
) -> tuple[dict[str, SigningKey], list[str]]:
    """Build the signing keys of a JWKS document; return them by `kid` with the reasons for skips.

    A malformed entry is skipped (and reported) so that the other keys keep working; a document
    that is not a key set at all, or holds no usable key, raises JWKSError.
    """
    keys, skipped, _ = _parse_jwks(document, algorithms=algorithms)
    return keys, skipped


def _parse_jwks(
    document: Any, *, algorithms: tuple[str, ...]
) -> tuple[dict[str, SigningKey], list[str], dict[str, Any]]:
    """`parse_jwks`, plus the public document of the keys it kept (what a persistence saves)."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise JWKSError('the JWKS is not an object with a "keys" list')
    key_types = {KEY_TYPES_BY_ALGORITHM_PREFIX[name[:2]] for name in algorithms}
    keys: dict[str, SigningKey] = {}
    skipped: list[str] = []
    kept: list[dict[str, Any]] = []
    for position, entry in enumerate(document["keys"]):
        try:
            key = build_signing_key(entry, key_types=key_types)
        except ValueError as exc:
            skipped.append(f"key {position}: {exc}")
            continue
        if key.kid in keys:
            skipped.append(f"key {position}: duplicate kid {key.kid!r}")
            continue
        keys[key.kid] = key
        kept.append(
            {name: value for name, value in entry.items() if name not in PRIVATE_JWK_MEMBERS}
        )
    if not keys:
        detail = f" ({'; '.join(skipped)})" if skipped else ""
        raise JWKSError(f"the JWKS holds no usable signing key{detail}")
    return keys, skipped, {"keys": kept}


def build_signing_key(entry: Any, *, key_types: set[str]) -> SigningKey:
    """Turn one JWK into a SigningKey, or raise ValueError saying why it cannot be used."""
    if not isinstance(entry, dict):
        raise ValueError("not a JSON object")
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid:
        raise ValueError("no kid")
    key_type = entry.get("kty")
    if not isinstance(key_type, str) or key_type not in key_types:
        raise ValueError(f"key type {key_type!r} does not fit the accepted algorithms")
    if entry.get("use", "sig") != "sig":
        raise ValueError("not a signature key")
    key_ops = entry.get("key_ops")
    if key_ops is not None and (not isinstance(key_ops, list) or "verify" not in key_ops):
        raise ValueError("key_ops does not allow verify")
    algorithm = entry.get("alg")
    if algorithm is not None and not isinstance(algorithm, str):
        raise ValueError("alg is not a string")

    from_parameters = _key_from_parameters(entry, key_type)
    from_certificate = _key_from_x5c(entry.get("x5c")) if "x5c" in entry else None
    if from_parameters is None and from_certificate is None:
        raise ValueError("neither key parameters nor an x5c certificate")
    if from_parameters is not None and from_certificate is not None:
        if not _same_public_key(from_parameters, from_certificate):
            raise ValueError("the x5c certificate does not match the key parameters")
    public_key = from_parameters or from_certificate

    if key_type == "RSA":
        if not isinstance(public_key, rsa.RSAPublicKey):
            raise ValueError("the x5c certificate does not hold an RSA key")
        if public_key.key_size < MIN_RSA_KEY_BITS:
            raise ValueError(f"RSA key shorter than {MIN_RSA_KEY_BITS} bits")
    elif not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise ValueError("the x5c certificate does not hold an EC key")
    return SigningKey(kid=kid, key_type=key_type, public_key=public_key, algorithm=algorithm)


PublicKeyFromParameters = rsa.RSAPublicKey | ec.EllipticCurvePublicKey


def _same_public_key(
    from_parameters: PublicKeyFromParameters, from_certificate: CertificatePublicKeyTypes
) -> bool:
    """Whether the x5c certificate holds the key the parameters give (any other type: not)."""
    if isinstance(from_parameters, rsa.RSAPublicKey):
        return (
            isinstance(from_certificate, rsa.RSAPublicKey)
            and from_parameters.public_numbers() == from_certificate.public_numbers()
        )
    return (
        isinstance(from_certificate, ec.EllipticCurvePublicKey)
        and from_parameters.public_numbers() == from_certificate.public_numbers()
    )


def _key_from_parameters(entry: dict[str, Any], key_type: str) -> PublicKeyFromParameters | None:
    required = ("n", "e") if key_type == "RSA" else ("crv", "x", "y")
    if not any(name in entry for name in required):
        return None
    if not all(isinstance(entry.get(name), str) for name in required):
        raise ValueError(f"key parameters {', '.join(required)} must all be strings")
    if "d" in entry:
        raise ValueError("a private key was published")
    public_entry = {name: entry[name] for name in ("kty", *required)}
    try:
        # No private member ("d" is refused above): PyJWT builds the public key.
        if key_type == "RSA":
            return cast(rsa.RSAPublicKey, RSAAlgorithm.from_jwk(public_entry))
        return cast(ec.EllipticCurvePublicKey, ECAlgorithm.from_jwk(public_entry))
    except (InvalidKeyError, ValueError, TypeError) as exc:
        raise ValueError(f"invalid key parameters ({exc})") from None


def _key_from_x5c(chain: Any) -> CertificatePublicKeyTypes:
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise ValueError("x5c is not a list of certificates")
    try:
        der = base64.b64decode(chain[0], validate=True)
        return x509.load_der_x509_certificate(der).public_key()
    except ValueError:
        raise ValueError("x5c does not hold a valid certificate") from None


# --- The store ------------------------------------------------------------------------------------


class JWKSKeyStore:
    """Thread-safe cache of the issuer's signing keys, keyed by `kid`."""

    def __init__(
        self,
        source: Callable[[], Any],
        *,
        algorithms: tuple[str, ...] = ("RS256",),
        cache_lifetime: float = 600.0,
        min_refetch_interval: float = 30.0,
        fetch_wait: float = 6.0,
        clock: Callable[[], float] = time.monotonic,
        description: str = "JWKS",
        persistence: KeySetPersistence | None = None,
        persisted_max_age: float = DEFAULT_PERSISTED_MAX_AGE,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.source = source
        self.persistence = persistence
        self.persisted_max_age = persisted_max_age
        self.wall_clock = wall_clock  # the saved key sets' timestamps: shared by every host
        self.algorithms = algorithms
        self.cache_lifetime = cache_lifetime
        self.min_refetch_interval = min_refetch_interval
        self.fetch_wait = fetch_wait
        self.clock = clock
        self.description = description
        self.fetch_count = 0
        self.last_error: str | None = None
        self._key_set: KeySet | None = None
        self._fetch_lock = threading.Lock()
        self._attempts = 0
        self._last_failure_at = -math.inf
        self._last_unknown_kid_fetch_at = -math.inf
        self._listeners: list[Callable[[KeySet], None]] = []
        metrics.SIGNING_KEYS.set(0)

    @property
    def key_set(self) -> KeySet | None:
        """The current key set, or None before the first successful fetch."""
        return self._key_set

    def add_listener(self, listener: Callable[[KeySet], None]) -> None:
        """Call `listener(new_key_set)` after every successful fetch."""
        self._listeners.append(listener)

    def get_key(self, kid: str) -> SigningKey:
        """Return the key for `kid`, fetching the JWKS when allowed; see the module rules."""
        attempts_seen = self._attempts
        key_set = self._key_set
        if key_set is None:
            key_set = self._refresh(wait=True, trigger=STARTUP)
            if key_set is None:
                raise KeySetUnavailable(self.last_error or "the JWKS has not been loaded yet")
        elif self.clock() - key_set.fetched_at >= self.cache_lifetime:
            key_set = self._refresh(wait=False, trigger=SCHEDULED) or key_set
        key = key_set.keys.get(kid)
        if key is None:
            key_set = self._refresh(wait=True, trigger=UNKNOWN_KID, since=attempts_seen) or key_set
            key = key_set.keys.get(kid)
        if key is None:
            raise UnknownSigningKey(kid)
        return key

    def may_fetch(self, kid: str | None = None) -> bool:
        """Whether `get_key(kid)` (or a `refresh_if_stale`, with no `kid`) could fetch or wait for a
        fetch: no key set yet, one due for refresh, or no key for `kid`. Async callers run those
        off the event loop."""
        key_set = self._key_set
        if key_set is None or self.clock() - key_set.fetched_at >= self.cache_lifetime:
            return True
        return kid is not None and kid not in key_set.keys

    def refresh_if_stale(self) -> None:
        """Refresh a key set older than `cache_lifetime`, never waiting for another fetch.

        The verifier calls this before serving a token from its cache, so key rotation and
        withdrawal are noticed on schedule even when every request is a cache hit.
        """
        key_set = self._key_set
        if key_set is not None and self.clock() - key_set.fetched_at >= self.cache_lifetime:
            self._refresh(wait=False, trigger=SCHEDULED)

    def refresh(self) -> bool:
        """Fetch now, ignoring the rate limits (start-up and operator use); True on success."""
        with self._fetch_lock:
            return self._fetch(STARTUP) is not None

    def _load_if_missing(self) -> bool:
        """Fetch unless a key set is loaded (perhaps by a request while this thread waited)."""
        with self._fetch_lock:
            return self._key_set is not None or self._fetch(STARTUP) is not None

    def _refresh(self, *, wait: bool, trigger: str, since: int | None = None) -> KeySet | None:
        """Fetch if the rate limits allow and no fetch ended since `since` (an `_attempts` count,
        by default now); return the newest keys."""
        check_fetching_allowed(self.description)
        attempts_seen = self._attempts if since is None else since
        if not self._fetch_lock.acquire(timeout=self.fetch_wait if wait else 0):
            return self._key_set
        try:
            if self._attempts != attempts_seen:
                return self._key_set  # a fetch ended since this caller looked: use its result
            now = self.clock()
            if now - self._last_failure_at < self.min_refetch_interval:
                return self._key_set
            if trigger == UNKNOWN_KID:
                if now - self._last_unknown_kid_fetch_at < self.min_refetch_interval:
                    return self._key_set
                self._last_unknown_kid_fetch_at = now
            return self._fetch(trigger) or self._key_set
        finally:
            self._fetch_lock.release()

    def _fetch(self, trigger: str) -> KeySet | None:
        """Fetch and parse the JWKS (caller holds the lock); keep the old key set on failure."""
        try:
            return self._fetch_once(trigger)
        finally:
            # Counted once done: a caller that arrived while this fetch was in flight then sees
            # that a fetch happened since it looked, and uses its result instead of fetching again.
            self._attempts += 1

    def _fetch_once(self, trigger: str) -> KeySet | None:
        self.fetch_count += 1
        started = time.monotonic()
        try:
            keys, skipped, public_document = _parse_jwks(self.source(), algorithms=self.algorithms)
        except JWKSError as exc:
            elapsed = time.monotonic() - started
            self._last_failure_at = self.clock()
            self.last_error = str(exc)
            metrics.jwks_fetched(ok=False, trigger=trigger, seconds=elapsed, key_count=None)
            logger.warning(
                "JWKS fetch failed: %s",
                exc,
                extra={
                    "event": "jwks_fetch",
                    "outcome": "error",
                    "trigger": trigger,
                    "jwks": self.description,
                    "duration_ms": round(elapsed * 1000, 1),
                    "kept_stale_keys": self._key_set is not None,
                },
            )
            return self._load_persisted() if self._key_set is None else None
        elapsed = time.monotonic() - started
        key_set = self._install(keys, skipped, age=0.0)
        self.last_error = None
        metrics.jwks_fetched(ok=True, trigger=trigger, seconds=elapsed, key_count=len(keys))
        for reason in skipped:
            logger.warning("JWKS entry skipped: %s", reason)
        logger.info(
            "JWKS fetched: %d key(s)",
            len(keys),
            extra={
                "event": "jwks_fetch",
                "outcome": "ok",
                "trigger": trigger,
                "jwks": self.description,
                "duration_ms": round(elapsed * 1000, 1),
                "key_count": len(keys),
            },
        )
        self._notify(key_set)
        self._save_persisted(public_document)
        return key_set

    def _install(
        self, keys: Mapping[str, SigningKey], skipped: Iterable[str], *, age: float
    ) -> KeySet:
        """Make `keys`, fetched `age` seconds ago, the current key set."""
        previous = self._key_set
        key_set = KeySet(
            keys=keys,
            fetched_at=self.clock() - age,
            version=(previous.version + 1) if previous else 1,
            skipped=tuple(skipped),
        )
        self._key_set = key_set
        return key_set

    def _notify(self, key_set: KeySet) -> None:
        for listener in self._listeners:
            listener(key_set)

    def _save_persisted(self, public_document: dict[str, Any]) -> None:
        if self.persistence is None or self.persisted_max_age <= 0:
            return
        try:
            self.persistence.save(public_document, self.wall_clock())
        except Exception as exc:  # noqa: BLE001 - a second source never breaks key loading
            logger.warning("The fetched JWKS was not saved for other processes: %s", exc)

    def _load_persisted(self) -> KeySet | None:
        """The saved key set, when this store has none and the fetch failed; None if there is no
        saved one, it is older than `persisted_max_age`, or it cannot be read or used."""
        if self.persistence is None or self.persisted_max_age <= 0:
            return None
        try:
            saved = self.persistence.load()
        except Exception as exc:  # noqa: BLE001 - a second source never breaks key loading
            logger.warning("The saved JWKS could not be read: %s", exc)
            return None
        if saved is None:
            return None
        document, fetched_at = saved
        age = self.wall_clock() - fetched_at
        if not -PERSISTED_CLOCK_SKEW <= age <= self.persisted_max_age:
            logger.warning(
                "The saved JWKS is not used: fetched %.0f s ago, the limit is %g s",
                age,
                self.persisted_max_age,
            )
            return None
        try:
            keys, skipped, _ = _parse_jwks(document, algorithms=self.algorithms)
        except JWKSError as exc:
            logger.warning("The saved JWKS is not used: %s", exc)
            return None
        key_set = self._install(keys, skipped, age=max(age, 0.0))
        metrics.SIGNING_KEYS.set(len(keys))
        self._notify(key_set)
        logger.warning(
            "Serving the JWKS saved %.0f s ago (%d key(s)) until a fetch succeeds",
            age,
            len(keys),
            extra={
                "event": "jwks_saved_key_set",
                "jwks": self.description,
                "age_s": round(age, 1),
                "key_count": len(keys),
            },
        )
        return key_set

    def load_in_background(self, *, max_delay: float = 30.0) -> threading.Thread:
        """Start a daemon thread that fetches until the first success, backing off between tries.

        Used at start-up: the process never blocks or crashes on a slow or absent IdP.
        """

        def run() -> None:
            delay = min(1.0, max_delay)
            while self._key_set is None:
                try:
                    if self._load_if_missing():
                        return
                except Exception:  # noqa: BLE001 - a start-up helper must never kill the process
                    logger.exception("Unexpected error while loading the JWKS")
                time.sleep(delay)
                delay = min(delay * 2, max_delay)

        thread = threading.Thread(target=run, name="jwks-loader", daemon=True)
        thread.start()
        return thread
