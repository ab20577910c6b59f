"""JSONWebTokenAuthentication end to end: header parsing, each rejection reason with its RFC 6750
answer, missing signing keys, just-in-time users and what gets logged."""

import logging
import threading
import time

import pytest
from django.contrib.auth import get_user_model
from django.db import connections

from auth0_jwt.models import Auth0Identity
from conftest import AUDIENCE, ISSUER, KID, bearer, public_jwk, sign_compact

pytestmark = pytest.mark.django_db

PRIVATE = "/api/private/"


def assert_invalid_token(response, detail):
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="invalid_token", error_description="{detail}"'
    )


def assert_invalid_request(response, detail):
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="invalid_request", error_description="{detail}"'
    )


# --- The Authorization header ---------------------------------------------------------------------


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_bearer_scheme_is_case_insensitive(api_client, make_token, scheme):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"{scheme} {make_token()}")
    assert response.status_code == 200


def test_surrounding_and_repeated_spaces_are_tolerated(api_client, make_token):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"  Bearer   {make_token()}  ")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "header", ["", "   ", "Basic dXNlcjpwYXNz", "Token abc", "JWT abc.def.ghi"]
)
def test_missing_or_other_scheme_is_treated_as_no_credentials(api_client, header):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ("Bearer", "The Authorization header has no token after Bearer."),
        ("Bearer a.b.c d.e.f", "The Authorization header must hold exactly one token."),
        ("Bearer a.b.c,d", "The access token contains characters that are not allowed."),
        ("Bearer é.b.c", "The access token contains characters that are not allowed."),
        ('Bearer {"payload":"x"}', "The access token contains characters that are not allowed."),
    ],
)
def test_malformed_bearer_header_is_400_invalid_request(api_client, header, detail):
    assert_invalid_request(api_client.get(PRIVATE, HTTP_AUTHORIZATION=header), detail)


def test_token_in_the_url_is_refused(api_client, make_token):
    response = api_client.get(PRIVATE + "?access_token=" + make_token())
    assert_invalid_request(
        response, "Send the access token in the Authorization header, not in the URL."
    )


# --- Rejected tokens ------------------------------------------------------------------------------


def test_expired_token_is_rejected_with_invalid_token(api_client, make_token):
    token = make_token(iat=int(time.time()) - 7200, exp=int(time.time()) - 120)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), "The token has expired.")


def test_token_expired_within_the_leeway_is_accepted(api_client, make_token):
    token = make_token(exp=int(time.time()) - 30)
    assert api_client.get(PRIVATE, **bearer(token)).status_code == 200


def test_token_not_yet_valid_is_rejected(api_client, make_token):
    token = make_token(nbf=int(time.time()) + 600)
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)),
        "The token is not valid yet (its nbf or iat is in the future).",
    )


def test_token_issued_in_the_future_is_rejected(api_client, make_token):
    token = make_token(iat=int(time.time()) + 600)
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)),
        "The token is not valid yet (its nbf or iat is in the future).",
    )


@pytest.mark.parametrize("audience", ["https://other-api.example.test/", ["a", "b"], "client-id"])
def test_wrong_audience_is_rejected(api_client, make_token, audience):
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(make_token(aud=audience))),
        "The token's audience is not this API.",
    )


def test_audience_list_containing_this_api_is_accepted(api_client, make_token):
    token = make_token(aud=[AUDIENCE, f"{ISSUER}userinfo"])
    assert api_client.get(PRIVATE, **bearer(token)).status_code == 200


@pytest.mark.parametrize(
    "issuer", ["https://evil.example.test/", ISSUER.rstrip("/"), ISSUER + "x/", ISSUER.upper()]
)
def test_wrong_issuer_is_rejected(api_client, make_token, issuer):
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(make_token(iss=issuer))),
        "The token was not issued by the expected issuer.",
    )


def test_token_signed_by_another_key_with_a_known_kid_has_a_bad_signature(
    api_client, make_token, other_rsa_key
):
    token = make_token(key=other_rsa_key)
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)), "The token's signature is invalid."
    )


def test_unknown_kid_is_rejected(api_client, make_token, other_rsa_key):
    token = make_token(key=other_rsa_key, kid="attacker-key")
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)),
        "The token was signed with a key this API does not know.",
    )


@pytest.mark.parametrize("token", ["abc", "a.b", "a.b.c.d", "a..c", "a.b.c", "....."])
def test_malformed_token_is_rejected(api_client, token):
    response = api_client.get(PRIVATE, **bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"] in {
        "The token is malformed: expected three base64url segments separated by dots.",
        "The token's header is malformed.",
    }


def test_jwe_shaped_token_is_rejected(api_client):
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer("a.b.c.d.e")),
        "Encrypted tokens (JWE) are not accepted; send a signed JWT.",
    )


@pytest.mark.parametrize("claim", ["exp", "iss", "aud", "sub"])
def test_token_missing_a_required_claim_is_rejected(api_client, make_token, claim):
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(make_token(drop=[claim]))),
        f"The token has no {claim} claim.",
    )


def test_alg_none_is_rejected(api_client):
    token = sign_compact({"alg": "none", "kid": KID}, {"sub": "x"}, signature=b"")
    response = api_client.get(PRIVATE, **bearer(token + "AA"))
    assert_invalid_token(response, "The token's signing algorithm is not accepted.")


def test_token_without_kid_is_rejected(api_client, make_token):
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(make_token(kid=None))),
        "The token has no key id (kid) in its header.",
    )


def test_unsupported_crit_header_is_rejected(api_client, make_token):
    token = make_token(headers={"crit": ["exp"], "exp": 1})
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)),
        "The token uses critical header extensions, which are not accepted.",
    )


