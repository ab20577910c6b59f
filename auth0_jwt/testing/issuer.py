"""The test issuer: an Auth0 tenant in memory, for testing the views a project protects.

Its RSA key pair is made once per test session (process) and never leaves memory. While it is
enabled:
- the `AUTH0` setting names its issuer and audience, as a single-issuer setting (every other key,
  DPoP, `USER` and `ORGANIZATIONS` included, stays as the project set it);
- the process-wide token verifier takes its keys from the issuer in-process
  (`runtime.use_jwks_source`), so nothing is fetched, whatever tenant the settings name, and this
  holds after any settings change the test makes;
- the DPoP replay store is the one the settings name (the database, or Redis), its keys in a
  namespace of this enabling's own (`runtime.use_replay_namespace`), so proofs remembered by one
  test are never seen by another, even on a Redis server that parallel test processes share.
Disabling it puts everything back: the setting, the verifier and its token cache (built again
from the settings on next use), the replay namespace.

Every token then goes through the real verification: signature, `iss`, `aud`, `exp`, scopes, the
user, DPoP.
"""

from __future__ import annotations

import copy
import functools
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.test.utils import TestContextDecorator, override_settings

from auth0_jwt.domains import issuer_for_domain, parse_domain
from auth0_jwt.jws import b64url
from auth0_jwt.keystore import JWKSError
from auth0_jwt.runtime import use_jwks_source, use_replay_namespace
from auth0_jwt.testing.dpop import DPoPKey

if TYPE_CHECKING:
    from django.test import AsyncClient, Client
    from ninja.testing import TestAsyncClient, TestClient
    from pytest_django.fixtures import Settings as SettingsFixture
    from rest_framework.test import APIClient

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_ISSUER",
    "DEFAULT_SUBJECT",
    "KID",
    "Auth0TestIssuer",
]

# `.invalid` names never resolve (RFC 2606): nothing can be fetched from them by mistake.
DEFAULT_ISSUER = "https://auth0-test-tenant.invalid/"
DEFAULT_AUDIENCE = "https://api.auth0-test.invalid/"
DEFAULT_SUBJECT = "auth0|test-user"
DEFAULT_EXPIRES_IN = 3600
KID = "auth0-test-key"
ALGORITHM = "RS256"
# How long ago an `expired=True` token expired: beyond any leeway the settings allow (600 s).
EXPIRED_AGO = 3600


@functools.cache
def _signing_key() -> rsa.RSAPrivateKey:
    """The test tenant's key: made on first use, once per process, kept in memory only."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def _stranger_key() -> rsa.RSAPrivateKey:
    """A key the test tenant does not publish."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _b64url_uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@functools.cache
def _jwks() -> dict[str, Any]:
    numbers = _signing_key().public_key().public_numbers()
    jwk: dict[str, str] = {"kty": "RSA", "use": "sig", "alg": ALGORITHM, "kid": KID}
    jwk.update(n=_b64url_uint(numbers.n), e=_b64url_uint(numbers.e))
    return {"keys": [jwk]}


def _withheld_keys() -> dict[str, Any]:
    """The JWKS source while `keys_unavailable()`: every fetch fails."""
    raise JWKSError("the test issuer's keys are unavailable (keys_unavailable())")


def _scope_claim(scopes: str | Iterable[str]) -> str:
    return scopes if isinstance(scopes, str) else " ".join(scopes)


class _Enabling:
    """What one `enable()` changed, for `disable()` to undo."""

    def __init__(
        self,
        override: override_settings | None,
        previous_source: Callable[[], Any] | None,
        previous_namespace: str | None,
    ):
        self.override = override  # None when the `settings` fixture holds the change
        self.previous_source = previous_source
        self.previous_namespace = previous_namespace


