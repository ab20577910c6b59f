"""DPoP attacks (RFC 9449): each rule of the proof, the key binding and the replay check broken one
at a time, against the API in process. Every answer is asserted exactly: a 401 with
`error="invalid_dpop_proof"` or `error="invalid_token"` under the `DPoP algs="ES256"` challenge, a
400 `invalid_request` for header grammar, never a 200 for a broken rule, never a 500.

Replays across gunicorn workers and instances: auth0_django_example/tests/test_dpop_serving.py.
"""

import base64
import hashlib
import hmac
import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from auth0_jwt.dpop import access_token_hash, b64url
from auth0_jwt.replay import reset_replay_store
from auth0_jwt.runtime import build_dpop_verifier, reset_dpop_verifier
from auth0_jwt.tests.attacks.support import assert_invalid_token
from auth0_jwt.tests.dpop_support import (
    WallClock,
    assert_dpop_accepted,
    assert_invalid_dpop_request,
    assert_invalid_dpop_token,
    assert_invalid_proof,
    compact,
    make_proof,
    proof_claims,
    public_jwk,
    thumbprint,
)
from conftest import bearer

pytestmark = pytest.mark.django_db

PRIVATE = "/api/private/"
NOW = 1_900_000_000
ALG = "The DPoP proof's algorithm is not accepted; use one of ES256."
DOES_NOT_FIT = "The DPoP proof's jwk does not fit its algorithm."
PRIVATE_MATERIAL = "The DPoP proof's jwk holds private key material."
NOT_A_KEY = "The DPoP proof's jwk is not a valid public key."
BAD_SIGNATURE = "The DPoP proof's signature does not verify with its jwk."
TYP = "The DPoP proof's typ header is not dpop+jwt."
HTU = "The DPoP proof's htu claim does not match the request URL."
HTM = "The DPoP proof's htm claim does not match the request method."
ATH = "The DPoP proof's ath claim does not match the access token."
IAT_NOT_NUMBER = "The DPoP proof's iat claim is not a number of seconds."
JTI = "The DPoP proof's jti claim is not a string of 1 to 256 characters."
REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."
OTHER_KEY = "The token is bound to another key than the one that signed the DPoP proof."
NOT_BOUND = "The token is not bound to a key (no cnf.jkt claim), so it cannot be used with DPoP."
UNSIGNED = (
    "The DPoP proof is not signed: its signature part is empty (alg none is never accepted); "
    "sign it with one of ES256."
)
NOT_ONE_JWS = "The DPoP proof is not one JWT: expected three base64url segments separated by dots."


@pytest.fixture(scope="module")
def client_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def attacker_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(autouse=True)
def wall_clock():
    """The proofs' clock: fixed, so iat edges are exact."""
    clock = WallClock(NOW)
    reset_dpop_verifier(build_dpop_verifier(now=clock))
    reset_replay_store()
    yield clock
    reset_dpop_verifier()


@pytest.fixture
def token(make_token, client_key):
    return make_token(cnf={"jkt": thumbprint(client_key)})


@pytest.fixture
def send(api_client, token):
    """GET /api/private/ with `Authorization: DPoP <token>` and the DPoP header `proof`."""

    def request(proof, *, access_token=None, **extra):
        headers = {"HTTP_AUTHORIZATION": f"DPoP {access_token or token}", **extra}
        if proof is not None:
            headers["HTTP_DPOP"] = proof
        return api_client.get(PRIVATE, **headers)

    return request


def proof_by(key, token, **options):
    """A proof for GET /api/private/ at NOW, honest unless `options` change it."""
    options.setdefault("now", NOW)
    return make_proof(key, token=token, **options)


def test_honest_proof_is_accepted(send, client_key, token):
    assert_dpop_accepted(send(proof_by(client_key, token)))


# --- Algorithm confusion --------------------------------------------------------------------------


