"""System checks and settings parsing: a misconfiguration is one clear line, not a traceback."""

import pytest

from auth0_jwt.checks import check_auth0_settings


def messages(settings):
    return [(error.id, error.msg) for error in check_auth0_settings()]


def test_valid_configuration_passes(settings):
    assert messages(settings) == []


def test_local_issuer_with_debug_off_is_refused(settings):
    settings.DEBUG = False
    settings.AUTH0 = {**settings.AUTH0, "LOCAL_ISSUER": True}
    assert messages(settings) == [
        (
            "auth0_jwt.E001",
            "No Auth0 tenant is configured and DJANGO_DEBUG is off: set AUTH0_DOMAIN and "
            "AUTH0_API_IDENTIFIER (or DJANGO_DEBUG=1 to use the local development issuer).",
        )
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"AUDIENCE": ""},
            "AUTH0_API_IDENTIFIER is not set: set it to your API's identifier "
            "(its audience) from the Auth0 dashboard.",
        ),
        ({"LEEWAY": "-1"}, "AUTH0_LEEWAY must be between 0 and 600, got '-1'."),
        ({"JWKS_TIMEOUT": "30"}, "AUTH0_JWKS_TIMEOUT must be between 0.1 and 5.0, got '30'."),
        ({"JWKS_CACHE_LIFETIME": "nan"}, "AUTH0_JWKS_CACHE_LIFETIME must be >= 1, got 'nan'."),
        (
            {"JWKS_URL": "file:///etc/passwd"},
            "AUTH0_JWKS_URL must be an http(s) URL, got 'file:///etc/passwd'.",
        ),
        (
            {"ISSUER": "tenant.auth0.com"},
            "AUTH0_ISSUER must be an http(s) URL, got 'tenant.auth0.com'.",
        ),
        (
            {"ALGORITHMS": "RS256,HS256"},
            "AUTH0_ALGORITHMS must list asymmetric JWS algorithms from ES256, ES384, ES512, PS256, "
            "PS384, PS512, RS256, RS384, RS512; got 'RS256,HS256'.",
        ),
        (
            {"ALGORITHMS": "none"},
            "AUTH0_ALGORITHMS must list asymmetric JWS algorithms from ES256, ES384, ES512, PS256, "
            "PS384, PS512, RS256, RS384, RS512; got 'none'.",
        ),
    ],
)
def test_bad_values_are_reported_by_name(settings, changes, message):
    settings.AUTH0 = {**settings.AUTH0, **changes}
    assert messages(settings) == [("auth0_jwt.E002", message)]
