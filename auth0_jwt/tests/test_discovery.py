# ruff: noqa: F811 - the tenancy fixtures are imported from tenancy_support, then requested by name
"""OpenID discovery (AUTH0["DISCOVERY"], issue 20): each issuer's JWKS URL is read from its
/.well-known/openid-configuration, served over real HTTPS on 127.0.0.1; the issuer it names must be
exactly the configured one and its jwks_uri must be on the issuer's own origin, or nothing is
fetched from it."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from auth0_jwt.conf import load_auth0_settings
from auth0_jwt.issuers import DiscoveredJWKSSource, check_discovery_document
from auth0_jwt.keystore import JWKSError
from auth0_jwt.runtime import get_token_verifier
from auth0_jwt.tests.attacks.support import (
    assert_accepted,
    assert_invalid_token,
    assert_keys_unavailable,
)
from auth0_jwt.tests.tenancy_support import (  # noqa: F401 - fixtures
    DISCOVERY_PATH,
    JWKS_PATH,
    _tenancy_domains,
    _tenancy_tls,
    domains,
    tenancy,
    tenant_jwk,
)
from conftest import bearer

pytestmark = pytest.mark.django_db

PRIVATE = "/api/private/"
ISSUER = "https://login.example.test/"


def get(api_client, token):
    return api_client.get(PRIVATE, **bearer(token))


def test_each_issuers_jwks_is_found_through_its_configuration(api_client, tenancy, rsa_key):
    a, b = tenancy.a, tenancy.b
    tenancy.configure(DISCOVERY=True)
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert_accepted(get(api_client, b.token(rsa_key)))
    assert a.hits == {DISCOVERY_PATH: 1, JWKS_PATH: 1}
    assert b.hits == {DISCOVERY_PATH: 1, JWKS_PATH: 1}


def test_the_jwks_uri_may_be_another_path_of_the_issuers_host(api_client, tenancy, rsa_key):
    a = tenancy.a
    a.configuration["jwks_uri"] = f"{a.issuer}.well-known/jwks.json?v=2"
    tenancy.configure(DISCOVERY=True)
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert a.hits == {DISCOVERY_PATH: 1, "/.well-known/jwks.json?v=2": 1}


def test_the_configuration_is_read_again_only_when_it_is_old(
    api_client, tenancy, rsa_key, other_rsa_key, clock
):
    a = tenancy.a
    tenancy.configure(DISCOVERY=True)
    assert_accepted(get(api_client, a.token(rsa_key)))
    a.jwks = {"keys": [tenant_jwk(rsa_key), tenant_jwk(other_rsa_key, kid="rotated")]}
    assert_accepted(get(api_client, a.token(other_rsa_key, kid="rotated")))  # unknown kid
    assert a.hits == {DISCOVERY_PATH: 1, JWKS_PATH: 2}
    clock.advance(600)
    assert_accepted(get(api_client, a.token(rsa_key, sub="auth0|user-2")), "auth0|user-2")
    assert a.hits == {DISCOVERY_PATH: 2, JWKS_PATH: 3}


def test_when_reading_it_again_fails_the_jwks_uri_found_before_is_used(
    api_client, tenancy, rsa_key, clock
):
    a = tenancy.a
    tenancy.configure(DISCOVERY=True)
    token = a.token(rsa_key)
    assert_accepted(get(api_client, token))
    a.configuration = None  # 404 from now on
    clock.advance(600)
    assert_accepted(get(api_client, a.token(rsa_key, sub="auth0|user-2")), "auth0|user-2")
    assert a.hits == {DISCOVERY_PATH: 2, JWKS_PATH: 2}


@pytest.mark.parametrize(
    "named",
    [
        lambda a, b: b.issuer,  # another domain of the tenant
        lambda a, b: a.issuer.rstrip("/"),  # no trailing slash
        lambda a, b: a.issuer.replace("127.0.0.1", "127.0.0.1."),  # a trailing dot
        lambda a, b: a.issuer.upper(),
        lambda a, b: "https://evil.example.test/",
        lambda a, b: None,
        lambda a, b: [a.issuer],
    ],
)
def test_a_configuration_naming_another_issuer_fails_and_nothing_is_fetched(
    api_client, tenancy, rsa_key, named
):
    a, b = tenancy.a, tenancy.b
    a.configuration["issuer"] = named(a, b)
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert a.hits == {DISCOVERY_PATH: 1}
    assert b.requests == 0
    error = get_token_verifier().key_store.last_error
    assert error.startswith(f"{a.issuer}: OpenID discovery failed: the configuration names the ")
    assert error.endswith(f", not {a.issuer}")


@pytest.mark.parametrize(
    "jwks_uri",
    [
        lambda a, b: b.jwks_url,  # another domain: another port
        lambda a, b: a.jwks_url.replace("https://", "http://"),  # a downgrade
        lambda a, b: a.jwks_url.replace("https://", "https://user@"),  # a user name
        lambda a, b: a.jwks_url.replace("127.0.0.1:", "localhost:"),  # another host name
        lambda a, b: a.jwks_url.replace(f":{a.port}", f":{a.port}0"),
        lambda a, b: "https://evil.example.test/.well-known/jwks.json",
        lambda a, b: "file:///etc/passwd",
        lambda a, b: "//evil.example.test/jwks.json",
        lambda a, b: "/.well-known/jwks.json",  # relative
        lambda a, b: f"{a.jwks_url}#fragment",
    ],
)
def test_a_jwks_uri_off_the_issuers_origin_is_never_fetched(api_client, tenancy, rsa_key, jwks_uri):
    a, b = tenancy.a, tenancy.b
    a.configuration["jwks_uri"] = jwks_uri(a, b)
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert a.hits == {DISCOVERY_PATH: 1}
    assert b.requests == 0
    assert "is not on the issuer's host" in get_token_verifier().key_store.last_error


@pytest.mark.parametrize("jwks_uri", [None, 42, ["https://x/"]])
def test_a_configuration_without_a_jwks_uri_fails(api_client, tenancy, rsa_key, jwks_uri):
    a = tenancy.a
    a.configuration["jwks_uri"] = jwks_uri
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert get_token_verifier().key_store.last_error == (
        f"{a.issuer}: OpenID discovery failed: the configuration has no jwks_uri"
    )


def test_a_missing_configuration_is_a_503_for_that_issuer_only(api_client, tenancy, rsa_key):
    a, b = tenancy.a, tenancy.b
    a.configuration = None
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert_accepted(get(api_client, b.token(rsa_key)))
    assert get_token_verifier().key_store.last_error == (
        f"{a.issuer}: OpenID discovery failed: the configuration endpoint answered HTTP 404"
    )


def test_an_unconfigured_issuer_is_refused_without_discovery(api_client, tenancy, rsa_key):
    tenancy.configure(DISCOVERY=True)
    token = tenancy.a.token(rsa_key, iss="https://evil.example.test/")
    assert_invalid_token(get(api_client, token), "The token was not issued by the expected issuer.")
    assert (tenancy.a.requests, tenancy.b.requests) == (0, 0)


def test_discovery_works_with_one_domain(api_client, settings, clock, domains, rsa_key):
    from auth0_jwt.runtime import build_token_verifier, reset_token_verifier

    a, _ = domains
    settings.AUTH0 = {
        **{k: v for k, v in settings.AUTH0.items() if k not in ("ISSUER", "JWKS_URL")},
        "DOMAIN": a.domain,
        "DISCOVERY": True,
    }
    reset_token_verifier(build_token_verifier(clock=clock))
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert a.hits == {DISCOVERY_PATH: 1, JWKS_PATH: 1}


# --- The rules, without a server ------------------------------------------------------------------


def test_a_good_configuration_gives_its_jwks_uri():
    document = {"issuer": ISSUER, "jwks_uri": f"{ISSUER}.well-known/jwks.json"}
    assert check_discovery_document(document, ISSUER) == f"{ISSUER}.well-known/jwks.json"


@pytest.mark.parametrize("document", [[], "text", None, 42])
def test_a_configuration_that_is_not_an_object_fails(document):
    with pytest.raises(JWKSError) as raised:
        check_discovery_document(document, ISSUER)
    assert str(raised.value) == "OpenID discovery failed: the configuration is not a JSON object"


def test_a_foreign_issuer_is_shown_escaped():
    with pytest.raises(JWKSError) as raised:
        check_discovery_document({"issuer": "https://evil\n\u202e/"}, ISSUER)
    assert str(raised.value) == (
        "OpenID discovery failed: the configuration names the issuer "
        "'https://evil\\n\\u202e/', not https://login.example.test/"
    )


def test_a_source_that_cannot_reach_the_issuer_says_so():
    source = DiscoveredJWKSSource("https://127.0.0.1:9/", timeout=1)
    assert source.url == "https://127.0.0.1:9/.well-known/openid-configuration"
    with pytest.raises(JWKSError) as raised:
        source()
    assert str(raised.value) == (
        "OpenID discovery failed: the configuration host refused the connection"
    )


def test_discovery_with_a_jwks_url_is_refused():
    with pytest.raises(ImproperlyConfigured) as raised:
        load_auth0_settings(
            {
                "DOMAIN": "tenant.us.auth0.com",
                "AUDIENCE": "https://api.example.com/",
                "JWKS_URL": "https://tenant.us.auth0.com/keys",
                "DISCOVERY": True,
            }
        )
    assert str(raised.value) == (
        'AUTH0["DISCOVERY"] is on and AUTH0["JWKS_URL"] is set: discovery reads each issuer\'s '
        "JWKS URL from its OpenID configuration; keep one of the two."
    )
