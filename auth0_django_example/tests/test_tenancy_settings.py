"""The example service's tenancy variables (issue 20): AUTH0_DOMAINS instead of AUTH0_DOMAIN,
AUTH0_ORGANIZATIONS, AUTH0_DISCOVERY and LOCAL_ISSUER_DOMAINS become the AUTH0 setting;
AUTH0_DOMAINS beside AUTH0_DOMAIN, AUTH0_ISSUER or AUTH0_JWKS_URL stops manage.py with one line
naming both."""

import json

import pytest

from auth0_django_example.tests.support import clean_environment, manage

SHOW_AUTH0 = (
    "import json; from django.conf import settings; "
    "keys = ('DOMAINS', 'DOMAIN', 'ISSUER', 'JWKS_URL', 'ORGANIZATIONS', 'DISCOVERY', "
    "'LOCAL_ISSUER'); "
    "print(json.dumps({k: settings.AUTH0.get(k) for k in keys}))"
)
API = "https://api.example.com/"


def auth0_setting(**variables) -> dict:
    result = manage("shell", "-c", SHOW_AUTH0, env=clean_environment(DJANGO_DEBUG="1", **variables))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # (after shell's own first line)


def test_auth0_domains_becomes_the_domains_setting():
    setting = auth0_setting(
        AUTH0_DOMAINS="tenant.us.auth0.com, login.example.com", AUTH0_API_IDENTIFIER=API
    )
    assert setting == {
        "DOMAINS": ["tenant.us.auth0.com", "login.example.com"],
        "DOMAIN": None,
        "ISSUER": None,
        "JWKS_URL": None,
        "ORGANIZATIONS": None,
        "DISCOVERY": "off",
        "LOCAL_ISSUER": False,
    }


SHOW_RESOLVED = (
    "import json; from auth0_jwt.conf import get_auth0_settings; s = get_auth0_settings(); "
    "print(json.dumps([s.issuer, s.jwks_url, list(s.issuers)]))"
)


@pytest.mark.parametrize(
    "domain", ["tenant.us.auth0.com", "https://tenant.us.auth0.com/", "tenant.us.auth0.com/"]
)
def test_auth0_domain_keeps_working_and_is_passed_as_the_documented_domain_key(domain):
    """The example passes AUTH0["DOMAIN"] as the package documents (issue 21): the package derives
    the issuer and the JWKS URL, exactly as the example did before."""
    variables = dict(AUTH0_DOMAIN=domain, AUTH0_API_IDENTIFIER=API)
    setting = auth0_setting(**variables)
    assert (setting["DOMAIN"], setting["DOMAINS"], setting["ISSUER"], setting["JWKS_URL"]) == (
        domain,
        None,
        None,
        None,
    )
    result = manage(
        "shell", "-c", SHOW_RESOLVED, env=clean_environment(DJANGO_DEBUG="1", **variables)
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [
        "https://tenant.us.auth0.com/",
        "https://tenant.us.auth0.com/.well-known/jwks.json",
        ["https://tenant.us.auth0.com/"],
    ]


def test_auth0_issuer_and_jwks_url_still_win_over_the_domain():
    setting = auth0_setting(
        AUTH0_DOMAIN="tenant.us.auth0.com",
        AUTH0_ISSUER="https://issuer.example.com/",
        AUTH0_JWKS_URL="https://keys.example.com/jwks.json",
        AUTH0_API_IDENTIFIER=API,
    )
    assert (setting["DOMAIN"], setting["ISSUER"], setting["JWKS_URL"]) == (
        None,
        "https://issuer.example.com/",
        "https://keys.example.com/jwks.json",
    )


@pytest.mark.parametrize(
    ("value", "setting"),
    [
        ("required", "required"),
        ("Required", "required"),
        ("org_W9bWaGIoMAIEpHLV", ["org_W9bWaGIoMAIEpHLV"]),
        ("org_W9bWaGIoMAIEpHLV, acme ,", ["org_W9bWaGIoMAIEpHLV", "acme"]),
        ("", None),
    ],
)
def test_auth0_organizations_is_required_or_a_list(value, setting):
    variables = {"AUTH0_DOMAIN": "tenant.us.auth0.com", "AUTH0_API_IDENTIFIER": API}
    assert auth0_setting(AUTH0_ORGANIZATIONS=value, **variables)["ORGANIZATIONS"] == setting


def test_discovery_drops_the_derived_jwks_url():
    setting = auth0_setting(
        AUTH0_DOMAIN="tenant.us.auth0.com", AUTH0_API_IDENTIFIER=API, AUTH0_DISCOVERY="1"
    )
    assert (setting["DISCOVERY"], setting["JWKS_URL"]) == ("1", None)


def test_the_local_issuer_can_sign_for_several_domains():
    setting = auth0_setting(LOCAL_ISSUER_DOMAINS="tenant.local.test,login.local.test")
    assert (setting["DOMAINS"], setting["ISSUER"], setting["LOCAL_ISSUER"]) == (
        ["tenant.local.test", "login.local.test"],
        None,
        True,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("AUTH0_DOMAIN", "tenant.us.auth0.com"),
        ("AUTH0_ISSUER", "https://tenant.us.auth0.com/"),
        ("AUTH0_JWKS_URL", "https://tenant.us.auth0.com/.well-known/jwks.json"),
    ],
)
def test_auth0_domains_beside_a_single_issuer_variable_names_both(name, value):
    environment = clean_environment(
        DJANGO_DEBUG="1",
        AUTH0_DOMAINS="tenant.us.auth0.com,login.example.com",
        AUTH0_API_IDENTIFIER=API,
        **{name: value},
    )
    result = manage("check", env=environment)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert error_lines == [
        f"?: (auth0_django_example.E003) AUTH0_DOMAINS and {name} are both set: AUTH0_DOMAINS "
        f"lists every domain of the tenant (the first one included, each with its own keys); "
        f"unset {name}."
    ]
    assert "Traceback" not in result.stderr


def test_a_bad_organizations_value_is_one_line():
    environment = clean_environment(
        DJANGO_DEBUG="1",
        AUTH0_DOMAINS="tenant.us.auth0.com,login.example.com",
        AUTH0_API_IDENTIFIER=API,
        AUTH0_ORGANIZATIONS="two words",
    )
    result = manage("check", env=environment)
    assert result.returncode == 1
    error_lines = [line for line in result.stderr.splitlines() if line.startswith("?: (")]
    assert error_lines == [
        '?: (auth0_jwt.E002) AUTH0["ORGANIZATIONS"] must be None, "required", or a list of '
        "organization ids (org_...) and names, got ['two words']."
    ]
