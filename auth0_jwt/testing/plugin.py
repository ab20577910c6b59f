"""auth0_jwt's pytest plugin: real tokens minted offline for testing the views a project protects.

Loaded by the `pytest11` entry point of the installed distribution (drf-auth0-jwt), so its
fixtures are there as soon as the package is installed, as pytest-django's are; nothing happens
until a test asks for one. The entry point bears this module's name: where plugins are not
autoloaded (`PYTEST_DISABLE_PLUGIN_AUTOLOAD`), `-p auth0_jwt.testing.plugin` or
`pytest_plugins = ["auth0_jwt.testing.plugin"]` loads it, and is a no-op where it is loaded
already; `-p no:auth0_jwt.testing.plugin` turns it off. The module imports nothing but pytest
until a fixture is used.

Fixtures (each enables the test issuer for the test, and puts everything back after it):
- `auth0_issuer`: the `Auth0TestIssuer`, enabled;
- `auth0_token(...)`: mints a token (the arguments of `Auth0TestIssuer.token`);
- `auth0_dpop_key`: a new DPoP client key (`DPoPKey`);
- `auth0_api_client(...)`, `auth0_client(...)`, `auth0_async_client(...)`,
  `auth0_ninja_client(api, ...)`, `auth0_ninja_async_client(api, ...)`: test clients carrying a
  token minted with the same arguments (or `token=`); they give the test database access, as the
  token's user is read from the database.

The `auth0_test_issuer` and `auth0_test_audience` ini options set the `iss` and `aud` of the
tokens (and of the `AUTH0` setting during the test) when a project's code needs its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from django.test import AsyncClient, Client
    from ninja.testing import TestAsyncClient, TestClient
    from rest_framework.test import APIClient

    from auth0_jwt.testing import Auth0TestIssuer, DPoPKey


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "auth0_test_issuer",
        "The test issuer's iss (auth0_jwt.testing), e.g. https://tenant.example.test/",
        default="",
    )
    parser.addini(
        "auth0_test_audience",
        "The audience of the test issuer's tokens (auth0_jwt.testing)",
        default="",
    )


def _optional_fixture(request: pytest.FixtureRequest, name: str) -> Any:
    """pytest-django's fixture `name`, or None where pytest-django is not installed."""
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return None


@pytest.fixture
def auth0_issuer(request: pytest.FixtureRequest) -> Iterator[Auth0TestIssuer]:
    """The test issuer (`auth0_jwt.testing.Auth0TestIssuer`), enabled for this test: the `AUTH0`
    setting names it, the verifier takes its keys in-process (nothing is fetched), and the DPoP
    replay store is this test's own. All of it, the token cache included, is reset afterwards."""
    from auth0_jwt.testing import Auth0TestIssuer

    options = {
        name: value
        for name, value in (
            ("issuer", request.config.getini("auth0_test_issuer")),
            ("audience", request.config.getini("auth0_test_audience")),
        )
        if value
    }
    issuer = Auth0TestIssuer(**options)
    # Through pytest-django's `settings`, so the change is undone in order with the test's own.
    issuer.enable(settings=_optional_fixture(request, "settings"))
    yield issuer
    issuer.disable()


@pytest.fixture
def auth0_token(auth0_issuer: Auth0TestIssuer) -> Callable[..., str]:
    """Mints a token: `auth0_token(sub=..., scopes=[...], permissions=[...], expires_in=...,
    audience=..., issuer=..., issuer_domain=..., org_id=..., org_name=..., claims={...},
    dpop_key=...)`, or a wrong one with `expired=True`,
    `signed_by_stranger=True`, `unknown_kid=True`, `sub=None`."""
    return auth0_issuer.token


@pytest.fixture
def auth0_dpop_key() -> DPoPKey:
    """A new DPoP client key: `auth0_token(dpop_key=key)` binds a token to it, and
    `key.proof("GET", "http://testserver/path/", token=token)` signs a request's proof."""
    from auth0_jwt.testing import DPoPKey

    return DPoPKey()


@pytest.fixture
def auth0_api_client(
    request: pytest.FixtureRequest, auth0_issuer: Auth0TestIssuer
) -> Callable[..., APIClient]:
    """DRF's `APIClient` carrying a token: `auth0_api_client(scopes=[...])` (the arguments of
    `auth0_token`, or `token=`); with `dpop_key=`, it signs a DPoP proof for every request."""
    _optional_fixture(request, "db")
    return auth0_issuer.api_client


@pytest.fixture
def auth0_client(
    request: pytest.FixtureRequest, auth0_issuer: Auth0TestIssuer
) -> Callable[..., Client]:
    """Django's test `Client` carrying a token, as `auth0_api_client`."""
    _optional_fixture(request, "db")
    return auth0_issuer.client


@pytest.fixture
def auth0_async_client(
    request: pytest.FixtureRequest, auth0_issuer: Auth0TestIssuer
) -> Callable[..., AsyncClient]:
    """Django's `AsyncClient` carrying a token, as `auth0_api_client`."""
    _optional_fixture(request, "db")
    return auth0_issuer.async_client


@pytest.fixture
def auth0_ninja_client(
    request: pytest.FixtureRequest, auth0_issuer: Auth0TestIssuer
) -> Callable[..., TestClient]:
    """Django Ninja's `TestClient` carrying a token: `auth0_ninja_client(api, scopes=[...])`."""
    _optional_fixture(request, "db")
    return auth0_issuer.ninja_client


@pytest.fixture
def auth0_ninja_async_client(
    request: pytest.FixtureRequest, auth0_issuer: Auth0TestIssuer
) -> Callable[..., TestAsyncClient]:
    """Django Ninja's `TestAsyncClient` carrying a token, as `auth0_ninja_client`."""
    _optional_fixture(request, "db")
    return auth0_issuer.ninja_async_client
