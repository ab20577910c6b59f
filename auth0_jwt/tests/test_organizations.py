"""Auth0 Organizations (AUTH0["ORGANIZATIONS"], issue 20): the token's organization on
request.auth, the policy (none, required, an allow-list of ids and names) applied by the verifier,
and a view restricted to one organization (DRF's HasRequiredOrganization, the core's
check_organization), through real requests with real tokens."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from auth0_jwt.authenticator import AuthError
from auth0_jwt.conf import load_auth0_settings
from auth0_jwt.organizations import (
    Organization,
    OrganizationAllowList,
    OrganizationPolicy,
    OrganizationRejected,
    organization_of,
)
from auth0_jwt.runtime import get_request_authenticator, get_token_verifier
from auth0_jwt.tests.attacks.support import assert_insufficient_scope, assert_invalid_token
from conftest import AUDIENCE, ISSUER, KID, bearer, sign_compact

pytestmark = [pytest.mark.django_db, pytest.mark.urls("auth0_jwt.tests.organization_urls")]

ACME = "org_acme0000000001"
GLOBEX = "org_globex00000002"
MISSING = (
    "The token has no organization (org_id claim), and this API accepts organization tokens only."
)
NOT_ALLOWED = "The token's organization is not allowed here."
OTHER = "The token is not for the organization this endpoint belongs to."
BAD_ID = "The token's org_id claim is not a non-empty string."
BAD_NAME = "The token's org_name claim is not a non-empty string."
UNSAFE_ID = "The token's org_id claim contains characters that are not allowed."


@pytest.fixture
def policy(settings):
    """Set AUTH0["ORGANIZATIONS"]; the verifier is built again from it."""

    def apply(value):
        settings.AUTH0 = {**settings.AUTH0, "ORGANIZATIONS": value}

    return apply


def get(api_client, path, token):
    return api_client.get(path, **bearer(token))


# --- The token's organization ---------------------------------------------------------------------


def test_a_token_without_organization_has_none(api_client, make_token):
    response = get(api_client, "/api/organization/", make_token())
    assert response.status_code == 200
    assert response.json() == {"sub": "auth0|user-1", "organization": None}


def test_the_tokens_organization_is_on_request_auth(api_client, make_token):
    token = make_token(org_id=ACME, org_name="acme")
    response = get(api_client, "/api/organization/", token)
    assert response.status_code == 200
    assert response.json()["organization"] == {"id": ACME, "name": "acme"}
    # A cache hit answers with the same organization.
    assert get(api_client, "/api/organization/", token).json()["organization"] == {
        "id": ACME,
        "name": "acme",
    }
    assert get_token_verifier().verify(token).organization == Organization(ACME, "acme")


def test_org_name_alone_makes_no_organization(api_client, make_token):
    response = get(api_client, "/api/organization/", make_token(org_name="acme"))
    assert response.json()["organization"] is None


@pytest.mark.parametrize("setting", [None, "required", [ACME]])
@pytest.mark.parametrize(
    ("org_id", "detail"),
    [
        (42, BAD_ID),
        (["org_acme0000000001"], BAD_ID),
        ({"id": ACME}, BAD_ID),
        ("", BAD_ID),
        ("   ", BAD_ID),
        (None, BAD_ID),
        (True, BAD_ID),
        ("org_acme\x00", UNSAFE_ID),
        ("org_acme\n", UNSAFE_ID),
        ("org_acme\u009b", UNSAFE_ID),
        ("org_" + "a" * 300, BAD_ID),
    ],
)
def test_an_org_id_that_is_not_a_clean_string_is_refused_under_every_policy(
    api_client, make_token, policy, setting, org_id, detail
):
    policy(setting)
    assert_invalid_token(get(api_client, "/api/organization/", make_token(org_id=org_id)), detail)


def test_a_lone_surrogate_in_org_id_is_refused(api_client, rsa_key):
    payload = (
        f'{{"iss": "{ISSUER}", "aud": "{AUDIENCE}", "sub": "auth0|user-1", "exp": 4102444800, '
        '"org_id": "org_\\ud800"}'
    ).encode()
    token = sign_compact({"alg": "RS256", "kid": KID}, payload, rsa_key)
    assert_invalid_token(get(api_client, "/api/organization/", token), UNSAFE_ID)


@pytest.mark.parametrize("org_name", [42, "", ["acme"], None])
def test_an_org_name_that_is_not_a_string_is_refused(api_client, make_token, org_name):
    token = make_token(org_id=ACME, org_name=org_name)
    assert_invalid_token(get(api_client, "/api/organization/", token), BAD_NAME)


# --- The policy -----------------------------------------------------------------------------------


def test_by_default_organizations_are_not_required(api_client, make_token):
    assert get(api_client, "/api/organization/", make_token()).status_code == 200
    assert get(api_client, "/api/organization/", make_token(org_id=GLOBEX)).status_code == 200


def test_required_refuses_a_token_without_organization(api_client, make_token, policy):
    policy("required")
    assert_invalid_token(get(api_client, "/api/organization/", make_token()), MISSING)
    assert get(api_client, "/api/organization/", make_token(org_id=GLOBEX)).status_code == 200


def test_required_is_read_in_any_case(policy, api_client, make_token):
    policy("Required")
    assert_invalid_token(get(api_client, "/api/organization/", make_token()), MISSING)


def test_an_allow_list_of_ids_takes_only_those_organizations(api_client, make_token, policy):
    policy([ACME, "org_other00000003"])
    assert get(api_client, "/api/organization/", make_token(org_id=ACME)).status_code == 200
    assert_invalid_token(
        get(api_client, "/api/organization/", make_token(org_id=GLOBEX)), NOT_ALLOWED
    )
    assert_invalid_token(get(api_client, "/api/organization/", make_token()), MISSING)


@pytest.mark.parametrize(
    "org_id",
    ["ORG_ACME0000000001", "org_ACME0000000001", " org_acme0000000001", "org_acme0000000001 ",
     "org_acme000000000", "org_acme00000000011"],
)  # fmt: skip
def test_organization_ids_are_compared_exactly(api_client, make_token, policy, org_id):
    policy([ACME])
    assert_invalid_token(
        get(api_client, "/api/organization/", make_token(org_id=org_id)), NOT_ALLOWED
    )


def test_a_configured_name_is_compared_lower_cased_with_org_name(api_client, make_token, policy):
    policy(["Acme"])
    token = make_token(org_id=GLOBEX, org_name="acme")
    assert get(api_client, "/api/organization/", token).status_code == 200


@pytest.mark.parametrize(
    "org_name",
    [
        "ACME",  # the token's name is not case-folded: Auth0 sends names in lower case
        "Acme",
        "\u0430cme",  # a Cyrillic a
        "acm\u0435",  # a Cyrillic e
        "\uff41cme",  # a fullwidth a
        "acme\u200b",  # a zero-width space
        "acme ",
        "a\u0301cme",  # a combining accent
    ],
)
def test_org_name_look_alikes_do_not_match(api_client, make_token, policy, org_name):
    policy(["acme"])
    token = make_token(org_id=GLOBEX, org_name=org_name)
    assert_invalid_token(get(api_client, "/api/organization/", token), NOT_ALLOWED)


def test_the_kelvin_sign_is_not_a_k(api_client, make_token, policy):
    policy(["kelvin"])
    token = make_token(org_id=GLOBEX, org_name="\u212aelvin")  # "Kelvin".lower() == "kelvin"
    assert_invalid_token(get(api_client, "/api/organization/", token), NOT_ALLOWED)


def test_a_name_list_needs_the_org_name_claim(api_client, make_token, policy):
    policy(["acme"])
    assert_invalid_token(
        get(api_client, "/api/organization/", make_token(org_id=ACME)), NOT_ALLOWED
    )


def test_a_refused_organization_is_never_cached(api_client, make_token, policy):
    policy([ACME])
    token = make_token(org_id=GLOBEX)
    for _ in range(2):
        assert_invalid_token(get(api_client, "/api/organization/", token), NOT_ALLOWED)
    assert token not in get_token_verifier().token_cache


def test_a_policy_change_applies_to_tokens_already_cached(api_client, make_token, policy):
    token = make_token(org_id=GLOBEX)
    assert get(api_client, "/api/organization/", token).status_code == 200
    policy([ACME])
    assert_invalid_token(get(api_client, "/api/organization/", token), NOT_ALLOWED)


# --- One view, one organization -------------------------------------------------------------------


def test_a_view_of_one_organization_takes_its_tokens_only(api_client, make_token):
    assert get(api_client, "/api/acme/", make_token(org_id=ACME)).status_code == 200
    assert_invalid_token(get(api_client, "/api/acme/", make_token(org_id=GLOBEX)), OTHER)
    assert_invalid_token(get(api_client, "/api/acme/", make_token()), OTHER)


def test_a_view_restricted_by_name_compares_it_lower_cased(api_client, make_token):
    assert (
        get(api_client, "/api/globex/", make_token(org_id=GLOBEX, org_name="globex")).status_code
        == 200
    )
    assert_invalid_token(
        get(api_client, "/api/globex/", make_token(org_id=GLOBEX, org_name="GLOBEX")), OTHER
    )
    assert_invalid_token(get(api_client, "/api/globex/", make_token(org_id=GLOBEX)), OTHER)


def test_scopes_and_organization_together(api_client, make_token):
    token = make_token(org_id=GLOBEX, org_name="initech", scope="read:partners")
    assert get(api_client, "/api/partners/", token).status_code == 200
    assert_insufficient_scope(
        get(api_client, "/api/partners/", make_token(org_id=ACME)), "read:partners"
    )
    token = make_token(org_id=GLOBEX, org_name="globex", scope="read:partners")
    assert_invalid_token(get(api_client, "/api/partners/", token), OTHER)


def test_a_view_without_required_organization_is_a_programming_error(api_client, make_token):
    with pytest.raises(ImproperlyConfigured, match="required_organization"):
        get(api_client, "/api/misconfigured/", make_token(org_id=ACME))


def test_the_core_answers_for_plain_views_and_ninja_alike(make_token):
    authenticator = get_request_authenticator()
    token = get_token_verifier().verify(make_token(org_id=ACME, org_name="acme"))
    assert authenticator.check_organization(token, ACME) is None
    assert authenticator.check_organization(token, ["ACME"]) is None  # a name, lower-cased
    assert authenticator.check_organization(token, (GLOBEX, "acme")) is None
    error = authenticator.check_organization(token, GLOBEX)
    assert isinstance(error, AuthError)
    assert (error.status, error.code, error.body) == (401, "invalid_token", {"detail": OTHER})
    challenge = f'Bearer realm="api", error="invalid_token", error_description="{OTHER}"'
    assert error.headers == {"WWW-Authenticate": challenge}


# --- The core's rules, one by one -----------------------------------------------------------------


def test_organization_of_claims():
    assert organization_of({}) is None
    assert organization_of({"org_name": "acme"}) is None
    assert organization_of({"org_id": ACME}) == Organization(ACME, None)
    assert organization_of({"org_id": ACME, "org_name": "acme"}) == Organization(ACME, "acme")
    with pytest.raises(OrganizationRejected) as raised:
        organization_of({"org_id": ACME, "org_name": None})
    assert (raised.value.reason, raised.value.code) == (BAD_NAME, "bad_claim")


def test_the_allow_list_splits_ids_and_names():
    allowed = OrganizationAllowList([ACME, "Acme", " globex "])
    assert (allowed.ids, allowed.names) == (frozenset({ACME}), frozenset({"acme", "globex"}))
    assert Organization("org_x", "globex") in allowed
    assert Organization(ACME) in allowed
    assert Organization("org_x") not in allowed
    assert None not in allowed
    with pytest.raises(ValueError):
        OrganizationAllowList([])
    with pytest.raises(ValueError):
        OrganizationAllowList(["acme", ""])


def test_the_policy_in_words():
    assert OrganizationPolicy().describe() == "not required"
    assert OrganizationPolicy("required").describe() == "required (any organization)"
    assert OrganizationPolicy([GLOBEX, "Acme"]).describe() == f"required, one of: {GLOBEX}, acme"


# --- The setting ----------------------------------------------------------------------------------

MINIMAL = {"DOMAIN": "tenant.us.auth0.com", "AUDIENCE": "https://api.example.com/"}


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        (None, None),
        ("", None),
        ([], None),
        ("required", "required"),
        (" REQUIRED ", "required"),
        ([ACME, "acme"], (ACME, "acme")),
        ((ACME, ACME), (ACME,)),
        (f"{ACME}, acme", (ACME, "acme")),
    ],
)
def test_the_organizations_setting_is_parsed(value, parsed):
    assert load_auth0_settings({**MINIMAL, "ORGANIZATIONS": value}).organizations == parsed


@pytest.mark.parametrize("value", [42, [42], ["acme", ""], ["two words"], {"org": "x"}, True])
def test_a_bad_organizations_setting_is_named(value):
    with pytest.raises(ImproperlyConfigured) as raised:
        load_auth0_settings({**MINIMAL, "ORGANIZATIONS": value})
    assert str(raised.value) == (
        'AUTH0["ORGANIZATIONS"] must be None, "required", or a list of organization ids '
        f"(org_...) and names, got {value!r}."
    )


# --- OpenAPI --------------------------------------------------------------------------------------


def test_the_openapi_description_names_the_organization():
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator(urlconf="auth0_jwt.tests.organization_urls")
    paths = generator.get_schema(request=None, public=True)["paths"]
    operation = paths["/api/partners/"]["get"]
    assert operation["x-required-organization"] == [ACME, "initech"]
    assert operation["x-required-scopes"] == ["read:partners"]
    assert (
        f"**Organization:** tokens of the Auth0 organization `{ACME}` or `initech` only (an id is "
        "compared with the token's `org_id`, a name with its `org_name`)."
    ) in operation["description"]
    assert operation["responses"]["401"]["description"].endswith(
        "Also a token of another organization (or of none)."
    )
    plain = paths["/api/organization/"]["get"]
    assert "x-required-organization" not in plain
    assert "organization" not in plain["responses"]["401"]["description"]
