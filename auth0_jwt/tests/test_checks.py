"""System checks and settings parsing: a misconfiguration is one clear line per problem, naming the
`AUTH0` key as a project writes it, not a traceback."""

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from auth0_jwt.checks import check_auth0_settings
from auth0_jwt.conf import load_auth0_settings

MINIMAL = {"DOMAIN": "tenant.us.auth0.com", "AUDIENCE": "https://api.example.com/"}
ALGORITHMS_LIST = "ES256, ES384, ES512, PS256, PS384, PS512, RS256, RS384, RS512"


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
            'AUTH0["LOCAL_ISSUER"] is on while DEBUG is off: locally minted tokens are for '
            'development only; set AUTH0["DOMAIN"] and AUTH0["AUDIENCE"] for your Auth0 tenant '
            "and API.",
        )
    ]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"AUDIENCE": ""},
            'AUTH0["AUDIENCE"] is not set: set it to your API\'s identifier in the Auth0 '
            'dashboard (the audience its tokens carry), e.g. "https://api.example.com/".',
        ),
        ({"LEEWAY": "-1"}, "AUTH0[\"LEEWAY\"] must be between 0 and 600, got '-1'."),
        (
            {"JWKS_TIMEOUT": "30"},
            "AUTH0[\"JWKS_TIMEOUT\"] must be between 0.1 and 5.0, got '30'.",
        ),
        (
            {"JWKS_CACHE_LIFETIME": "nan"},
            "AUTH0[\"JWKS_CACHE_LIFETIME\"] must be >= 1, got 'nan'.",
        ),
        (
            {"JWKS_URL": "file:///etc/passwd"},
            "AUTH0[\"JWKS_URL\"] must be an http(s) URL, got 'file:///etc/passwd'.",
        ),
        (
            {"ISSUER": "tenant.auth0.com"},
            "AUTH0[\"ISSUER\"] must be an http(s) URL, got 'tenant.auth0.com'.",
        ),
        (
            {"ALGORITHMS": "RS256,HS256"},
            f'AUTH0["ALGORITHMS"] must list asymmetric JWS algorithms from {ALGORITHMS_LIST}; '
            "got 'RS256,HS256'.",
        ),
        (
            {"ALGORITHMS": "none"},
            f'AUTH0["ALGORITHMS"] must list asymmetric JWS algorithms from {ALGORITHMS_LIST}; '
            "got 'none'.",
        ),
        (
            {"ALGORITHMS": 256},
            f'AUTH0["ALGORITHMS"] must list asymmetric JWS algorithms from {ALGORITHMS_LIST}; '
            "got 256.",
        ),
        ({"TOKEN_CACHE_SIZE": "lots"}, "AUTH0[\"TOKEN_CACHE_SIZE\"] must be a number, got 'lots'."),
    ],
)
def test_bad_values_are_reported_by_name(settings, changes, message):
    settings.AUTH0 = {**settings.AUTH0, **changes}
    assert messages(settings) == [("auth0_jwt.E002", message)]


def test_every_problem_is_its_own_line(settings):
    settings.AUTH0 = {"DOMAIN": "https://tenant.us.auth0.com/api", "LEEWAY": "soon"}
    assert messages(settings) == [
        (
            "auth0_jwt.E002",
            'AUTH0["DOMAIN"] must be a host name such as "tenant.us.auth0.com", '
            "got 'https://tenant.us.auth0.com/api'.",
        ),
        (
            "auth0_jwt.E002",
            'AUTH0["AUDIENCE"] is not set: set it to your API\'s identifier in the Auth0 '
            'dashboard (the audience its tokens carry), e.g. "https://api.example.com/".',
        ),
        ("auth0_jwt.E002", "AUTH0[\"LEEWAY\"] must be a number, got 'soon'."),
    ]


def test_no_auth0_setting_at_all_names_the_two_required_keys(settings):
    del settings.AUTH0
    assert messages(settings) == [
        (
            "auth0_jwt.E002",
            'AUTH0["DOMAIN"] is not set: set it to your Auth0 tenant\'s domain, e.g. '
            '"tenant.us.auth0.com" (or set AUTH0["ISSUER"]).',
        ),
        (
            "auth0_jwt.E002",
            'AUTH0["AUDIENCE"] is not set: set it to your API\'s identifier in the Auth0 '
            'dashboard (the audience its tokens carry), e.g. "https://api.example.com/".',
        ),
    ]


def test_auth0_that_is_not_a_dict_is_one_line(settings):
    settings.AUTH0 = "tenant.us.auth0.com"
    assert messages(settings) == [
        (
            "auth0_jwt.E002",
            'AUTH0 must be a dict of settings such as {"DOMAIN": ..., "AUDIENCE": ...}, got str.',
        )
    ]


def test_local_issuer_without_issuer_says_what_to_set():
    with pytest.raises(ImproperlyConfigured) as raised:
        load_auth0_settings({"AUDIENCE": "https://api.example.com/", "LOCAL_ISSUER": True})
    assert str(raised.value) == (
        'AUTH0["ISSUER"] is not set: the local development issuer needs the URL it serves on, '
        'e.g. "http://127.0.0.1:8000/" (or set AUTH0["DOMAIN"]).'
    )


# --- DOMAIN and what is derived from it -----------------------------------------------------------