def test_alg_none_unsigned_proof_is_refused(send, client_key, token):
    header = {"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(client_key)}
    proof = compact(header, proof_claims(token=token, now=NOW), signature=b"")
    assert proof.endswith(".")  # an unsecured JWS: three segments, the signature empty
    assert_invalid_proof(send(proof), UNSIGNED)  # RFC 9449 section 7.1: 401 invalid_dpop_proof
    proof = compact(header, proof_claims(token=token, now=NOW), signature=b"x")
    assert_invalid_proof(send(proof), ALG)


def test_empty_signature_under_an_accepted_alg_is_refused_as_unsigned(send, client_key, token):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(client_key)}
    proof = compact(header, proof_claims(token=token, now=NOW), signature=b"")
    assert_invalid_proof(send(proof), UNSIGNED)


@pytest.mark.parametrize("proof", ["a.b", "a..", ".b.", "a.b.c.", "..", "a.b..c"])
def test_what_is_not_three_segments_stays_a_malformed_request(send, proof):
    assert_invalid_dpop_request(send(proof), NOT_ONE_JWS)


def test_hs256_keyed_with_the_public_jwk_is_refused(send, client_key, token):
    jwk = public_jwk(client_key)
    header = {"typ": "dpop+jwt", "alg": "HS256", "jwk": jwk}
    signing_input = ".".join(
        b64url(json.dumps(part).encode()) for part in (header, proof_claims(token=token, now=NOW))
    )
    for secret in (json.dumps(jwk).encode(), jwk["x"].encode()):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        assert_invalid_proof(send(f"{signing_input}.{b64url(mac)}"), ALG)


@pytest.mark.parametrize("alg", ["RS256", "PS256", "ES384", "es256", "ES256K", "EdDSA"])
def test_algorithm_not_configured_is_refused(send, token, alg):
    key = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if alg[:2] in ("RS", "PS")
        else ec.generate_private_key(ec.SECP384R1())
    )
    sign_alg = alg if alg in ("RS256", "PS256", "ES384") else "ES384"
    header = {"typ": "dpop+jwt", "alg": alg, "jwk": public_jwk(key)}
    proof = compact(header, proof_claims(token=token, now=NOW), key, alg=sign_alg)
    assert_invalid_proof(send(proof), ALG)


def test_es256_header_with_an_rsa_jwk_is_refused(send, client_key, token):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    proof = proof_by(client_key, token, jwk=public_jwk(rsa_key))
    assert_invalid_proof(send(proof), DOES_NOT_FIT)


def test_es256_header_with_a_p384_jwk_is_refused(send, token):
    key = ec.generate_private_key(ec.SECP384R1())
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(key)}
    proof = compact(header, proof_claims(token=token, now=NOW), key, alg="ES384")
    assert_invalid_proof(send(proof), DOES_NOT_FIT)


def test_jwk_declaring_another_alg_is_refused(send, client_key, token):
    jwk = {**public_jwk(client_key), "alg": "ES384"}
    assert_invalid_proof(send(proof_by(client_key, token, jwk=jwk)), DOES_NOT_FIT)


# --- The jwk: public only, and the key that signed ------------------------------------------------


def test_jwk_with_the_private_scalar_is_refused(send, client_key, token):
    private_value = client_key.private_numbers().private_value
    jwk = {**public_jwk(client_key), "d": b64url(private_value.to_bytes(32, "big"))}
    assert_invalid_proof(send(proof_by(client_key, token, jwk=jwk)), PRIVATE_MATERIAL)


@pytest.mark.parametrize("member", ["p", "q", "dp", "dq", "qi", "oth", "k"])
def test_jwk_with_any_private_member_is_refused(send, client_key, token, member):
    jwk = {**public_jwk(client_key), member: "AQAB"}
    assert_invalid_proof(send(proof_by(client_key, token, jwk=jwk)), PRIVATE_MATERIAL)


def test_symmetric_oct_jwk_is_refused(send, client_key, token):
    jwk = {"kty": "oct", "k": b64url(b"secret")}
    assert_invalid_proof(send(proof_by(client_key, token, jwk=jwk)), PRIVATE_MATERIAL)


