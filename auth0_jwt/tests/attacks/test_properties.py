"""Property-based attacks with hypothesis: whatever the header or the claims, the answer is a
correct 200, or a 400/401/403 with its RFC 6750 challenge; never an exception, never a 500.

The claims oracle below restates the rules the README lists (RFC 7519 with a 60 s leeway), not
the verifier's code. Times within MARGIN (5 s) of a leeway boundary may go either way.
"""

import json
import math
import time

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from auth0_jwt.keystore import JWKSError, SigningKey, parse_jwks
from auth0_jwt.runtime import build_token_verifier, reset_token_verifier
from auth0_jwt.tests.attacks.support import PRIVATE, SCOPED, claims
from auth0_jwt.tests.attacks.test_algorithms import ec_jwk
from conftest import AUDIENCE, ISSUER, KID, bearer, public_jwk, sign_compact

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
LEEWAY = 60
MARGIN = 5  # seconds: a loaded machine may take that long between signing and checking
B64TOKEN_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/="
ABSENT = object()


def challenge_of(response) -> str:
    return response.get("WWW-Authenticate", "")


def assert_rfc6750_answer(response, *, allowed=(400, 401, 403)):
    """The answer is one of the documented failures, each with its challenge, or a 200."""
    status = response.status_code
    assert status in (200, *allowed), (status, response.content)
    if status == 200:
        return
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail
    challenge = challenge_of(response)
    if status == 400:
        assert challenge == (
            f'Bearer realm="api", error="invalid_request", error_description="{detail}"'
        )
    elif status == 401 and detail == "Authentication credentials were not provided.":
        assert challenge == 'Bearer realm="api", DPoP algs="ES256"'
    elif status == 401:
        assert challenge.startswith('Bearer realm="api", error="invalid_token", error_description=')
    else:
        assert challenge == 'Bearer realm="api", error="insufficient_scope", scope="read:messages"'


# --- Arbitrary Authorization headers --------------------------------------------------------------

# A WSGI server hands Django each header byte as one latin-1 character.
header_bytes = st.binary(max_size=400).map(lambda raw: raw.decode("latin-1"))
latin1_text = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=200)
bearerish = st.builds(
    lambda scheme, separator, token, tail: scheme + separator + token + tail,
    st.sampled_from(["Bearer", "bearer", "BEARER", "Bearer:", "Basic", "", "Bearer\xa0"]),
    st.text(" \t\xa0\x85\x0b", max_size=3),
    st.text(B64TOKEN_ALPHABET, max_size=300),
    latin1_text.filter(lambda text: len(text) < 8),
)


@PROPERTY
@given(header=st.one_of(header_bytes, latin1_text, bearerish))
def test_any_authorization_header_is_a_400_or_401_with_its_challenge(api_client, header):
    for path in (PRIVATE, SCOPED):
        response = api_client.get(path, HTTP_AUTHORIZATION=header)
        assert_rfc6750_answer(response, allowed=(400, 401))


def casings(word):
    return st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in word]).map("".join)


http_whitespace = st.text(" \t", max_size=3)


@PROPERTY
@given(
    scheme=casings("Bearer"),
    before=http_whitespace,
    separator=st.text(" \t", min_size=1, max_size=3),
    after=http_whitespace,
)
def test_valid_token_stays_valid_under_any_casing_of_bearer(
    api_client, make_token, scheme, before, separator, after
):
    header = f"{before}{scheme}{separator}{make_token(scope='read:messages')}{after}"
    for path in (PRIVATE, SCOPED):
        response = api_client.get(path, HTTP_AUTHORIZATION=header)
        assert response.status_code == 200, (header[:20], response.content)


@PROPERTY
@given(
    scheme=casings("Bearer"),
    separator=st.text(" \t\xa0\x85\x0b\x0c\x1c\x1d\x1e\x1f\u3000\u2028", min_size=1, max_size=3),
)
def test_valid_token_after_non_http_whitespace_is_never_accepted(
    api_client, make_token, scheme, separator
):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"{scheme}{separator}{make_token()}")
    if set(separator) <= {" ", "\t"}:
        assert response.status_code == 200
    else:
        assert_rfc6750_answer(response, allowed=(400, 401))
        assert response.status_code != 200


# --- Signed tokens with arbitrary claims ----------------------------------------------------------


def strings(special, *, max_size):
    """Any Unicode text (lone surrogates included), often with the `special` characters."""
    # A joined list: st.text would fold this alphabet into ranges and drop the surrogates.
    alphabet = st.one_of(st.characters(exclude_categories=[]), st.sampled_from(special))
    return st.lists(alphabet, max_size=max_size).map("".join)


text = strings("|. \t\x00\x1b\x7f\x85\u2028\ud800\udbff\udc00\udfff", max_size=12)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    text,
    # Edges a generator rarely reaches by itself: beyond a float, beyond int64, not UTF-8-able.
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 1e308, "\ud800", "\x00"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(text, children, max_size=4)
    ),
    max_leaves=12,
)


