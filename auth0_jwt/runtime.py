"""The core wired into a Django process: what every request uses, built once per process from the
`AUTH0` setting (the token verifier with its key store and token cache, the DPoP verifier, the
request authenticator), and `DjangoRequest`, a Django request as the authenticator reads it.

Each object is built on first use and built again when `AUTH0` or `DEBUG` changes (conf.py's
`ProcessWide`); tests replace one with `reset_token_verifier(...)` and the like, and
`use_jwks_source(...)` gives the verifier its keys in-process and `use_replay_namespace(...)` keeps
each test's DPoP proofs apart (auth0_jwt.testing's issuer).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from auth0_jwt import metrics
from auth0_jwt.authenticator import ReplayStore, RequestAuthenticator, UserLoader
from auth0_jwt.conf import Auth0Settings, ProcessWide, get_auth0_settings
from auth0_jwt.dpop import DPoPVerifier
from auth0_jwt.issuers import DiscoveredJWKSSource, MultiIssuerVerifier, jwks_url_for_issuer
from auth0_jwt.keystore import HTTPJWKSSource, JWKSKeyStore
from auth0_jwt.organizations import OrganizationPolicy
from auth0_jwt.token_cache import CachingTokenVerifier, VerifiedTokenCache
from auth0_jwt.token_user import TokenUserLoader
from auth0_jwt.verifier import TokenVerifier

if TYPE_CHECKING:
    from django.http import HttpRequest

# What verifies tokens: one issuer's verifier, or the verifier of several (issuers.py).
AnyTokenVerifier = CachingTokenVerifier | MultiIssuerVerifier

# --- The token verifier ---------------------------------------------------------------------------


def build_token_verifier(
    config: Auth0Settings | None = None,
    *,
    now: Callable[[], float] = time.time,
    source: Callable[[], Any] | None = None,
    **key_store_options: Any,
) -> AnyTokenVerifier:
    """Build the verifier, its key store and its token cache from the `AUTH0` setting; `now` is
    their wall clock. `source`, a zero-argument callable returning a JWKS document, replaces the
    JWKS URL (or the local issuer) the setting names; so does the one given to `use_jwks_source`.
    A JWKS fetched from its URL is saved in the database for the other processes (keyset_store.py)
    unless `JWKS_PERSISTED_MAX_AGE` is 0.

    With several issuers (`DOMAINS`, `DOMAINS_RESOLVER`) it is a `MultiIssuerVerifier`: one
    verifier and key store (each with all of the above) per issuer, over one token cache."""
    config = config or get_auth0_settings()
    organizations = OrganizationPolicy(config.organizations)
    if not config.multiple_issuers:
        return _build_issuer_verifier(
            config, config.issuer, config.jwks_url, None, organizations, now, source,
            key_store_options,
        )  # fmt: skip
    domains_resolver = None
    if config.domains_resolver:
        from django.utils.module_loading import import_string

        domains_resolver = import_string(config.domains_resolver)

    def build(issuer: str, token_cache: VerifiedTokenCache) -> CachingTokenVerifier:
        return _build_issuer_verifier(
            config, issuer, jwks_url_for_issuer(issuer), token_cache, organizations, now, source,
            key_store_options,
        )  # fmt: skip

    return MultiIssuerVerifier(
        build,
        audience=config.audience,
        algorithms=config.algorithms,
        token_cache=VerifiedTokenCache(
            max_size=config.token_cache_size, leeway=config.leeway, now=now
        ),
        issuers=config.issuers,
        domains_resolver=domains_resolver,
        resolve_interval=config.jwks_cache_lifetime,
        retry_interval=config.jwks_min_refetch_interval,
        clock=key_store_options.get("clock", time.monotonic),
    )


def _build_issuer_verifier(
    config: Auth0Settings,
    issuer: str,
    jwks_url: str,
    token_cache: VerifiedTokenCache | None,
    organizations: OrganizationPolicy,
    now: Callable[[], float],
    source: Callable[[], Any] | None,
    key_store_options: dict[str, Any],
) -> CachingTokenVerifier:
    """The verifier of one issuer, with its own key store (and the shared `token_cache`, if any).
    Its key store's JWKS source names the issuer for the metrics."""
    source = source or _jwks_source
    persistence = None
    if source is not None:
        description = "in-process JWKS"
    elif config.local_issuer:
        from auth0_jwt.local_issuer import LocalIssuer

        source = LocalIssuer.from_settings(config).jwks
        description = "local development issuer"
    else:
        if config.discovery:
            source = DiscoveredJWKSSource(
                issuer,
                timeout=config.jwks_timeout,
                max_age=config.jwks_cache_lifetime,
                clock=key_store_options.get("clock", time.monotonic),
            )
            saved_under = description = source.url
        else:
            source = HTTPJWKSSource(jwks_url, timeout=config.jwks_timeout)
            saved_under = description = jwks_url
        if config.jwks_persisted_max_age > 0:
            from django.conf import settings

            from auth0_jwt.keyset_store import DatabaseKeySetStore

            persistence = DatabaseKeySetStore(saved_under, secret=settings.SECRET_KEY)
    source = metrics.LabelledSource(source, issuer)
    options = {
        "algorithms": config.algorithms,
        "cache_lifetime": config.jwks_cache_lifetime,
        "min_refetch_interval": config.jwks_min_refetch_interval,
        "fetch_wait": config.jwks_timeout + 1,
        "description": description,
        "persistence": persistence,
        "persisted_max_age": config.jwks_persisted_max_age,
        "wall_clock": now,
        **key_store_options,
    }
    verifier = TokenVerifier(
        key_store=JWKSKeyStore(source, **options),
        issuer=issuer,
        audience=config.audience,
        algorithms=config.algorithms,
        leeway=config.leeway,
        now=now,
        organizations=organizations,
    )
    if token_cache is not None:
        return CachingTokenVerifier(verifier, token_cache=token_cache)
    return CachingTokenVerifier(verifier, max_size=config.token_cache_size)


