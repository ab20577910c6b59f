"""Test clients that carry an access token: Django's `Client` and `AsyncClient`, Django REST
framework's `APIClient`, and Django Ninja's `TestClient` and `TestAsyncClient`.

Each sends `Authorization: Bearer <token>` with every request, unless the request sets its own
`Authorization` header. With a DPoP key the token is sent as `Authorization: DPoP <token>` with a
new proof per request, signed for the method and the absolute URL the server will see (computed
by Django from the request, as the server computes it); the client remembers the `DPoP-Nonce` the
server last answered with and signs it into its next proofs, as a real DPoP client does.

DRF and Ninja are imported only when their client is asked for.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import DisallowedHost
from django.core.handlers.asgi import ASGIRequest
from django.core.handlers.wsgi import WSGIRequest
from django.http.request import HttpHeaders
from django.test import AsyncClient, Client

from auth0_jwt.testing.dpop import DPoPKey

if TYPE_CHECKING:
    from django.http import HttpRequest
    from ninja.testing import TestAsyncClient, TestClient
    from ninja.testing.client import NinjaClientBase, NinjaResponse
    from rest_framework.test import APIClient

    # For the type checker, the mixins are the clients they are mixed into.
    _MixedIntoClient = Client
    _MixedIntoNinjaClient = NinjaClientBase
else:
    _MixedIntoClient = _MixedIntoNinjaClient = object

__all__ = ["Auth0AsyncClient", "Auth0Client", "api_client_class", "ninja_client_classes"]


class _Response(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...


class Credentials:
    """A token, and the DPoP key it is bound to if any: the headers one request carries."""

    def __init__(self, token: str, dpop_key: DPoPKey | None = None):
        self.token = token
        self.dpop_key = DPoPKey.of(dpop_key) if dpop_key is not None else None
        self.nonce: str | None = None

    @property
    def authorization(self) -> str:
        scheme = "DPoP" if self.dpop_key is not None else "Bearer"
        return f"{scheme} {self.token}"

    def proof(self, method: str, url: str) -> str:
        if self.dpop_key is None:
            raise ValueError("a Bearer token has no DPoP proofs: these credentials have no key")
        return self.dpop_key.proof(method, url, token=self.token, nonce=self.nonce)

    def wants_proof(self, authorization: str | None, proof: str | None) -> bool:
        """A proof is signed when this client's DPoP token goes out and the request has none."""
        return self.dpop_key is not None and authorization == self.authorization and proof is None

    def remember_nonce(self, response: _Response) -> None:
        nonce = response.headers.get("DPoP-Nonce")
        if nonce:
            self.nonce = nonce


class _WSGIClientMixin(_MixedIntoClient):
    """The token (and a DPoP proof) on every request of Django's `Client` or DRF's `APIClient`."""

    def __init__(self, token: str, *, dpop_key: DPoPKey | None = None, **defaults: Any):
        super().__init__(**defaults)
        self.auth0 = Credentials(token, dpop_key)

    def request(self, **request: Any) -> Any:
        request.setdefault("HTTP_AUTHORIZATION", self.auth0.authorization)
        if self.auth0.wants_proof(request["HTTP_AUTHORIZATION"], request.get("HTTP_DPOP")):
            # RequestFactory._base_environ(): private, so not in django-stubs.
            environ = self._base_environ(**request)  # type: ignore[attr-defined]
            url = _absolute_url(WSGIRequest, environ)
            if url is not None:
                request["HTTP_DPOP"] = self.auth0.proof(request["REQUEST_METHOD"], url)
        response = super().request(**request)
        self.auth0.remember_nonce(response)
        return response


class Auth0Client(_WSGIClientMixin, Client):
    """Django's test `Client`, carrying an access token: `Auth0Client(token, dpop_key=None)`."""