class Auth0TestIssuer(TestContextDecorator):
    """An Auth0 tenant in memory that mints real tokens, and points the project at itself while
    enabled: as a context manager (`with Auth0TestIssuer() as issuer:`), a class or method
    decorator (a decorated `TestCase` gets it as `self.auth0_issuer`, enabled for each test), or
    `enable()`/`disable()` (e.g. `cls.enterClassContext(Auth0TestIssuer())` in `setUpClass`).

    `issuer` and `audience` are the `iss` and `aud` its tokens carry and the `AUTH0` setting names
    while it is enabled.
    """

    kid = KID
    algorithm = ALGORITHM

    def __init__(self, *, issuer: str = DEFAULT_ISSUER, audience: str = DEFAULT_AUDIENCE):
        super().__init__(attr_name="auth0_issuer")
        self.issuer = issuer
        self.audience = audience
        self._enablings: list[_Enabling] = []

    def __repr__(self) -> str:
        return f"Auth0TestIssuer(issuer={self.issuer!r}, audience={self.audience!r})"

    # --- Keys -------------------------------------------------------------------------------------

    @property
    def private_key(self) -> rsa.RSAPrivateKey:
        """The signing key (the same for every test issuer of the process)."""
        return _signing_key()

    @property
    def stranger_key(self) -> rsa.RSAPrivateKey:
        """A key the issuer does not publish: what `signed_by_stranger=True` signs with."""
        return _stranger_key()

    def jwks(self) -> dict[str, Any]:
        """The public key set, as Auth0 publishes it at /.well-known/jwks.json."""
        return copy.deepcopy(_jwks())

    # --- Tokens -----------------------------------------------------------------------------------

    def token(
        self,
        *,
        sub: str | None = DEFAULT_SUBJECT,
        scopes: str | Iterable[str] | None = None,
        permissions: Iterable[str] | None = None,
        expires_in: int = DEFAULT_EXPIRES_IN,
        audience: str | list[str] | None = None,
        issuer: str | None = None,
        issuer_domain: str | None = None,
        org_id: str | None = None,
        org_name: str | None = None,
        claims: dict[str, Any] | None = None,
        dpop_key: DPoPKey | ec.EllipticCurvePrivateKey | None = None,
        expired: bool = False,
        signed_by_stranger: bool = False,
        unknown_kid: bool = False,
        headers: dict[str, Any] | None = None,
    ) -> str:
        """A signed RS256 access token shaped as Auth0's: `iss`, `sub`, `aud`, `iat`, `exp`, then
        `scope` (space-separated `scopes`) and `permissions` when given, `org_id` and `org_name`
        (an Auth0 Organization's token) when given, `cnf.jkt` for a `dpop_key`, and finally
        `claims`, which set or replace any claim. `issuer_domain` mints for another domain of the
        tenant (`iss` `https://<domain>/`), as `manage.py mint_token --issuer-domain` does.

        The usual wrong tokens, one argument each: `expired=True`, `signed_by_stranger=True` (a
        key the issuer does not publish, under its kid), `unknown_kid=True` (a kid it does not
        publish), `audience="https://other.example/"`, `issuer=...`, `sub=None` (no `sub`).
        `headers` adds or replaces JOSE header fields (`{"kid": None}` removes the kid).
        """
        if issuer_domain is not None:
            if issuer is not None:
                raise TypeError("pass issuer or issuer_domain, not both")
            issuer = issuer_for_domain(parse_domain(issuer_domain))
        now = int(time.time())
        if expired:
            now -= expires_in + EXPIRED_AGO
        payload: dict[str, Any] = {
            "iss": issuer or self.issuer,
            "sub": sub,
            "aud": audience or self.audience,
            "iat": now,
            "exp": now + expires_in,
        }
        if sub is None:
            del payload["sub"]
        if scopes is not None:
            payload["scope"] = _scope_claim(scopes)
        if permissions is not None:
            payload["permissions"] = list(permissions)
        if org_id is not None:
            payload["org_id"] = org_id
        if org_name is not None:
            payload["org_name"] = org_name
        if dpop_key is not None:
            payload["cnf"] = {"jkt": DPoPKey.of(dpop_key).thumbprint}
        payload.update(claims or {})
        header = dict(headers or {})
        key: rsa.RSAPrivateKey | None = None
        if signed_by_stranger or unknown_kid:
            key = self.stranger_key
        if unknown_kid:
            header.setdefault("kid", f"unknown-{uuid.uuid4().hex[:12]}")
        return self.sign(payload, headers=header, key=key)

    def sign(
        self,
        claims: dict[str, Any],
        *,
        headers: dict[str, Any] | None = None,
        key: Any = None,
        algorithm: str = ALGORITHM,
    ) -> str:
        """`claims` exactly as given, signed with the issuer's key under its kid (or with `key` and
        `algorithm`): for the hostile tokens `token()` has no argument for."""
        header = {"kid": self.kid, **(headers or {})}
        if header["kid"] is None:
            del header["kid"]
        return jwt.encode(claims, key or self.private_key, algorithm=algorithm, headers=header)

    # --- Clients ----------------------------------------------------------------------------------

    def api_client(self, *, token: str | None = None, **token_args: Any) -> APIClient:
        """Django REST framework's `APIClient` carrying a token: `token`, or one minted with
        `token_args` (the arguments of `token()`); with `dpop_key`, a DPoP client."""
        from auth0_jwt.testing.clients import api_client_class

        token, dpop_key = self._credentials(token, token_args)
        return api_client_class()(token, dpop_key=dpop_key)

    def client(self, *, token: str | None = None, **token_args: Any) -> Client:
        """Django's test `Client` carrying a token, as `api_client()`."""
        from auth0_jwt.testing.clients import Auth0Client

        token, dpop_key = self._credentials(token, token_args)
        return Auth0Client(token, dpop_key=dpop_key)

    def async_client(self, *, token: str | None = None, **token_args: Any) -> AsyncClient:
        """Django's `AsyncClient` carrying a token, as `api_client()`."""
        from auth0_jwt.testing.clients import Auth0AsyncClient

        token, dpop_key = self._credentials(token, token_args)
        return Auth0AsyncClient(token, dpop_key=dpop_key)

    def ninja_client(
        self, router_or_api: Any, *, token: str | None = None, **token_args: Any
    ) -> TestClient:
        """Django Ninja's `TestClient` for `router_or_api` carrying a token, as `api_client()`."""
        from auth0_jwt.testing.clients import ninja_client_classes

        token, dpop_key = self._credentials(token, token_args)
        return ninja_client_classes()[0](router_or_api, token, dpop_key=dpop_key)

    def ninja_async_client(
        self, router_or_api: Any, *, token: str | None = None, **token_args: Any
    ) -> TestAsyncClient:
        """Django Ninja's `TestAsyncClient` for `router_or_api` carrying a token."""
        from auth0_jwt.testing.clients import ninja_client_classes

        token, dpop_key = self._credentials(token, token_args)
        return ninja_client_classes()[1](router_or_api, token, dpop_key=dpop_key)

    def _credentials(
        self, token: str | None, token_args: dict[str, Any]
    ) -> tuple[str, DPoPKey | None]:
        dpop_key = token_args.get("dpop_key")
        if token is not None and set(token_args) - {"dpop_key"}:
            raise TypeError("pass a token, or the arguments to mint one, not both")
        return (token if token is not None else self.token(**token_args)), dpop_key

    # --- Enabling ---------------------------------------------------------------------------------

    @property
    def enabled(self) -> bool:
        return bool(self._enablings)

    def enable(self, *, settings: SettingsFixture | None = None) -> Auth0TestIssuer:
        """Point the project at this issuer until `disable()`; return the issuer.

        `settings` is pytest-django's `settings` fixture, when the change should be undone by it,
        in order with the test's own changes (the pytest plugin passes it); otherwise Django's
        `override_settings` makes the change.
        """
        from django.conf import settings as django_settings

        auth0 = {
            name: value
            for name, value in getattr(django_settings, "AUTH0", {}).items()
            if name not in ("DOMAIN", "DOMAINS", "DOMAINS_RESOLVER", "DISCOVERY", "JWKS_URL")
        }
        auth0.update(
            ISSUER=self.issuer,
            AUDIENCE=self.audience,
            # Never fetched (the keys come in-process): named for what reads the setting.
            JWKS_URL=f"{self.issuer.rstrip('/')}/.well-known/jwks.json",
            LOCAL_ISSUER=False,
        )
        override: override_settings | None = None
        if settings is not None:
            settings.AUTH0 = auth0
        else:
            override = override_settings(AUTH0=auth0)
            override.enable()
        self._enablings.append(
            _Enabling(
                override,
                previous_source=use_jwks_source(self.jwks),
                previous_namespace=use_replay_namespace(secrets.token_hex(16)),
            )
        )
        return self

    def disable(self) -> None:
        """Undo the last `enable()`: the setting, the verifier (and its token cache) and the replay
        namespace are as before."""
        enabling = self._enablings.pop()
        use_jwks_source(enabling.previous_source)
        use_replay_namespace(enabling.previous_namespace)
        if enabling.override is not None:
            enabling.override.disable()

    @contextmanager
    def keys_unavailable(self) -> Iterator[Auth0TestIssuer]:
        """Within the block the signing keys cannot be loaded, as when a service starts while its
        identity provider is down: a request with a token gets the real 503
        (`signing_keys_unavailable`, `Retry-After: 5`). The keys are back after it, with a new
        token cache."""
        previous = use_jwks_source(_withheld_keys)
        try:
            yield self
        finally:
            use_jwks_source(previous)