# The JWKS source given in-process (use_jwks_source): every verifier built meanwhile uses it.
_jwks_source: Callable[[], Any] | None = None

_token_verifier: ProcessWide[AnyTokenVerifier] = ProcessWide(build_token_verifier)


def get_token_verifier() -> AnyTokenVerifier:
    """The verifier every request uses, built on first use."""
    return _token_verifier.get()


def reset_token_verifier(verifier: AnyTokenVerifier | None = None) -> None:
    """Replace the process-wide verifier (tests); None rebuilds it on next use."""
    _token_verifier.replace(verifier)


def use_jwks_source(source: Callable[[], Any] | None) -> Callable[[], Any] | None:
    """Build every verifier over `source` (a zero-argument callable returning a JWKS document, as
    auth0_jwt.testing's issuer gives) instead of the JWKS URL the settings name: the process-wide
    one (rebuilt now, and after every settings change) and any other built meanwhile, until
    `use_jwks_source(None)`. Returns the source in use before, for the caller to put back."""
    global _jwks_source
    previous, _jwks_source = _jwks_source, source
    _token_verifier.replace()
    return previous


# --- The DPoP verifier ----------------------------------------------------------------------------


def build_dpop_verifier(
    config: Auth0Settings | None = None, *, now: Callable[[], float] = time.time
) -> DPoPVerifier:
    """A DPoP verifier from the `AUTH0` setting; `now` is its wall clock."""
    config = config or get_auth0_settings()
    nonce_secret = None
    if config.dpop_nonce:
        from django.conf import settings

        # Derived from SECRET_KEY, which every instance of one deployment shares.
        nonce_secret = hashlib.sha256(
            b"auth0_jwt.dpop.nonce\n" + settings.SECRET_KEY.encode()
        ).digest()
    return DPoPVerifier(
        algorithms=config.dpop_algorithms,
        iat_leeway=config.dpop_iat_leeway,
        max_age=config.dpop_max_age,
        max_length=config.dpop_max_proof_length,
        nonce_secret=nonce_secret,
        now=now,
    )


_dpop_verifier: ProcessWide[DPoPVerifier] = ProcessWide(build_dpop_verifier)


def get_dpop_verifier() -> DPoPVerifier:
    """The DPoP verifier every request uses, built on first use."""
    return _dpop_verifier.get()


