"""Claims: each required claim missing or mistyped, the optional ones absent, the leeway's edges,
issuer and audience look-alikes, an ID token, `crit` and `b64`.

Extends test_authentication.py (one expired token, nbf/iat far in the future, a few wrong
audiences and issuers, each required claim missing, a first set of awkward claim values).
Boundaries keep >= 10 s between the test's clock reading and the 60 s leeway.
"""

import json
from base64 import urlsafe_b64decode as b64decode

import pytest

from auth0_jwt.tests.attacks.support import (
    NOT_THREE_SEGMENTS,
    PRIVATE,
    assert_accepted,
    assert_invalid_request,
    assert_invalid_token,
    claims,
    now,
    rs256,
)
from conftest import AUDIENCE, ISSUER, KID, bearer

pytestmark = pytest.mark.django_db

EXPIRED = "The token has expired."
NOT_YET_VALID = "The token is not valid yet (its nbf or iat is in the future)."
WRONG_ISSUER = "The token was not issued by the expected issuer."
WRONG_AUDIENCE = "The token's audience is not this API."
BAD_SUB = "The token's sub claim is empty or not a string."
SUB_CHARACTERS = "The token's sub claim contains characters that are not allowed."
CRITICAL = "The token uses critical header extensions, which are not accepted."


def not_a_number(name):
    return f"The token's {name} claim is not a number of seconds."


def get(api_client, rsa_key, payload, **header):
    return api_client.get(PRIVATE, **bearer(rs256(rsa_key, payload, **header)))


def with_raw_claim(name, literal) -> bytes:
    """Valid claims with `name` set to a JSON literal that json.dumps cannot write."""
    return json.dumps(claims(**{name: "@"})).replace('"@"', literal).encode()


# --- Optional claims ------------------------------------------------------------------------------


@pytest.mark.parametrize("drop", [["nbf"], ["iat"], ["nbf", "iat"]], ids="-".join)
def test_token_without_the_optional_time_claims_is_accepted(api_client, rsa_key, drop):
    assert_accepted(get(api_client, rsa_key, claims(drop=drop)))


# --- The leeway's edges ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("claim", "offset", "detail"),
    [
        ("exp", -50, None),
        ("exp", -70, EXPIRED),
        ("exp", -3600, EXPIRED),
        ("exp", 0, None),
        ("nbf", 50, None),
        ("nbf", 70, NOT_YET_VALID),
        ("iat", 50, None),
        ("iat", 70, NOT_YET_VALID),
        ("nbf", -3600, None),
        ("iat", -86400 * 365, None),
    ],
    ids=lambda value: str(value)[:12],
)
def test_time_claims_around_the_60_second_leeway(api_client, rsa_key, claim, offset, detail):
    overrides = {claim: now() + offset}
    if claim == "exp" and offset < 0:
        overrides["iat"] = now() + offset - 3600
    response = get(api_client, rsa_key, claims(**overrides))
    if detail is None:
        assert_accepted(response)
    else:
        assert_invalid_token(response, detail)


@pytest.mark.parametrize("value", [0, -1, -(2**53), 1e-300])
def test_exp_at_or_before_the_epoch_is_expired(api_client, rsa_key, value):
    assert_invalid_token(get(api_client, rsa_key, claims(exp=value, drop=["iat"])), EXPIRED)


def test_fractional_exp_within_its_window_is_accepted(api_client, rsa_key):
    assert_accepted(get(api_client, rsa_key, claims(exp=now() + 600.75)))


# --- Time claims of the wrong type ----------------------------------------------------------------


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "value",
    [str(10**10), "soon", {}, [], False],
    ids=["numeric-string", "word", "object", "array", "false"],
)
def test_time_claim_that_is_not_a_json_number_is_refused(api_client, rsa_key, claim, value):
    assert_invalid_token(get(api_client, rsa_key, claims(**{claim: value})), not_a_number(claim))


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize(
    "literal", ["1" + "0" * 400, "-1" + "0" * 400, "NaN", "Infinity", "-Infinity", "1e400"]
)
def test_time_claim_beyond_a_float_is_refused(api_client, rsa_key, claim, literal):
    # Regression: an integer too large for a float (legal JSON) raised OverflowError: a 500.
    response = get(api_client, rsa_key, with_raw_claim(claim, literal))
    assert_invalid_token(response, not_a_number(claim))