def test_victims_jwk_signed_by_the_attacker_is_refused(send, client_key, attacker_key, token):
    proof = proof_by(client_key, token, sign_with=attacker_key)
    assert_invalid_proof(send(proof), BAD_SIGNATURE)


def test_attackers_own_valid_proof_for_a_stolen_token_is_refused(send, attacker_key, token):
    assert_invalid_dpop_token(send(proof_by(attacker_key, token)), OTHER_KEY)


def test_point_off_the_curve_is_refused(send, client_key, token):
    jwk = public_jwk(client_key)
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=" * (-len(jwk["y"]) % 4)), "big")
    jwk["y"] = b64url(((y + 1) % 2**256).to_bytes(32, "big"))
    assert_invalid_proof(send(proof_by(client_key, token, jwk=jwk)), NOT_A_KEY)


@pytest.mark.parametrize(
    "change",
    ["drop-y", "y-number", "x-padded", "x-short", "x-not-base64url"],
)
def test_malformed_jwk_members_are_refused(send, client_key, token, change):
    jwk = public_jwk(client_key)
    if change == "drop-y":
        del jwk["y"]
    elif change == "y-number":
        jwk["y"] = 12345
    elif change == "x-padded":
        jwk["x"] += "="
    elif change == "x-short":
        jwk["x"] = jwk["x"][:-4]
    else:
        jwk["x"] = jwk["x"][:-2] + "+/"
    assert_invalid_proof(send(proof_by(client_key, token, jwk=jwk)), NOT_A_KEY)


@pytest.mark.parametrize("jwk", ["a-key-id", ["list"], None])
def test_jwk_that_is_not_an_object_is_refused(send, client_key, token, jwk):
    proof = proof_by(client_key, token, header={"jwk": jwk})
    assert_invalid_proof(send(proof), "The DPoP proof's jwk header is not a JSON object.")


def test_key_by_reference_instead_of_jwk_is_refused(send, client_key, token, jwks_server):
    proof = proof_by(
        client_key, token, drop_header=("jwk",), header={"jku": jwks_server.jwks_url, "kid": "x"}
    )
    assert_invalid_proof(send(proof), "The DPoP proof has no jwk header.")
    assert jwks_server.hits.get("/.well-known/jwks.json", 0) <= 1  # only the API's own key fetch


# --- typ and crit ---------------------------------------------------------------------------------


@pytest.mark.parametrize("typ", [None, "JWT", "at+jwt", "dpop", "application/jwt", 1])
def test_typ_other_than_dpop_jwt_is_refused(send, client_key, token, typ):
    if typ is None:
        proof = proof_by(client_key, token, drop_header=("typ",))
    else:
        proof = proof_by(client_key, token, header={"typ": typ})
    assert_invalid_proof(send(proof), TYP)


def test_critical_header_extension_is_refused(send, client_key, token):
    proof = proof_by(client_key, token, header={"crit": ["exp"], "exp": 1})
    assert_invalid_proof(send(proof), "The DPoP proof uses critical header extensions.")


# --- htm and htu ----------------------------------------------------------------------------------


@pytest.mark.parametrize("htm", ["POST", "get", "GET ", "", None])
def test_htm_of_another_method_is_refused(send, client_key, token, htm):
    assert_invalid_proof(send(proof_by(client_key, token, method=htm)), HTM)


@pytest.mark.parametrize(
    "htu",
    [
        "https://testserver/api/private/",
        "http://testserver:8000/api/private/",
        "http://testserver./api/private/",
        "http://testserver.evil.test/api/private/",
        "http://evil.test/api/private/",
        "http://testserver@evil.test/api/private/",
        "http://testserver/api/private",
        "http://testserver/api/public/",
        "http://testserver/API/private/",
        "http://testserver/api%2Fprivate/",
        "http://testserver/api/private/extra",
        "/api/private/",
        "testserver/api/private/",
        "",
        42,
    ],
)
def test_htu_look_alikes_are_refused(send, client_key, token, htu):
    assert_invalid_proof(send(proof_by(client_key, token, url=htu)), HTU)


