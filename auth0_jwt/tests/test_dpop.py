"""The DPoP proof verifier (dpop.py) on its own: JOSE and the request facts it is given, on an
injected wall clock; the RFC test vectors; URL normalisation; the DPoP settings."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.exceptions import ImproperlyConfigured

from auth0_jwt.conf import load_auth0_settings
from auth0_jwt.dpop import (
    DPoPVerifier,
    MalformedProof,
    NonceRequired,
    ProofRejected,
    access_token_hash,
    jwk_thumbprint,
    normalized_htu,
)
from auth0_jwt.runtime import build_dpop_verifier
from auth0_jwt.tests.dpop_support import PRIVATE_URL, WallClock, make_proof, public_jwk, thumbprint

NOW = 1_800_000_000
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


@pytest.fixture(scope="module")
def client_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def verifier():
    return DPoPVerifier(now=WallClock(NOW))


def verify(verifier, proof, *, method="GET", url=PRIVATE_URL, token=TOKEN):
    return verifier.verify(proof, method=method, url=url, access_token=token)


def proof(key, **options):
    options.setdefault("token", TOKEN)
    options.setdefault("now", NOW)
    return make_proof(key, **options)


# --- RFC test vectors -----------------------------------------------------------------------------


def test_thumbprint_matches_rfc_7638_example():
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tS"
        "oc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_"
        "FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI"
        "4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ath_matches_rfc_9449_example():
    token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
    assert access_token_hash(token) == "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"


# --- Accepted proofs ------------------------------------------------------------------------------


def test_honest_proof_is_accepted_with_its_thumbprint_jti_and_iat(verifier, client_key):
    verified = verify(verifier, proof(client_key, jti="one"))
    assert verified.thumbprint == thumbprint(client_key)
    assert (verified.jti, verified.issued_at) == ("one", NOW)
    assert verified.claims["htm"] == "GET"
    assert verifier.expires_at(verified) == NOW + 300 + 30


def test_iat_window_edges_are_inside(verifier, client_key):
    verify(verifier, proof(client_key, now=NOW - 300))
    verify(verifier, proof(client_key, now=NOW + 30))


@pytest.mark.parametrize("offset", [-301, 31])
def test_iat_just_outside_the_window_is_rejected(verifier, client_key, offset):
    with pytest.raises(ProofRejected):
        verify(verifier, proof(client_key, now=NOW + offset))


def test_configured_window_is_used(client_key):
    verifier = DPoPVerifier(iat_leeway=5, max_age=60, now=WallClock(NOW))
    verify(verifier, proof(client_key, now=NOW - 60))
    with pytest.raises(ProofRejected, match="more than 60 seconds ago"):
        verify(verifier, proof(client_key, now=NOW - 61))
    with pytest.raises(ProofRejected, match="in the future"):
        verify(verifier, proof(client_key, now=NOW + 6))


@pytest.mark.parametrize("alg", ["ES384", "ES512", "RS256", "PS256"])
def test_other_configured_algorithms_verify_with_their_key_types(alg):
    key = (
        ec.generate_private_key({"ES384": ec.SECP384R1(), "ES512": ec.SECP521R1()}[alg])
        if alg.startswith("ES")
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    verifier = DPoPVerifier(algorithms=(alg,), now=WallClock(NOW))
    assert verify(verifier, proof(key, alg=alg)).thumbprint == thumbprint(key)


def test_the_same_key_is_built_once_across_proofs(verifier, client_key):
    from auth0_jwt.dpop import _public_key

    verify(verifier, proof(client_key))
    hits = _public_key.cache_info().hits
    verify(verifier, proof(client_key))
    assert _public_key.cache_info().hits == hits + 1


# --- Rejections (the attack suite breaks every rule through HTTP too) -----------------------------


def test_syntax_errors_are_malformed_proofs(verifier, client_key):
    honest = proof(client_key)
    for bad in ("", f"{honest},{honest}", "a.b.c.d.e", "a.b", "a b.c.d"):
        with pytest.raises(MalformedProof):
            verify(verifier, bad)


def test_signature_by_another_key_is_rejected(verifier, client_key):
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ProofRejected, match="signature does not verify"):
        verify(verifier, proof(client_key, sign_with=other))


def test_wrong_method_url_and_token_are_rejected(verifier, client_key):
    honest = proof(client_key)
    with pytest.raises(ProofRejected, match="htm"):
        verify(verifier, honest, method="POST")
    with pytest.raises(ProofRejected, match="htu"):
        verify(verifier, honest, url="http://testserver/api/public/")
    with pytest.raises(ProofRejected, match="ath"):
        verify(verifier, honest, token=TOKEN + "x")


def test_private_key_in_jwk_is_rejected(verifier, client_key):
    jwk = {**public_jwk(client_key), "d": "AAAA"}
    with pytest.raises(ProofRejected, match="private key material"):
        verify(verifier, proof(client_key, jwk=jwk))


def test_non_canonical_base64url_coordinates_are_rejected(verifier, client_key):
    jwk = public_jwk(client_key)
    jwk["x"] += "="
    with pytest.raises(ProofRejected, match="not a valid public key"):
        verify(verifier, proof(client_key, jwk=jwk))


def test_symmetric_or_unknown_algorithms_cannot_be_configured():
    for algorithms in (("HS256",), ("none",), ()):
        with pytest.raises(ValueError):
            DPoPVerifier(algorithms=algorithms)


# --- URL normalisation (RFC 3986 section 6.2.2 and 6.2.3) -----------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        "http://testserver/api/private/",
        "HTTP://TestServer/api/private/",
        "http://testserver:80/api/private/",
        "http://testserver/api/private/?page=2",
        "http://testserver/api/private/#top",
        "http://testserver/api/%70rivate/",
        "http://testserver/api/./private/",
        "http://testserver/api/x/../private/",
    ],
)
def test_equivalent_urls_normalise_alike(variant):
    assert normalized_htu(variant) == "http://testserver/api/private/"


def test_https_default_port_and_empty_path_normalise():
    assert normalized_htu("https://API.example.test:443") == "https://api.example.test/"
    assert normalized_htu("https://[::1]:8443/a%2fb") == "https://[::1]:8443/a%2Fb"


@pytest.mark.parametrize(
    "variant",
    [
        "https://testserver/api/private/",
        "http://testserver:8080/api/private/",
        "http://testserver./api/private/",
        "http://testserver/api/private",
        "http://testserver/API/private/",
        "http://testserver/api%2Fprivate/",
        "http://testserver.evil.test/api/private/",
    ],
)
def test_look_alike_urls_differ(variant):
    assert normalized_htu(variant) != normalized_htu(PRIVATE_URL)


@pytest.mark.parametrize(
    "not_a_url",
    [
        "",
        "/api/private/",
        "ftp://testserver/api/private/",
        "http://testserver@evil.test/api/private/",
        "http://user:pw@testserver/api/private/",
        "http://testserver:99999/",
        "http://testserver:port/",
        "http:///api/private/",
    ],
)
def test_what_is_not_an_http_url_normalises_to_none(not_a_url):
    assert normalized_htu(not_a_url) is None


# --- Settings -------------------------------------------------------------------------------------

BASE = {"ISSUER": "https://t.example/", "AUDIENCE": "a", "JWKS_URL": "https://t.example/jwks"}


def test_dpop_settings_default_to_auth0s_sdk():
    config = load_auth0_settings(BASE)
    assert (config.dpop_mode, config.dpop_algorithms) == ("allowed", ("ES256",))
    assert (config.dpop_iat_leeway, config.dpop_max_age) == (30, 300)
    assert (config.dpop_max_proof_length, config.redis_url, config.dpop_nonce) == (4096, "", False)
    verifier = build_dpop_verifier(config)
    assert (verifier.iat_leeway, verifier.max_age, verifier.max_length) == (30, 300, 4096)


def test_dpop_settings_are_read():
    config = load_auth0_settings(
        {
            **BASE,
            "DPOP": "Required",
            "DPOP_ALGORITHMS": "ES256, PS256",
            "DPOP_IAT_LEEWAY": "5",
            "DPOP_MAX_AGE": "60",
            "DPOP_MAX_PROOF_LENGTH": "2048",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "DPOP_NONCE": "on",
        }
    )
    assert config.dpop_nonce is True
    assert config.dpop_mode == "required"
    assert config.dpop_algorithms == ("ES256", "PS256")
    assert (config.dpop_iat_leeway, config.dpop_max_age, config.dpop_max_proof_length) == (
        5,
        60,
        2048,
    )
    assert config.redis_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DPOP",
            "sometimes",
            "AUTH0[\"DPOP\"] must be one of off, allowed, required; got 'sometimes'.",
        ),
        (
            "DPOP_ALGORITHMS",
            "HS256",
            'AUTH0["DPOP_ALGORITHMS"] must list asymmetric JWS algorithms',
        ),
        ("DPOP_ALGORITHMS", "none", 'AUTH0["DPOP_ALGORITHMS"] must list asymmetric JWS algorithms'),
        ("DPOP_MAX_AGE", "0", "AUTH0[\"DPOP_MAX_AGE\"] must be between 1 and 3600, got '0'."),
        ("DPOP_IAT_LEEWAY", "x", "AUTH0[\"DPOP_IAT_LEEWAY\"] must be a number, got 'x'."),
        ("DPOP_MAX_PROOF_LENGTH", "100", 'AUTH0["DPOP_MAX_PROOF_LENGTH"] must be between 512'),
        ("DPOP_NONCE", "maybe", "AUTH0[\"DPOP_NONCE\"] must be on or off; got 'maybe'."),
        ("REDIS_URL", "http://secret@h/", 'AUTH0["REDIS_URL"] must be a redis://, rediss:// or'),
    ],
)
def test_bad_dpop_settings_are_one_clear_sentence(name, value, message):
    with pytest.raises(ImproperlyConfigured) as raised:
        load_auth0_settings({**BASE, name: value})
    assert str(raised.value).startswith(message)
    assert "secret" not in str(raised.value)


# --- Server nonces (RFC 9449 section 9), off by default -------------------------------------------


def test_nonce_of_this_or_the_previous_window_is_accepted(client_key):
    clock = WallClock(NOW)
    verifier = DPoPVerifier(nonce_secret=b"k" * 32, nonce_lifetime=60, now=clock)
    nonce = verifier.current_nonce()
    verify(verifier, proof(client_key, nonce=nonce))
    clock.advance(60)  # the next window: the nonce is the previous one's, still good
    verify(verifier, proof(client_key, nonce=nonce, now=clock.now))
    assert verifier.current_nonce() != nonce
    clock.advance(60)  # two windows on: too old, and the answer carries the current nonce
    with pytest.raises(NonceRequired) as raised:
        verify(verifier, proof(client_key, nonce=nonce, now=clock.now))
    assert raised.value.reason == (
        "The DPoP proof's nonce is not current: sign the DPoP-Nonce of this answer into a new "
        "proof."
    )
    assert raised.value.nonce == verifier.current_nonce()


@pytest.mark.parametrize("nonce", [None, 1, "", "forged", f"{NOW // 60}.AAAAAAAAAAAAAAAAAAAAAAAA"])
def test_missing_or_forged_nonce_is_refused_with_a_new_one(client_key, nonce):
    verifier = DPoPVerifier(nonce_secret=b"k" * 32, now=WallClock(NOW))
    options = {} if nonce is None else {"nonce": nonce}
    with pytest.raises(NonceRequired) as raised:
        verify(verifier, proof(client_key, **options))
    assert raised.value.nonce == verifier.current_nonce()
    assert ("has no nonce claim" in raised.value.reason) == (nonce is None)


def test_nonce_of_another_secret_is_refused(client_key):
    theirs = DPoPVerifier(nonce_secret=b"a" * 32, now=WallClock(NOW)).current_nonce()
    verifier = DPoPVerifier(nonce_secret=b"b" * 32, now=WallClock(NOW))
    with pytest.raises(NonceRequired):
        verify(verifier, proof(client_key, nonce=theirs))


def test_without_nonces_a_nonce_claim_is_ignored(verifier, client_key):
    verify(verifier, proof(client_key, nonce="anything"))


def test_nonce_secret_comes_from_the_secret_key(settings):
    config = load_auth0_settings({**BASE, "DPOP_NONCE": "on"})
    first = build_dpop_verifier(config).nonce_secret
    assert first is not None and len(first) == 32
    settings.SECRET_KEY = "another-secret-key"
    assert build_dpop_verifier(config).nonce_secret != first
    assert build_dpop_verifier(load_auth0_settings(BASE)).nonce_secret is None