def time_claim():
    """A time claim as ("offset", seconds from now) or ("value", any JSON), or ABSENT."""
    offsets = st.one_of(st.integers(-7200, 7200), st.integers(-90, 90), st.floats(-7200, 7200)).map(
        lambda seconds: ("offset", seconds)
    )
    edges = st.sampled_from([10**400, -(10**400), 1e308, float("nan"), True, "0", None])
    return st.one_of(
        offsets,
        st.just(ABSENT),
        st.one_of(edges, json_values).map(lambda value: ("value", value)),
    )


def choice(*variants):
    return st.one_of(st.just(ABSENT), json_values, st.sampled_from(variants))


# A valid token for the scoped endpoint; each example changes a few of its claims.
VALID_SPECS = {
    "exp": ("offset", 3600),
    "iat": ("offset", 0),
    "iss": ISSUER,
    "aud": AUDIENCE,
    "sub": "auth0|user-1",
    "scope": "openid read:messages",
}
CLAIM_STRATEGIES = {
    "exp": time_claim(),
    "nbf": time_claim(),
    "iat": time_claim(),
    "iss": choice(ISSUER, ISSUER.rstrip("/"), ISSUER.upper(), ISSUER + "/"),
    "aud": choice(AUDIENCE, [AUDIENCE], ["x", AUDIENCE], [AUDIENCE, 1], "client-id", []),
    "sub": st.one_of(
        choice("auth0|other", "", " ", "x" * 255, "x" * 256),
        text,
    ),
    "scope": choice("read:messages", "read:message", "", "READ:MESSAGES"),
    "permissions": choice(["read:messages"], [], ["read:messages", 1], "read:messages"),
    "jti": choice("id-1", 1),
}


@st.composite
def claim_specs(draw):
    specs = dict(VALID_SPECS)
    for name in draw(st.lists(st.sampled_from(sorted(CLAIM_STRATEGIES)), unique=True, max_size=3)):
        specs[name] = draw(CLAIM_STRATEGIES[name])
    return specs


extra_claims = st.dictionaries(
    text.filter(lambda name: name not in claims()), json_values, max_size=3
)
extra_header = st.dictionaries(
    st.one_of(
        st.sampled_from(["typ", "cty", "jku", "x5u", "jwk", "x5c", "x5t", "zip"]), text
    ).filter(lambda name: name not in ("alg", "kid", "crit", "b64")),
    json_values,
    max_size=3,
)


def build_payload(specs, extras, moment):
    payload = dict(extras)
    for name, spec in specs.items():
        if spec is ABSENT:
            continue
        if isinstance(spec, tuple) and spec[0] == "offset":
            payload[name] = moment + spec[1]
        elif isinstance(spec, tuple) and spec[0] == "value":
            payload[name] = spec[1]
        else:
            payload[name] = spec
    return payload


def is_number(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(float(value))
    except OverflowError:
        return False


def expected_verdict(payload, moment):
    """ "accept", "reject", or "either" (a time within MARGIN of a leeway boundary)."""
    verdicts = set()
    for name in ("exp", "nbf", "iat"):
        if name in payload and not is_number(payload[name]):
            return "reject"
    if "exp" not in payload:
        return "reject"
    verdicts.add(_time_verdict(moment - payload["exp"], LEEWAY))  # expired LEEWAY s ago
    for name in ("nbf", "iat"):
        if name in payload:
            verdicts.add(_time_verdict(payload[name] - moment, LEEWAY))  # LEEWAY s early
    if payload.get("iss") != ISSUER:
        return "reject"
    aud = payload.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud
    if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
        return "reject"
    if AUDIENCE not in audiences:
        return "reject"
    sub = payload.get("sub")
    if not isinstance(sub, str) or not sub.strip() or len(sub) > 255:
        return "reject"
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in sub):
        return "reject"
    if not isinstance(payload.get("scope", ""), str):
        return "reject"
    permissions = payload.get("permissions", [])
    if not isinstance(permissions, list) or not all(isinstance(p, str) for p in permissions):
        return "reject"
    if "jti" in payload and not isinstance(payload["jti"], str):
        return "reject"
    if "reject" in verdicts:
        return "reject"
    return "either" if "either" in verdicts else "accept"


def _time_verdict(lateness, leeway):
    """How a claim `lateness` seconds past its limit fares with `leeway`, MARGIN for clock drift."""
    if lateness < leeway - MARGIN:
        return "accept"
    if lateness > leeway + MARGIN:
        return "reject"
    return "either"


def has_read_messages(payload):
    scopes = payload.get("scope", "").split() + payload.get("permissions", [])
    return "read:messages" in scopes