@pytest.mark.parametrize(
    "htu",
    [
        "HTTP://TESTSERVER/api/private/",
        "http://testserver:80/api/private/",
        "http://testserver/api/private/?a=1#frag",
        "http://testserver/api/%70rivate/",
    ],
)
def test_htu_equal_after_rfc_3986_normalisation_is_accepted(send, client_key, token, htu):
    assert_dpop_accepted(send(proof_by(client_key, token, url=htu)))


# --- iat ------------------------------------------------------------------------------------------


def test_stale_iat_is_refused(send, client_key, token):
    assert_invalid_proof(
        send(proof_by(client_key, token, now=NOW - 301)),
        "The DPoP proof is too old: its iat is more than 300 seconds ago.",
    )


def test_future_iat_is_refused(send, client_key, token):
    assert_invalid_proof(
        send(proof_by(client_key, token, now=NOW + 31)),
        "The DPoP proof's iat claim is in the future.",
    )


@pytest.mark.parametrize("iat", [str(NOW), True, None, [NOW], {"t": NOW}])
def test_iat_that_is_not_a_number_is_refused(send, client_key, token, iat):
    assert_invalid_proof(send(proof_by(client_key, token, iat=iat)), IAT_NOT_NUMBER)


def test_iat_overflowing_a_float_is_refused(send, client_key, token):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(client_key)}
    claims = json.dumps(proof_claims(token=token, now=NOW)).replace(str(NOW), "1" + "0" * 400)
    proof = compact(header, claims.encode(), client_key, alg="ES256")
    assert_invalid_proof(send(proof), IAT_NOT_NUMBER)


# --- Missing and malformed claims -----------------------------------------------------------------


@pytest.mark.parametrize("claim", ["jti", "htm", "htu", "iat", "ath"])
def test_missing_claim_is_refused(send, client_key, token, claim):
    proof = proof_by(client_key, token, drop=(claim,))
    assert_invalid_proof(send(proof), f"The DPoP proof has no {claim} claim.")


@pytest.mark.parametrize("jti", ["", 7, None, "x" * 257])
def test_malformed_jti_is_refused(send, client_key, token, jti):
    assert_invalid_proof(send(proof_by(client_key, token, jti=jti)), JTI)


def test_ath_of_another_token_is_refused(send, client_key, token, make_token):
    other = make_token(sub="auth0|other", cnf={"jkt": thumbprint(client_key)})
    assert_invalid_proof(send(proof_by(client_key, token, ath=access_token_hash(other))), ATH)


@pytest.mark.parametrize("ath", [None, 1, "", "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"])
def test_malformed_or_foreign_ath_is_refused(send, client_key, token, ath):
    assert_invalid_proof(send(proof_by(client_key, token, ath=ath)), ATH)


def test_ath_of_the_token_hex_encoded_is_refused(send, client_key, token):
    ath = hashlib.sha256(token.encode()).hexdigest()
    assert_invalid_proof(send(proof_by(client_key, token, ath=ath)), ATH)


# --- The token's key binding (cnf.jkt) ------------------------------------------------------------


def test_token_without_cnf_is_refused_under_dpop(send, client_key, make_token):
    plain = make_token()
    assert_invalid_dpop_token(send(proof_by(client_key, plain), access_token=plain), NOT_BOUND)


@pytest.mark.parametrize("cnf", ["jkt", {"jkt": ""}, {"jkt": 1}, {"x5t#S256": "abc"}, []])
def test_token_with_a_malformed_cnf_is_refused_under_dpop(send, client_key, make_token, cnf):
    bad = make_token(cnf=cnf)
    assert_invalid_dpop_token(send(proof_by(client_key, bad), access_token=bad), NOT_BOUND)


