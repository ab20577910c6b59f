"""Algorithms: `none`, HMAC keyed with the public key (algorithm confusion), algorithms that are
not configured, and ECDSA signatures that only a broken verifier would accept.

Extends test_authentication.py (which covers `alg: none` once).
"""

import json

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from jwt.algorithms import ECAlgorithm

from auth0_jwt.tests.attacks.support import (
    ALG_NOT_ACCEPTED,
    BAD_SIGNATURE,
    NOT_THREE_SEGMENTS,
    PRIVATE,
    assert_accepted,
    assert_invalid_token,
    claims,
    hs256,
    raw_token,
)
from conftest import KID, b64url, bearer, public_jwk

pytestmark = pytest.mark.django_db

ALG_MISMATCH = "The token's algorithm does not match its signing key."
EC_KID = "ec-key-1"
# The order of the P-256 group: r = s = n is the other classic "psychic signature".
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def ec_jwk(private_key, kid=EC_KID, **extra):
    jwk = ECAlgorithm.to_jwk(private_key.public_key(), as_dict=True)
    return {**jwk, "kid": kid, "use": "sig", **extra}


# --- none -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["none", "None", "NONE", "nOnE"])
def test_alg_none_in_any_case_with_a_junk_signature_is_refused(api_client, alg):
    token = raw_token({"alg": alg, "kid": KID}, claims(), signature=b"junk")
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_NOT_ACCEPTED)


@pytest.mark.parametrize("alg", ["none", "NONE"])
def test_alg_none_with_an_empty_signature_is_malformed(api_client, alg):
    token = raw_token({"alg": alg, "kid": KID}, claims(), signature=b"")
    assert token.endswith(".")
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), NOT_THREE_SEGMENTS)


@pytest.mark.parametrize(
    "alg", [None, "", "rs256", "RS256 ", ["RS256"], {"name": "RS256"}, 256, True]
)
def test_missing_or_mistyped_alg_is_refused(api_client, rsa_key, alg):
    header = {"kid": KID} if alg is None else {"alg": alg, "kid": KID}
    token = raw_token(header, claims())
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_NOT_ACCEPTED)


# --- HMAC keyed with the public key ---------------------------------------------------------------


def public_key_forms(rsa_key):
    public = rsa_key.public_key()
    return {
        "pem-spki": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "pem-pkcs1": public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.PKCS1
        ),
        "der-spki": public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "jwk": json.dumps(public_jwk(rsa_key)).encode(),
        "jwks": json.dumps({"keys": [public_jwk(rsa_key)]}).encode(),
        "empty": b"",
    }


KEY_FORMS = ["pem-spki", "pem-pkcs1", "der-spki", "jwk", "jwks", "empty"]


@pytest.mark.parametrize("form", KEY_FORMS)
@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_hmac_keyed_with_the_public_key_is_refused(api_client, rsa_key, form, alg):
    secret = public_key_forms(rsa_key)[form]
    token = hs256({"alg": alg, "kid": KID}, claims(), secret)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_NOT_ACCEPTED)


@pytest.mark.parametrize("form", KEY_FORMS)
def test_hmac_signature_under_an_rs256_header_is_a_bad_signature(api_client, rsa_key, form):
    secret = public_key_forms(rsa_key)[form]
    token = hs256({"alg": "RS256", "kid": KID}, claims(), secret)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), BAD_SIGNATURE)


# --- Algorithms that are not configured -----------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS384", "RS512", "PS256", "PS384", "PS512"])
def test_rsa_variant_that_is_not_configured_is_refused(api_client, rsa_key, alg):
    token = jwt.encode(claims(), rsa_key, algorithm=alg, headers={"kid": KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_NOT_ACCEPTED)


def test_es256_token_is_refused_when_only_rs256_is_configured(api_client, ec_key):
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_NOT_ACCEPTED)