@pytest.mark.parametrize(
    ("claims", "detail"),
    [
        ({"exp": None}, "The token has no exp claim."),
        ({"exp": "9999999999"}, "The token's exp claim is not a number of seconds."),
        ({"exp": 1e400}, "The token's exp claim is not a number of seconds."),
        ({"exp": [1]}, "The token's exp claim is not a number of seconds."),
        ({"nbf": [1]}, "The token's nbf claim is not a number of seconds."),
        ({"iat": True}, "The token's iat claim is not a number of seconds."),
        ({"iat": None}, "The token's iat claim is not a valid time."),
        ({"sub": ""}, "The token's sub claim is empty or not a string."),
        ({"sub": 42}, "The token's sub claim is empty or not a string."),
        ({"scope": ["read:messages"]}, "The token's scope claim is not a space-separated string."),
        (
            {"permissions": "read:messages"},
            "The token's permissions claim is not a list of strings.",
        ),
    ],
)
def test_signed_token_with_awkward_claim_values_is_401(api_client, rsa_key, claims, detail):
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|x", "iat": now, "exp": now + 600}
    payload.update(claims)
    token = sign_compact({"alg": "RS256", "kid": KID, "typ": "JWT"}, payload, rsa_key)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), detail)


# --- Signing keys unavailable ---------------------------------------------------------------------


def test_token_request_is_503_while_the_signing_keys_cannot_be_loaded(
    api_client, make_token, jwks_server
):
    jwks_server.status = 500
    response = api_client.get(PRIVATE, **bearer(make_token()))
    assert response.status_code == 503
    assert response.json() == {
        "detail": "Tokens cannot be verified right now: the identity provider's signing keys "
        "are not loaded yet. Try again shortly."
    }
    assert response["Retry-After"] == "5"
    assert api_client.get("/api/public/").status_code == 200


def test_service_recovers_when_the_idp_comes_back(api_client, make_token, jwks_server, clock):
    jwks_server.status = 500
    assert api_client.get(PRIVATE, **bearer(make_token())).status_code == 503
    jwks_server.status = 200
    clock.advance(30)
    assert api_client.get(PRIVATE, **bearer(make_token())).status_code == 200


def test_rotated_key_is_accepted_without_restart(
    api_client, make_token, jwks_server, clock, rsa_key, other_rsa_key
):
    assert api_client.get(PRIVATE, **bearer(make_token())).status_code == 200
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="key-2"))
    clock.advance(30)
    token = make_token(key=other_rsa_key, kid="key-2")
    assert api_client.get(PRIVATE, **bearer(token)).status_code == 200
    assert jwks_server.fetches == 2


# --- Users ----------------------------------------------------------------------------------------


def test_first_request_creates_the_user_from_sub(api_client, make_token):
    api_client.get(PRIVATE, **bearer(make_token(sub="auth0|abc123")))
    identity = Auth0Identity.objects.select_related("user").get(sub="auth0|abc123")
    assert identity.user.username == "auth0.abc123"
    assert not identity.user.has_usable_password()
    api_client.get(PRIVATE, **bearer(make_token(sub="auth0|abc123")))
    assert get_user_model().objects.count() == 1


def test_subjects_that_map_to_the_same_username_get_distinct_users(api_client, make_token):
    api_client.get(PRIVATE, **bearer(make_token(sub="samlp|acme|j.doe")))
    api_client.get(PRIVATE, **bearer(make_token(sub="samlp|acme.j|doe")))
    first = Auth0Identity.objects.get(sub="samlp|acme|j.doe").user
    second = Auth0Identity.objects.get(sub="samlp|acme.j|doe").user
    assert first.username == "samlp.acme.j.doe"
    assert second.username.startswith("samlp.acme.j.doe-")
    assert first.pk != second.pk


def test_deactivated_user_is_rejected(api_client, make_token):
    api_client.get(PRIVATE, **bearer(make_token(sub="auth0|gone")))
    get_user_model().objects.filter(username="auth0.gone").update(is_active=False)
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(make_token(sub="auth0|gone"))),
        "The user account of this token is disabled.",
    )


def test_subject_too_long_for_a_user_is_rejected_and_creates_nothing(api_client, make_token):
    response = api_client.get(PRIVATE, **bearer(make_token(sub="auth0|" + "x" * 300)))
    assert_invalid_token(response, "The token's sub claim is longer than 255 characters.")
    assert get_user_model().objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_requests_of_a_new_subject_all_succeed(make_token):
    from rest_framework.test import APIClient

    token = make_token(sub="auth0|racer")
    statuses, barrier = [], threading.Barrier(6)

    def request():
        try:
            barrier.wait()
            statuses.append(APIClient().get(PRIVATE, **bearer(token)).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 6
    assert Auth0Identity.objects.filter(sub="auth0|racer").count() == 1
    assert get_user_model().objects.filter(username="auth0.racer").count() == 1


# --- Logging --------------------------------------------------------------------------------------


def test_rejection_is_logged_once_with_reason_kid_and_issuer_but_never_the_token(
    api_client, make_token, caplog
):
    token = make_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    with caplog.at_level(logging.INFO, logger="auth0_jwt"):
        api_client.get(PRIVATE, **bearer(token))
    records = [r for r in caplog.records if getattr(r, "event", None) == "token_rejected"]
    assert len(records) == 1
    assert records[0].getMessage() == "Token rejected: The token has expired."
    assert (records[0].reason, records[0].kid, records[0].iss) == (
        "The token has expired.",
        KID,
        ISSUER,
    )
    assert records[0].client == "127.0.0.1"
    everything = caplog.text + "".join(str(vars(r)) for r in caplog.records)
    assert token not in everything
    assert token.split(".")[2] not in everything