def test_domain_and_audience_are_all_a_project_needs():
    config = load_auth0_settings(MINIMAL)
    assert (config.issuer, config.jwks_url, config.audience) == (
        "https://tenant.us.auth0.com/",
        "https://tenant.us.auth0.com/.well-known/jwks.json",
        "https://api.example.com/",
    )
    # Every other key has today's default.
    assert (config.algorithms, config.leeway, config.jwks_timeout) == (("RS256",), 60, 5)
    assert (config.jwks_cache_lifetime, config.jwks_min_refetch_interval) == (600, 30)
    assert (config.token_cache_size, config.local_issuer) == (10_000, False)
    assert config.local_issuer_key_dir == Path(".local-issuer")


@pytest.mark.parametrize(
    "domain",
    ["https://tenant.us.auth0.com", "https://tenant.us.auth0.com/", " tenant.us.auth0.com "],
)
def test_domain_copied_with_its_scheme_or_slash_is_accepted(domain):
    config = load_auth0_settings({**MINIMAL, "DOMAIN": domain})
    assert config.issuer == "https://tenant.us.auth0.com/"


def test_issuer_overrides_domain_and_the_jwks_url_follows_it():
    config = load_auth0_settings({**MINIMAL, "ISSUER": "https://login.example.com/"})
    assert (config.issuer, config.jwks_url) == (
        "https://login.example.com/",
        "https://login.example.com/.well-known/jwks.json",
    )


def test_issuer_without_domain_is_enough():
    config = load_auth0_settings(
        {"ISSUER": "https://login.example.com", "AUDIENCE": "https://api.example.com/"}
    )
    assert (config.issuer, config.jwks_url) == (
        "https://login.example.com",
        "https://login.example.com/.well-known/jwks.json",
    )


def test_jwks_url_overrides_the_derived_one():
    config = load_auth0_settings({**MINIMAL, "JWKS_URL": "http://127.0.0.1:8080/keys"})
    assert (config.issuer, config.jwks_url) == (
        "https://tenant.us.auth0.com/",
        "http://127.0.0.1:8080/keys",
    )


@pytest.mark.parametrize(
    "domain",
    ["", "http://tenant.us.auth0.com", "tenant.us.auth0.com/path", "user@tenant", "host:port", 42],
)
def test_a_domain_that_is_not_a_host_name_is_refused(domain):
    with pytest.raises(ImproperlyConfigured) as raised:
        load_auth0_settings({**MINIMAL, "DOMAIN": domain})
    if domain == "":
        assert str(raised.value).startswith('AUTH0["DOMAIN"] is not set: ')
    else:
        assert str(raised.value) == (
            f'AUTH0["DOMAIN"] must be a host name such as "tenant.us.auth0.com", got {domain!r}.'
        )


def unknown_key_warnings():
    from auth0_jwt.checks import check_unknown_auth0_keys

    return [(warning.id, warning.level, warning.msg) for warning in check_unknown_auth0_keys()]


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (
            "AUDIANCE",
            'AUTH0["AUDIANCE"] is not a setting of auth0_jwt and is ignored. '
            'Did you mean AUTH0["AUDIENCE"]?',
        ),
        (
            "audience",
            'AUTH0["audience"] is not a setting of auth0_jwt and is ignored. '
            'Did you mean AUTH0["AUDIENCE"]?',
        ),
        (
            "JWKS_CACHE_TTL",
            'AUTH0["JWKS_CACHE_TTL"] is not a setting of auth0_jwt and is ignored. '
            'Did you mean AUTH0["JWKS_CACHE_LIFETIME"]?',
        ),
        (
            "DOMIANS",
            'AUTH0["DOMIANS"] is not a setting of auth0_jwt and is ignored. '
            'Did you mean AUTH0["DOMAINS"]?',
        ),
        (
            "CLIENT_SECRET",
            'AUTH0["CLIENT_SECRET"] is not a setting of auth0_jwt and is ignored. '
            "The settings it reads are listed in its README (Settings).",
        ),
        (
            42,
            "AUTH0[42] is not a setting of auth0_jwt and is ignored. "
            "The settings it reads are listed in its README (Settings).",
        ),
    ],
)
def test_an_unknown_key_is_a_warning_naming_the_closest_known_one(settings, key, message):
    from django.core.checks import WARNING

    settings.AUTH0 = {**settings.AUTH0, key: "https://api.example.com/"}
    assert unknown_key_warnings() == [("auth0_jwt.W001", WARNING, message)]
    assert messages(settings) == []  # the known keys still pass; the unknown one changes nothing


def test_every_known_key_passes_the_unknown_key_check(settings):
    from auth0_jwt.conf import SETTING_KEYS

    settings.AUTH0 = dict.fromkeys(SETTING_KEYS, "")
    assert unknown_key_warnings() == []


def test_every_key_the_settings_parser_reads_is_a_known_key():
    """SETTING_KEYS is the list the warning and the docs rely on: it names every key conf.py reads,
    and no other."""
    import ast
    import inspect

    from auth0_jwt import conf

    read = {
        node.args[0].value
        for node in ast.walk(ast.parse(inspect.getsource(conf)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "get"
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id == "raw"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    } | {
        node.args[0].value
        for node in ast.walk(ast.parse(inspect.getsource(conf)))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "setting_name"
        and node.args
        and isinstance(node.args[0], ast.Constant)
    }
    assert read == set(conf.SETTING_KEYS)
