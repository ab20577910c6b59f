"""Key selection: the key comes from the JWKS by `kid`, and from nowhere else.

Header fields that point at keys (`jku`, `x5u`, `jwk`, `x5c`) are ignored, and the attacker's
server they name receives no request. Extends test_authentication.py (no kid, an unknown kid, a
known kid with another key's signature).
"""

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from auth0_jwt.tests.attacks.support import (
    BAD_SIGNATURE,
    PRIVATE,
    UNKNOWN_KEY,
    assert_accepted,
    assert_invalid_token,
    claims,
    rs256,
)
from auth0_jwt.tests.test_keystore import certificate_b64
from conftest import JWKS_PATH, KID, bearer, public_jwk

pytestmark = pytest.mark.django_db

KID_NOT_A_STRING = "The token's key id (kid) is not a string."
ATTACKER_JWKS = "/attacker/jwks.json"
ATTACKER_CERT = "/attacker/cert.pem"


def test_null_kid_counts_as_no_kid(api_client, rsa_key):
    token = rs256(rsa_key, claims(), kid=None)
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)), "The token has no key id (kid) in its header."
    )


@pytest.mark.parametrize("kid", ["", 1, 0, 1.5, True, [KID], {"kid": KID}], ids=repr)
def test_kid_that_is_not_a_non_empty_string_is_refused(api_client, rsa_key, kid):
    token = rs256(rsa_key, claims(), kid=kid)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), KID_NOT_A_STRING)


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "/dev/null",
        "file:///etc/passwd",
        f"{KID}/../{KID}",
        "' OR '1'='1",
        f"{KID}' --",
        "1; DROP TABLE auth0_jwt_auth0identity; --",
        f"{KID}\x00",
        f" {KID}",
        KID.upper(),
        "*",
        "k" * 8000,
        "\u202e1-yek-tset",
    ],
    ids=[
        "path-traversal",
        "dev-null",
        "file-url",
        "dot-dot-self",
        "sql-or",
        "sql-comment",
        "sql-drop",
        "nul-suffix",
        "leading-space",
        "uppercase",
        "wildcard",
        "8000-chars",
        "bidi-override",
    ],
)
def test_kid_naming_no_published_key_is_unknown_and_costs_at_most_one_refetch(
    api_client, rsa_key, jwks_server, kid
):
    assert_accepted(api_client.get(PRIVATE, **bearer(rs256(rsa_key, claims()))))
    token = rs256(rsa_key, claims(), kid=kid)
    for _ in range(2):
        assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), UNKNOWN_KEY)
    assert jwks_server.fetches == 2  # the start-up fetch, then one unknown-kid refetch per interval


@pytest.mark.parametrize(
    ("bad_entry", "kid"),
    [
        ({"use": "enc"}, "enc-key"),
        ({"d": "AQAB"}, "leaked-private-key"),
        ({"key_ops": ["encrypt"]}, "encrypt-only"),
    ],
)
def test_token_naming_a_published_but_unusable_key_is_unknown(
    api_client, other_rsa_key, rsa_key, jwks_server, bad_entry, kid
):
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid=kid, **bad_entry))
    token = rs256(other_rsa_key, claims(), kid=kid)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), UNKNOWN_KEY)


def test_token_naming_a_published_1024_bit_key_is_unknown(api_client, rsa_key, jwks_server):
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    jwks_server.publish(public_jwk(rsa_key), public_jwk(weak, kid="weak"))
    token = rs256(weak, claims(), kid="weak")
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), UNKNOWN_KEY)


# --- Header fields that point at keys -------------------------------------------------------------


@pytest.fixture
def attacker_server(jwks_server, other_rsa_key):
    """The local server also serves an attacker's key set and certificate."""
    jwks_server.routes[ATTACKER_JWKS] = {"keys": [public_jwk(other_rsa_key)]}
    jwks_server.routes[ATTACKER_CERT] = {"x5c": [certificate_b64(other_rsa_key)]}
    return jwks_server


def key_pointers(server, attacker_key):
    return {
        "jku": {"jku": server.base_url + ATTACKER_JWKS},
        "x5u": {"x5u": server.base_url + ATTACKER_CERT},
        "jwk": {"jwk": public_jwk(attacker_key)},
        "x5c": {"x5c": [certificate_b64(attacker_key)]},
        "all": {
            "jku": server.base_url + ATTACKER_JWKS,
            "x5u": server.base_url + ATTACKER_CERT,
            "jwk": public_jwk(attacker_key),
            "x5c": [certificate_b64(attacker_key)],
        },
    }


POINTERS = ["jku", "x5u", "jwk", "x5c", "all"]


@pytest.mark.parametrize("pointer", POINTERS)
def test_key_pointer_with_a_known_kid_is_ignored_and_the_signature_fails(
    api_client, other_rsa_key, attacker_server, pointer
):
    header = key_pointers(attacker_server, other_rsa_key)[pointer]
    token = rs256(other_rsa_key, claims(sub="auth0|admin"), **header)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), BAD_SIGNATURE)
    assert attacker_server.hits.get(ATTACKER_JWKS, 0) == 0
    assert attacker_server.hits.get(ATTACKER_CERT, 0) == 0
    assert attacker_server.hits == {JWKS_PATH: 1}


@pytest.mark.parametrize("pointer", POINTERS)
def test_key_pointer_with_an_unknown_kid_is_ignored_and_the_key_is_unknown(
    api_client, other_rsa_key, attacker_server, clock, pointer
):
    header = key_pointers(attacker_server, other_rsa_key)[pointer]
    clock.advance(30)  # a refetch for the unknown kid is allowed: it must go to the real JWKS
    token = rs256(other_rsa_key, claims(sub="auth0|admin"), kid="attacker-key", **header)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), UNKNOWN_KEY)
    assert attacker_server.hits == {JWKS_PATH: 1}


def test_key_pointers_without_any_kid_are_ignored(api_client, other_rsa_key, attacker_server):
    header = key_pointers(attacker_server, other_rsa_key)["all"]
    token = jwt.encode(claims(), other_rsa_key, algorithm="RS256", headers=header)
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)), "The token has no key id (kid) in its header."
    )
    assert attacker_server.hits == {}


def test_valid_token_carrying_key_pointers_is_still_verified_with_the_jwks_key(
    api_client, rsa_key, other_rsa_key, attacker_server
):
    # The pointers are noise: the token is signed by the real key and is accepted on that basis.
    header = key_pointers(attacker_server, other_rsa_key)["all"]
    assert_accepted(api_client.get(PRIVATE, **bearer(rs256(rsa_key, claims(), **header))))
    assert attacker_server.hits == {JWKS_PATH: 1}