def test_eddsa_token_is_refused(api_client):
    key = ed25519.Ed25519PrivateKey.generate()
    token = jwt.encode(claims(), key, algorithm="EdDSA", headers={"kid": KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_NOT_ACCEPTED)


def test_pss_token_for_a_key_published_as_rs256_is_refused(api_client, rsa_key, configure):
    configure(ALGORITHMS="RS256 PS256")
    token = jwt.encode(claims(), rsa_key, algorithm="PS256", headers={"kid": KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_MISMATCH)


def test_pss_token_is_accepted_when_configured_and_the_key_names_no_alg(
    api_client, rsa_key, jwks_server, configure
):
    jwk = public_jwk(rsa_key)
    del jwk["alg"]
    jwks_server.publish(jwk)
    configure(ALGORITHMS="RS256 PS256")
    token = jwt.encode(claims(), rsa_key, algorithm="PS256", headers={"kid": KID})
    assert_accepted(api_client.get(PRIVATE, **bearer(token)))


# --- ECDSA, when configured -----------------------------------------------------------------------


@pytest.fixture
def with_es256(jwks_server, rsa_key, ec_key, configure):
    jwks_server.publish(public_jwk(rsa_key), ec_jwk(ec_key, alg="ES256"))
    configure(ALGORITHMS="RS256 ES256")


def es256_with_signature(r: int, s: int) -> str:
    return raw_token(
        {"alg": "ES256", "kid": EC_KID}, claims(), r.to_bytes(32, "big") + s.to_bytes(32, "big")
    )


def test_valid_es256_token_is_accepted_when_configured(api_client, ec_key, with_es256):
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": EC_KID})
    assert_accepted(api_client.get(PRIVATE, **bearer(token)))


@pytest.mark.parametrize(
    ("r", "s"),
    [(0, 0), (P256_ORDER, P256_ORDER), (0, 1), (1, 0)],
    ids=["zero", "order", "r0", "s0"],
)
def test_es256_psychic_signature_is_rejected(api_client, with_es256, r, s):
    # CVE-2022-21449: a verifier that skips the 0 < r, s < n check accepts these for any message.
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(es256_with_signature(r, s))), BAD_SIGNATURE
    )


def test_es256_signature_in_der_form_is_rejected(api_client, ec_key, with_es256):
    header = {"alg": "ES256", "kid": EC_KID}
    unsigned = raw_token(header, claims(), b"").rsplit(".", 1)[0]
    der = ec_key.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256()))
    assert len(der) != 64 and decode_dss_signature(der)
    token = f"{unsigned}.{b64url(der)}"
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), BAD_SIGNATURE)


def test_es256_token_naming_the_rsa_key_is_refused(api_client, ec_key, with_es256):
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_MISMATCH)


def test_rs256_token_naming_the_ec_key_is_refused(api_client, rsa_key, with_es256):
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": EC_KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_MISMATCH)


def test_rs256_token_naming_an_ec_key_that_names_no_alg_is_refused(
    api_client, rsa_key, ec_key, jwks_server, configure
):
    jwks_server.publish(public_jwk(rsa_key), ec_jwk(ec_key))
    configure(ALGORITHMS="RS256 ES256")
    token = jwt.encode(claims(), rsa_key, algorithm="RS256", headers={"kid": EC_KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_MISMATCH)


def test_es256_token_naming_an_rsa_key_that_names_no_alg_is_refused(
    api_client, rsa_key, ec_key, jwks_server, configure
):
    jwk = public_jwk(rsa_key)
    del jwk["alg"]
    jwks_server.publish(jwk)
    configure(ALGORITHMS="RS256 ES256")
    token = jwt.encode(claims(), ec_key, algorithm="ES256", headers={"kid": KID})
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), ALG_MISMATCH)


def test_es256_token_naming_a_p384_key_is_refused(api_client, rsa_key, jwks_server, configure):
    p384 = ec.generate_private_key(ec.SECP384R1())
    jwks_server.publish(public_jwk(rsa_key), ec_jwk(p384))
    configure(ALGORITHMS="RS256 ES256")
    unsigned = raw_token({"alg": "ES256", "kid": EC_KID}, claims(), b"").rsplit(".", 1)[0]
    r, s = decode_dss_signature(p384.sign(unsigned.encode(), ec.ECDSA(hashes.SHA256())))
    token = f"{unsigned}.{b64url(r.to_bytes(48, 'big') + s.to_bytes(48, 'big'))}"
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)),
        "The token's algorithm does not fit its signing key.",  # PyJWT checks the curve
    )