def test_null_nbf_is_malformed(api_client, rsa_key):
    assert_invalid_token(get(api_client, rsa_key, claims(nbf=None)), "The token is malformed.")


# --- Issuer ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        "https://tenant.example.test//",
        "http://tenant.example.test/",
        "https://tenant.example.test.evil.test/",
        "https://tenant.example.test.evil.test",
        "https://evil.test/https://tenant.example.test/",
        "https://evil.test/?https://tenant.example.test/",
        "https://tenant.example.test@evil.test/",
        "https://tenant.example.test:443/",
        "https://TENANT.example.test/",
        "https://ten\u0430nt.example.test/",  # Cyrillic a
        " https://tenant.example.test/",
        "https://tenant.example.test/ ",
        "https://tenant.example.test/\x00",
        "https://tenant.example.test/#",
        "",
    ],
    ids=repr,
)
def test_issuer_look_alike_is_refused(api_client, rsa_key, issuer):
    assert_invalid_token(get(api_client, rsa_key, claims(iss=issuer)), WRONG_ISSUER)


@pytest.mark.parametrize("issuer", [1, True, [ISSUER], {"iss": ISSUER}, [ISSUER, "x"]], ids=repr)
def test_issuer_that_is_not_a_string_is_refused(api_client, rsa_key, issuer):
    assert_invalid_token(get(api_client, rsa_key, claims(iss=issuer)), WRONG_ISSUER)


def test_null_issuer_counts_as_missing(api_client, rsa_key):
    assert_invalid_token(get(api_client, rsa_key, claims(iss=None)), "The token has no iss claim.")


# --- Audience -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "audience",
    [
        AUDIENCE.rstrip("/"),
        AUDIENCE + "/",
        AUDIENCE.upper(),
        f" {AUDIENCE}",
        f"{AUDIENCE} {AUDIENCE}",
        [AUDIENCE.rstrip("/"), "https://other-api.example.test/"],
        [[AUDIENCE]],
        [AUDIENCE, 1],
        1,
        True,
        {"aud": AUDIENCE},
        ISSUER,
        f"{ISSUER}userinfo",
    ],
    ids=repr,
)
def test_audience_look_alike_or_mistyped_is_refused(api_client, rsa_key, audience):
    assert_invalid_token(get(api_client, rsa_key, claims(aud=audience)), WRONG_AUDIENCE)


@pytest.mark.parametrize("audience", [None, "", [], {}, 0, False], ids=repr)
def test_empty_audience_counts_as_missing(api_client, rsa_key, audience):
    assert_invalid_token(
        get(api_client, rsa_key, claims(aud=audience)), "The token has no aud claim."
    )


@pytest.mark.parametrize("audience", [[AUDIENCE], ["https://a.test/", AUDIENCE, "b"]], ids=repr)
def test_audience_list_holding_this_api_is_accepted(api_client, rsa_key, audience):
    assert_accepted(get(api_client, rsa_key, claims(aud=audience)))


@pytest.mark.parametrize("audience", ["client-id-of-the-spa", ["client-id-of-the-spa"]], ids=repr)
def test_id_token_of_the_same_tenant_is_refused(api_client, rsa_key, audience):
    # An ID token is signed by the same key and issuer; only its audience (the client id) differs.
    id_token_claims = claims(
        aud=audience,
        sub="auth0|user-1",
        nonce="n-0S6_WzA2Mj",
        azp="client-id-of-the-spa",
        at_hash="77QmUPtjPfzWtF2AnpK9RQ",
        name="User One",
        email="user@example.test",
    )
    assert_invalid_token(get(api_client, rsa_key, id_token_claims), WRONG_AUDIENCE)