def test_token_bound_to_another_key_is_refused(send, client_key, attacker_key, make_token):
    theirs = make_token(cnf={"jkt": thumbprint(attacker_key)})
    assert_invalid_dpop_token(send(proof_by(client_key, theirs), access_token=theirs), OTHER_KEY)


def test_bound_token_stolen_and_sent_as_bearer_is_refused(api_client, token):
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(token)),
        "The token is bound to a DPoP key (cnf claim), so it cannot be used as a Bearer token.",
    )


def test_forged_token_with_a_valid_proof_is_refused(send, client_key, make_token, other_rsa_key):
    forged = make_token(key=other_rsa_key, cnf={"jkt": thumbprint(client_key)})
    assert_invalid_dpop_token(
        send(proof_by(client_key, forged), access_token=forged),
        "The token's signature is invalid.",
    )


# --- Replays --------------------------------------------------------------------------------------


def test_replayed_proof_is_refused_every_time(send, client_key, token):
    proof = proof_by(client_key, token)
    assert_dpop_accepted(send(proof))
    for _ in range(3):
        assert_invalid_proof(send(proof), REPLAYED)


def test_same_jti_in_a_new_proof_of_the_same_key_is_refused(send, client_key, token, wall_clock):
    assert_dpop_accepted(send(proof_by(client_key, token, jti="fixed")))
    wall_clock.advance(10)
    assert_invalid_proof(send(proof_by(client_key, token, jti="fixed", now=NOW + 10)), REPLAYED)


def test_another_clients_jti_does_not_block_this_client(send, client_key, attacker_key, make_token):
    theirs = make_token(cnf={"jkt": thumbprint(attacker_key)})
    assert_dpop_accepted(send(proof_by(attacker_key, theirs, jti="shared"), access_token=theirs))
    mine = make_token(cnf={"jkt": thumbprint(client_key)})
    assert_dpop_accepted(send(proof_by(client_key, mine, jti="shared"), access_token=mine))


def test_rejected_proof_does_not_use_up_its_jti(send, client_key, token):
    assert_invalid_proof(send(proof_by(client_key, token, jti="j", method="POST")), HTM)
    assert_dpop_accepted(send(proof_by(client_key, token, jti="j")))


# --- Oversized, nested and malformed proofs; header grammar ---------------------------------------


def test_oversized_proof_is_refused(send, client_key, token):
    proof = proof_by(client_key, token, padding="x" * 4096)
    assert_invalid_proof(send(proof), "The DPoP proof is longer than 4096 characters.")


def test_deeply_nested_payload_is_refused_not_a_500(send, client_key):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(client_key)}
    proof = compact(header, b"[" * 1100 + b"]" * 1100, client_key, alg="ES256")
    assert_invalid_proof(send(proof), "The DPoP proof's payload is not a JSON object.")


def test_deeply_nested_header_is_refused_not_a_500(send):
    header = b"[" * 1100 + b"]" * 1100
    proof = ".".join([b64url(header), b64url(b"{}"), b64url(b"sig")])
    assert_invalid_proof(send(proof), "The DPoP proof's header is not a JSON object.")


def test_proof_whose_payload_is_another_jwt_is_refused(send, client_key, token):
    inner = proof_by(client_key, token)
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(client_key), "cty": "JWT"}
    proof = compact(header, inner.encode(), client_key, alg="ES256")
    assert_invalid_proof(send(proof), "The DPoP proof's payload is not a JSON object.")


@pytest.mark.parametrize(
    ("proof", "detail"),
    [
        ("", "The DPoP header is empty."),
        ("a.b.c.d.e", "The DPoP proof must be a signed JWT (JWS), not an encrypted one."),
        ("a.b", NOT_ONE_JWS),
        ("a.b.c d", NOT_ONE_JWS),
        ("a.b.c=", NOT_ONE_JWS),
    ],
)
def test_proof_that_is_not_one_jws_is_a_400(send, proof, detail):
    assert_invalid_dpop_request(send(proof), detail)