def reset_dpop_verifier(verifier: DPoPVerifier | None = None) -> None:
    """Replace the process-wide DPoP verifier (tests); None rebuilds it on next use."""
    _dpop_verifier.replace(verifier)


# --- The request authenticator --------------------------------------------------------------------


def build_request_authenticator(config: Auth0Settings | None = None) -> RequestAuthenticator:
    """The request authenticator over the process-wide verifiers, replay store and user loader
    (`AUTH0["USER"]`: Django users from the database, or token users)."""
    from auth0_jwt.replay import get_replay_store

    config = config or get_auth0_settings()
    user_loader: UserLoader
    if config.user_mode == "token":
        user_loader = TokenUserLoader()
    else:
        from auth0_jwt.users import DatabaseUserLoader  # imports the models: apps must be ready

        user_loader = DatabaseUserLoader()
    dpop = config.dpop_mode != "off"
    return RequestAuthenticator(
        token_verifier=get_token_verifier(),
        dpop_verifier=get_dpop_verifier() if dpop else None,
        replay_store=_LazyReplayStore(get_replay_store) if dpop else None,
        user_loader=user_loader,
        dpop_mode=config.dpop_mode,
        dpop_algorithms=config.dpop_algorithms,
    )


class _LazyReplayStore:
    """The process-wide replay store, looked up on each use: it is built (and its Redis client
    imported) on the first DPoP request, and a store replaced by a test takes effect at once. Keys
    go in the namespace `use_replay_namespace` names, if any."""

    def __init__(self, get_store: Callable[[], ReplayStore]):
        self.get_store = get_store

    def remember(self, key: str, expires_at: float) -> bool:
        namespace = _replay_namespace
        if namespace is not None:
            key = hashlib.sha256(f"{namespace}\n{key}".encode()).hexdigest()
        return self.get_store().remember(key, expires_at)


# The namespace of the replay store's keys (use_replay_namespace), None outside tests.
_replay_namespace: str | None = None


def use_replay_namespace(namespace: str | None) -> str | None:
    """Remember DPoP proofs in `namespace` (hashed into each key, which keeps its length) until
    `use_replay_namespace(None)`: tests that share a replay store, as parallel test processes share
    a Redis server, then never see each other's proofs. Returns the namespace in use before."""
    global _replay_namespace
    previous, _replay_namespace = _replay_namespace, namespace
    return previous


_request_authenticator: ProcessWide[RequestAuthenticator] = ProcessWide(
    build_request_authenticator, depends_on=(_token_verifier, _dpop_verifier)
)


def get_request_authenticator() -> RequestAuthenticator:
    """The request authenticator every adapter uses, built on first use."""
    return _request_authenticator.get()


# --- A Django request, as the authenticator reads it ----------------------------------------------

# Header names as WSGI/ASGI put them in META (the two without an HTTP_ prefix too).
_META_NAMES = {"Authorization": "HTTP_AUTHORIZATION", "DPoP": "HTTP_DPOP"}


class DjangoRequest:
    """An `HTTPRequest` (authenticator.py) over a Django `HttpRequest`: reads `META` only, and
    builds the absolute URL (Django's `build_absolute_uri`: `SECURE_PROXY_SSL_HEADER`,
    `USE_X_FORWARDED_HOST` and `ALLOWED_HOSTS` apply) only when a DPoP proof needs it."""

    __slots__ = ("request",)

    def __init__(self, request: HttpRequest):
        self.request = request

    @property
    def method(self) -> str:
        return self.request.method or ""  # Django's handlers always set it

    @property
    def query_string(self) -> str:
        query: str = self.request.META.get("QUERY_STRING", "")
        return query

    def header(self, name: str) -> str | None:
        key = _META_NAMES.get(name) or "HTTP_" + name.upper().replace("-", "_")
        value: str | None = self.request.META.get(key)
        return value

    def url(self) -> str:
        return self.request.build_absolute_uri()

    @property
    def client(self) -> str | None:
        address: str | None = self.request.META.get("REMOTE_ADDR")
        return address

    @property
    def request_id(self) -> str | None:
        # Set by auth0_django_example's RequestIdMiddleware, when installed.
        request_id: str | None = getattr(self.request, "request_id", None)
        return request_id