# --- Subject --------------------------------------------------------------------------------------


def test_null_subject_counts_as_missing(api_client, rsa_key):
    assert_invalid_token(get(api_client, rsa_key, claims(sub=None)), "The token has no sub claim.")


@pytest.mark.parametrize("subject", [[], ["auth0|user-1"], {}, True, 0, 1.5, " ", "\t"], ids=repr)
def test_subject_that_is_not_a_non_blank_string_is_refused(api_client, rsa_key, subject):
    assert_invalid_token(get(api_client, rsa_key, claims(sub=subject)), BAD_SUB)


@pytest.mark.parametrize(
    "literal",
    ['"auth0|\\ud800"', '"\\udfff"', '"auth0|a\\u0000b"', '"auth0|\\u0085x"', '"auth0|x\\n"'],
    ids=["lone-high-surrogate", "lone-low-surrogate", "nul", "nel", "newline"],
)
def test_subject_with_control_characters_or_lone_surrogates_is_refused(
    api_client, rsa_key, django_user_model, literal
):
    # Regression: a lone surrogate could not be encoded for the database or the JSON answer (a
    # 500); a NUL is refused by PostgreSQL. No user may be created for such a subject.
    response = get(api_client, rsa_key, with_raw_claim("sub", literal))
    assert_invalid_token(response, SUB_CHARACTERS)
    assert django_user_model.objects.count() == 0


@pytest.mark.parametrize(
    "subject",
    ["google-oauth2|1234567890", "samlp|acme|j.doe@example.test", "auth0|Zoë Ünïcødé ✓", "x" * 255],
    ids=["google", "saml", "unicode", "255-chars"],
)
def test_real_world_subjects_are_accepted(api_client, rsa_key, subject):
    assert_accepted(get(api_client, rsa_key, claims(sub=subject)), sub=subject)


def test_subject_of_256_characters_is_refused(api_client, rsa_key):
    assert_invalid_token(
        get(api_client, rsa_key, claims(sub="x" * 256)),
        "The token's sub claim is longer than 255 characters.",
    )


# --- Other registered claims ----------------------------------------------------------------------


@pytest.mark.parametrize("jti", [1, [], {}, True], ids=repr)
def test_jti_that_is_not_a_string_is_refused(api_client, rsa_key, jti):
    assert_invalid_token(
        get(api_client, rsa_key, claims(jti=jti)), "The token's jti claim is not a string."
    )


# --- crit and b64 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        {"crit": []},
        {"crit": ["b64"], "b64": False},
        {"crit": ["b64"], "b64": True},
        {"b64": False},
        {"b64": True},
        {"crit": ["exp"], "exp": 2_000_000_000},  # fixed: pytest-xdist needs stable test ids
        {"crit": "b64"},
        {"crit": None},
    ],
    ids=repr,
)
def test_crit_or_b64_header_is_refused(api_client, rsa_key, header):
    assert_invalid_token(get(api_client, rsa_key, claims(), **header), CRITICAL)


def test_rfc7797_unencoded_json_payload_is_400(api_client, rsa_key):
    header = {"alg": "RS256", "kid": KID, "crit": ["b64"], "b64": False}
    h, _, sig = rs256(rsa_key, claims(), crit=["b64"], b64=False).split(".")
    token = f"{h}.{json.dumps(claims())}.{sig}"
    assert json.loads(b64decode(h + "==")) == header
    assert_invalid_request(
        api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {token}"),
        "The Authorization header must hold exactly one token.",
    )


def test_rfc7797_detached_payload_is_malformed(api_client, rsa_key):
    h, _, sig = rs256(rsa_key, claims(), crit=["b64"], b64=False).split(".")
    assert_invalid_token(api_client.get(PRIVATE, **bearer(f"{h}..{sig}")), NOT_THREE_SEGMENTS)