def test_two_dpop_headers_are_a_400(send, client_key, token):
    first, second = proof_by(client_key, token), proof_by(client_key, token)
    assert_invalid_dpop_request(
        send(f"{first},{second}"), "Send exactly one DPoP header holding one proof."
    )


def test_no_dpop_header_is_a_400(send):
    assert_invalid_dpop_request(
        send(None), "A DPoP request needs exactly one DPoP header holding a proof."
    )


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("DPoP", "The Authorization header has no token after DPoP."),
        ("DPoP a.b.c d.e.f", "The Authorization header must hold exactly one token."),
        ("DPoP a.b.c\u00a0", "The access token contains characters that are not allowed."),
    ],
)
def test_dpop_authorization_grammar_errors_are_a_400(api_client, authorization, detail):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=authorization, HTTP_DPOP="a.b.c")
    assert_invalid_dpop_request(response, detail)


def test_header_that_is_not_json_is_refused(send):
    proof = ".".join([b64url(b"not json"), b64url(b"{}"), b64url(b"sig")])
    assert_invalid_proof(send(proof), "The DPoP proof's header is not a JSON object.")


def test_payload_that_is_not_json_is_refused(send, client_key):
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(client_key)}
    proof = compact(header, b"\xff\xfe not json", client_key, alg="ES256")
    assert_invalid_proof(send(proof), "The DPoP proof's payload is not a JSON object.")


def test_truncated_signature_is_refused(send, client_key, token):
    proof = proof_by(client_key, token)
    assert_invalid_proof(send(proof[:-5]), BAD_SIGNATURE)


def test_signature_of_impossible_length_is_refused(send, client_key, token):
    proof = proof_by(client_key, token)
    assert_invalid_proof(send(proof.rpartition(".")[0] + ".A"), BAD_SIGNATURE)


# --- Server nonces (AUTH0_DPOP_NONCE=on) ----------------------------------------------------------

USE_NONCE = (
    "The DPoP proof's nonce is not current: sign the DPoP-Nonce of this answer into a new proof."
)


@pytest.fixture
def nonces_on(settings, wall_clock):
    settings.AUTH0 = {**settings.AUTH0, "DPOP_NONCE": "on"}
    reset_dpop_verifier(build_dpop_verifier(now=wall_clock))
    from auth0_jwt.runtime import get_dpop_verifier

    return get_dpop_verifier()


@pytest.mark.parametrize(
    "nonce",
    [
        "forged",
        f"{NOW // 60}.AAAAAAAAAAAAAAAAAAAAAAAA",  # this window, a made-up MAC
        f"{NOW // 60 + 1}.AAAAAAAAAAAAAAAAAAAAAAAA",  # a future window
        "x" * 65,
        42,
    ],
)
def test_forged_nonce_is_refused_with_the_current_one(send, client_key, token, nonces_on, nonce):
    response = send(proof_by(client_key, token, nonce=nonce))
    assert response.status_code == 401
    assert response.json() == {"detail": USE_NONCE}
    assert response["WWW-Authenticate"] == (
        f'DPoP algs="ES256", error="use_dpop_nonce", error_description="{USE_NONCE}"'
    )
    assert response["DPoP-Nonce"] == nonces_on.current_nonce()


def test_nonce_of_another_deployment_is_refused(send, client_key, token, nonces_on):
    from auth0_jwt.dpop import DPoPVerifier

    theirs = DPoPVerifier(nonce_secret=b"another deployment", now=lambda: NOW).current_nonce()
    assert send(proof_by(client_key, token, nonce=theirs))["WWW-Authenticate"].startswith(
        'DPoP algs="ES256", error="use_dpop_nonce"'
    )


def test_current_nonce_is_accepted_once(send, client_key, token, nonces_on):
    proof = proof_by(client_key, token, nonce=nonces_on.current_nonce())
    assert_dpop_accepted(send(proof))
    assert_invalid_proof(send(proof), REPLAYED)