@PROPERTY
@given(specs=claim_specs(), extras=extra_claims, header_extras=extra_header)
def test_signed_token_with_arbitrary_claims_is_answered_as_the_rules_say(
    api_client, rsa_key, specs, extras, header_extras
):
    moment = time.time()
    encoded = json.dumps(build_payload(specs, extras, moment)).encode()
    payload = json.loads(encoded)  # as the API reads it (surrogate pairs joined, ...)
    header = {**header_extras, "alg": "RS256", "kid": KID}
    token = sign_compact(header, encoded, rsa_key)
    verdict = expected_verdict(payload, moment)
    for attempt in ("first", "cached"):  # the verified-token cache must answer the same
        response = api_client.get(SCOPED, **bearer(token))
        assert_rfc6750_answer(response, allowed=(401, 403))
        if verdict == "reject":
            assert response.status_code == 401, (attempt, payload, response.content)
        elif verdict == "accept":
            expected = 200 if has_read_messages(payload) else 403
            assert response.status_code == expected, (attempt, payload, response.content)
        if response.status_code == 200:
            assert response.json()["sub"] == payload["sub"]
    event(f"{verdict}: {response.status_code}")


@PROPERTY
@given(payload=st.binary(max_size=300))
def test_signed_token_with_an_arbitrary_payload_is_a_401(api_client, rsa_key, payload):
    response = api_client.get(
        PRIVATE, **bearer(sign_compact({"alg": "RS256", "kid": KID}, payload, rsa_key))
    )
    assert response.status_code == 401
    assert_rfc6750_answer(response, allowed=(401,))


@PROPERTY
@given(header=json_values, payload=json_values)
def test_signed_token_with_an_arbitrary_header_and_payload_is_a_401(
    api_client, rsa_key, header, payload
):
    token = sign_compact(header, json.dumps(payload).encode(), rsa_key)
    response = api_client.get(PRIVATE, **bearer(token))
    assert response.status_code == 401
    assert_rfc6750_answer(response, allowed=(401,))


def acceptable_subject(sub):
    unsafe = any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in sub)
    return bool(sub.strip()) and not unsafe and len(sub) <= 255


@PROPERTY
@given(sub=strings("|.@ \t\x00\x1b\x7f\x85\u2028\ud800\udbff\udc00\udfff", max_size=40))
def test_any_subject_is_echoed_exactly_or_refused(api_client, rsa_key, sub):
    token = sign_compact(
        {"alg": "RS256", "kid": KID}, json.dumps(claims(sub=sub)).encode(), rsa_key
    )
    response = api_client.get(PRIVATE, **bearer(token))
    assert_rfc6750_answer(response, allowed=(401,))
    sub = json.loads(json.dumps(sub))  # as the API reads it: JSON joins "\ud800\udc00" pairs
    if acceptable_subject(sub):
        assert response.json() == {
            "message": "Hello from a private endpoint! You need to be authenticated to see this.",
            "sub": sub,
        }
    else:
        assert response.status_code == 401


# --- Arbitrary key sets ---------------------------------------------------------------------------

JWK_FIELDS = ["kid", "kty", "use", "key_ops", "alg", "n", "e", "x5c", "crv", "x", "y", "d"]
JWK_VALUES = st.one_of(json_values, st.sampled_from(["RSA", "EC", "sig", "enc", "AQAB", "P-256"]))


@st.composite
def jwks_documents(draw, real_keys):
    """Arbitrary JSON, or a key set of real JWKs with fields dropped or replaced, and junk."""
    if draw(st.booleans()):
        return draw(json_values)
    entries = []
    for base in draw(st.lists(st.sampled_from([*real_keys, None]), max_size=3)):
        if base is None:
            entries.append(draw(json_values))
            continue
        entry = dict(base)
        for name in draw(st.sets(st.sampled_from(sorted(entry)), max_size=2)):
            del entry[name]
        entry.update(draw(st.dictionaries(st.sampled_from(JWK_FIELDS), JWK_VALUES, max_size=3)))
        entries.append(entry)
    return {"keys": entries}


@PROPERTY
@given(data=st.data())
def test_any_key_set_document_yields_keys_or_a_jwks_error(rsa_key, ec_key, data):
    real_keys = [public_jwk(rsa_key), ec_jwk(ec_key)]
    document = data.draw(jwks_documents(real_keys))
    for algorithms in (("RS256",), ("RS256", "ES256"), ("PS256", "ES384")):
        try:
            keys, _ = parse_jwks(document, algorithms=algorithms)
        except JWKSError:
            continue
        assert keys and all(isinstance(key, SigningKey) for key in keys.values())


@settings(PROPERTY, max_examples=50)  # each example is a real JWKS fetch (~20-50 ms)
@given(data=st.data())
def test_any_key_set_served_by_the_idp_gives_a_200_401_or_503(
    api_client, rsa_key, ec_key, make_token, jwks_server, clock, data
):
    real_jwk = public_jwk(rsa_key)
    document = data.draw(jwks_documents([real_jwk, ec_jwk(ec_key)]))
    jwks_server.document = document
    reset_token_verifier(build_token_verifier(clock=clock))
    response = api_client.get(PRIVATE, **bearer(make_token()))
    assert response.status_code in (200, 401, 503), response.content
    if response.status_code == 200:
        assert any(
            isinstance(entry, dict)
            and entry.get("kid") == KID
            and (entry.get("n"), entry.get("e")) == (real_jwk["n"], real_jwk["e"])
            for entry in document["keys"]
        )
    elif response.status_code == 401:
        assert_rfc6750_answer(response, allowed=(401,))