class Auth0AsyncClient(AsyncClient):
    """Django's `AsyncClient` carrying an access token: `Auth0AsyncClient(token, dpop_key=None)`."""

    def __init__(self, token: str, *, dpop_key: DPoPKey | None = None, **defaults: Any):
        super().__init__(**defaults)
        self.auth0 = Credentials(token, dpop_key)

    async def request(self, **request: Any) -> Any:
        headers = list(request.get("headers", []))
        names = {name.lower() for name, _ in headers}
        if b"authorization" not in names:
            headers.append((b"authorization", self.auth0.authorization.encode("latin1")))
            if self.auth0.wants_proof(self.auth0.authorization, None) and b"dpop" not in names:
                # AsyncRequestFactory._base_scope(): private, so not in django-stubs.
                scope = self._base_scope(**{**request, "headers": list(headers)})  # type: ignore[attr-defined]
                url = _absolute_url(lambda scope: ASGIRequest(scope, io.BytesIO()), scope)
                method = scope["method"]
                if url is not None:
                    headers.append((b"dpop", self.auth0.proof(method, url).encode("ascii")))
        request["headers"] = headers
        response = await super().request(**request)
        self.auth0.remember_nonce(response)
        return response


def _absolute_url(request_class: Callable[[Any], HttpRequest], environ: Any) -> str | None:
    """The absolute URL Django will build for this request (`build_absolute_uri`: the proxy
    settings and ALLOWED_HOSTS apply); None for a host Django refuses (the request is a 400)."""
    try:
        return request_class(environ).build_absolute_uri()
    except DisallowedHost:
        return None


@functools.cache
def api_client_class() -> Callable[..., APIClient]:
    """`Auth0APIClient`: DRF's `APIClient`, carrying an access token."""
    from rest_framework.test import APIClient

    class Auth0APIClient(_WSGIClientMixin, APIClient):
        """DRF's `APIClient`, carrying an access token: `Auth0APIClient(token, dpop_key=None)`."""

    return Auth0APIClient


@functools.cache
def ninja_client_classes() -> tuple[Callable[..., TestClient], Callable[..., TestAsyncClient]]:
    """(`Auth0NinjaClient`, `Auth0NinjaAsyncClient`): Django Ninja's `TestClient` and
    `TestAsyncClient`, carrying an access token."""
    try:
        from ninja.testing import TestAsyncClient, TestClient
    except ImportError:
        raise ImportError(
            "The Ninja test clients need Django Ninja: pip install django-ninja"
        ) from None

    class NinjaCredentialsMixin(_MixedIntoNinjaClient):
        """Ninja's test clients call the operation directly (no URL routing, no middleware) and
        answer `build_absolute_uri()` with "http://testlocation/" whatever the path: DPoP proofs
        are signed for that URL, the one the server side checks them against."""

        def __init__(
            self,
            router_or_app: Any,
            token: str,
            *,
            dpop_key: DPoPKey | None = None,
            **options: Any,
        ):
            super().__init__(router_or_app, **options)
            self.auth0 = Credentials(token, dpop_key)

        def _build_request(self, method: str, path: str, data: Any, request_params: Any) -> Any:
            request = super()._build_request(method, path, data, request_params)
            meta = request.META
            meta.setdefault("HTTP_AUTHORIZATION", self.auth0.authorization)
            if self.auth0.wants_proof(meta["HTTP_AUTHORIZATION"], meta.get("HTTP_DPOP")):
                meta["HTTP_DPOP"] = self.auth0.proof(method, request.build_absolute_uri())
            request.headers = HttpHeaders(meta)
            return request

    class Auth0NinjaClient(NinjaCredentialsMixin, TestClient):
        """Ninja's `TestClient` for sync operations, carrying an access token:
        `Auth0NinjaClient(router_or_api, token, dpop_key=None)`."""

        def request(self, *args: Any, **kwargs: Any) -> NinjaResponse:
            response = super().request(*args, **kwargs)
            self.auth0.remember_nonce(response)
            return response

    class Auth0NinjaAsyncClient(NinjaCredentialsMixin, TestAsyncClient):
        """Ninja's `TestAsyncClient` for async operations, carrying an access token:
        `Auth0NinjaAsyncClient(router_or_api, token, dpop_key=None)`."""

        # Async over Ninja's sync NinjaClientBase.request, as TestAsyncClient.request itself.
        async def request(self, *args: Any, **kwargs: Any) -> NinjaResponse:  # type: ignore[override]
            response = await super().request(*args, **kwargs)
            self.auth0.remember_nonce(response)
            return response

    return Auth0NinjaClient, Auth0NinjaAsyncClient
