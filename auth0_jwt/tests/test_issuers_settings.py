"""AUTH0["DOMAINS"] and AUTH0["DOMAINS_RESOLVER"] (issue 20): parsed, and refused beside the
single-issuer keys with a message naming both; the system checks report each problem."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from auth0_jwt.checks import check_auth0_settings
from auth0_jwt.conf import load_auth0_settings
from auth0_jwt.domains import MAX_ISSUERS

AUDIENCE = "https://api.example.com/"
RESOLVER = "auth0_jwt.tests.tenancy_support.resolve_domains"


def load(**raw):
    return load_auth0_settings({"AUDIENCE": AUDIENCE, **raw})


def problem(**raw) -> str:
    with pytest.raises(ImproperlyConfigured) as raised:
        load(**raw)
    return str(raised.value)


def test_each_domain_is_an_issuer_and_the_first_is_the_default():
    config = load(DOMAINS=["tenant.us.auth0.com", "login.example.com", "auth.example.org"])
    assert config.issuers == (
        "https://tenant.us.auth0.com/",
        "https://login.example.com/",
        "https://auth.example.org/",
    )
    assert (config.issuer, config.jwks_url) == (
        "https://tenant.us.auth0.com/",
        "https://tenant.us.auth0.com/.well-known/jwks.json",
    )
    assert config.multiple_issuers


@pytest.mark.parametrize(
    "raw",
    [
        "tenant.us.auth0.com, login.example.com",
        ["https://tenant.us.auth0.com/", " LOGIN.example.com "],
        ("tenant.us.auth0.com", "login.example.com", "tenant.us.auth0.com"),
    ],
)
def test_domains_are_read_as_domain_reads_one(raw):
    assert load(DOMAINS=raw).issuers == (
        "https://tenant.us.auth0.com/",
        "https://login.example.com/",
    )


def test_one_domain_in_domains_is_a_single_issuer():
    config = load(DOMAINS=["tenant.us.auth0.com"])
    assert config.issuers == ("https://tenant.us.auth0.com/",)
    assert not config.multiple_issuers


def test_a_domain_keeps_its_port():
    assert load(DOMAINS=["127.0.0.1:8443", "login.example.com"]).issuers[0] == (
        "https://127.0.0.1:8443/"
    )


def test_the_old_single_domain_is_unchanged():
    config = load(DOMAIN="tenant.us.auth0.com")
    assert config.issuers == ("https://tenant.us.auth0.com/",)
    assert not config.multiple_issuers


@pytest.mark.parametrize("single", ["DOMAIN", "ISSUER", "JWKS_URL"])
@pytest.mark.parametrize("key", ["DOMAINS", "DOMAINS_RESOLVER"])
def test_domains_beside_a_single_issuer_key_is_an_error_naming_both(key, single):
    value = ["tenant.us.auth0.com", "login.example.com"] if key == "DOMAINS" else RESOLVER
    other = {
        "DOMAIN": "tenant.us.auth0.com",
        "ISSUER": "https://tenant.us.auth0.com/",
        "JWKS_URL": "https://tenant.us.auth0.com/.well-known/jwks.json",
    }[single]
    assert problem(**{key: value, single: other}) == (
        f'AUTH0["{key}"] and AUTH0["{single}"] are both set: AUTH0["{key}"] gives every domain '
        "(each domain's issuer is https://<domain>/ and its keys are read from it); keep one of "
        "the two."
    )


def test_domains_and_a_resolver_together_is_an_error():
    assert problem(DOMAINS=["tenant.us.auth0.com"], DOMAINS_RESOLVER=RESOLVER) == (
        'AUTH0["DOMAINS"] and AUTH0["DOMAINS_RESOLVER"] are both set: keep the list, or the '
        "resolver that returns it."
    )


@pytest.mark.parametrize(
    "domain",
    ["tenant.us.auth0.com/path", "user@tenant", "http://tenant", "tenant.us.auth0.com.", 42, ""],
)
def test_a_bad_domain_in_the_list_is_named(domain):
    assert problem(DOMAINS=["login.example.com", domain]) == (
        f'AUTH0["DOMAINS"] must be a host name such as "tenant.us.auth0.com", got {domain!r}.'
    )


@pytest.mark.parametrize("raw", [42, {"a": 1}, [[]]])
def test_domains_must_be_a_list(raw):
    message = problem(DOMAINS=raw)
    assert message.startswith('AUTH0["DOMAINS"] must be ')


def test_too_many_domains_is_an_error():
    domains = [f"d{n}.example.com" for n in range(MAX_ISSUERS + 1)]
    assert problem(DOMAINS=domains) == (
        f'AUTH0["DOMAINS"] lists {MAX_ISSUERS + 1} domains; at most {MAX_ISSUERS}.'
    )


def test_a_resolver_is_named_by_its_dotted_path():
    config = load(DOMAINS_RESOLVER=RESOLVER)
    assert (config.domains_resolver, config.issuers, config.issuer) == (RESOLVER, (), "")
    assert config.multiple_issuers


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("resolve", 'must be the dotted path of a function returning the domains, such as '
         '"myproject.tenancy.auth0_domains", got \'resolve\'.'),
        (42, 'must be the dotted path of a function returning the domains, such as '
         '"myproject.tenancy.auth0_domains", got 42.'),
        ("auth0_jwt.tests.tenancy_support.no_such_function", "cannot be imported: Module "
         '"auth0_jwt.tests.tenancy_support" does not define a "no_such_function" '
         "attribute/class."),
        ("auth0_jwt.tests.tenancy_support.RESOLVER_PATH", "(auth0_jwt.tests.tenancy_support."
         "RESOLVER_PATH) is not callable."),
    ],
)  # fmt: skip
def test_a_bad_resolver_is_named(path, message):
    assert problem(DOMAINS_RESOLVER=path) == f'AUTH0["DOMAINS_RESOLVER"] {message}'


def test_the_system_checks_report_the_conflict(settings):
    settings.AUTH0 = {
        "DOMAINS": ["tenant.us.auth0.com", "login.example.com"],
        "DOMAIN": "tenant.us.auth0.com",
        "AUDIENCE": AUDIENCE,
    }
    errors = check_auth0_settings()
    assert [(error.id, error.msg) for error in errors] == [
        (
            "auth0_jwt.E002",
            'AUTH0["DOMAINS"] and AUTH0["DOMAIN"] are both set: AUTH0["DOMAINS"] gives every '
            "domain (each domain's issuer is https://<domain>/ and its keys are read from it); "
            "keep one of the two.",
        )
    ]
    with pytest.raises(SystemCheckError):
        call_command("check")
