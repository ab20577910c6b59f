"""Property-based DPoP attacks with hypothesis: proofs whose header fields and claims are each drawn
from the honest value, hostile values or absence. The oracle restates RFC 9449 section 4.3: the
request is accepted exactly when every drawn part is honest; otherwise the answer is a 401
`invalid_dpop_proof` with the DPoP challenge. Raw DPoP header values get a 400 or a 401, never a
500 and never a 200.
"""

import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from auth0_jwt.dpop import access_token_hash
from auth0_jwt.runtime import build_dpop_verifier, reset_dpop_verifier
from auth0_jwt.tests.dpop_support import (
    DPOP_CHALLENGE,
    PRIVATE_URL,
    WallClock,
    compact,
    public_jwk,
    thumbprint,
)

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
NOW = 1_900_000_000
HONEST = object()
ABSENT = object()
CLIENT_KEY = ec.generate_private_key(ec.SECP256R1())
OTHER_KEY = ec.generate_private_key(ec.SECP256R1())

hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


BAD_VALUES = {
    "typ": ("JWT", "dpop", "at+jwt"),
    "alg": ("none", "HS256", "RS256", "ES384"),
    "jwk": (public_jwk(OTHER_KEY), {**public_jwk(CLIENT_KEY), "d": "AQAB"}, {"kty": "EC"}),
    "htm": ("POST", "get"),
    "htu": ("https://testserver/api/private/", "http://testserver/api/private"),
    "iat": (NOW - 301, NOW + 31, str(NOW), NOW - 299, NOW + 29),
    "ath": ("", access_token_hash("other")),
    "jti": ("", "x" * 257),
}
HEADER_FIELDS = ("typ", "alg", "jwk")


# Proof ids the API has already seen in this run: the replay store keeps them across examples.
SEEN_JTIS: set[str] = set()


def still_acceptable(name, value) -> bool:
    """A drawn value that happens to be valid: an iat inside the window (300 s back, 30 s ahead)
    or an unused jti of 1 to 256 characters."""
    if name == "iat":
        number = isinstance(value, int) and not isinstance(value, bool)
        return number and NOW - 300 <= value <= NOW + 30
    if name == "jti" and isinstance(value, str) and 1 <= len(value) <= 256:
        fresh = value not in SEEN_JTIS
        SEEN_JTIS.add(value)
        return fresh
    return False


@pytest.fixture
def token(make_token):
    return make_token(cnf={"jkt": thumbprint(CLIENT_KEY)})


@PROPERTY
@given(
    # Nothing broken (the honest proof, each time with a new jti) or one to three fields.
    broken=st.one_of(
        st.just(frozenset()), st.sets(st.sampled_from(sorted(BAD_VALUES)), min_size=1, max_size=3)
    ),
    data=st.data(),
)
def test_any_proof_is_accepted_only_when_every_part_is_honest(api_client, token, broken, data):
    reset_dpop_verifier(build_dpop_verifier(now=WallClock(NOW)))
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(CLIENT_KEY)}
    claims = {
        "jti": uuid.uuid4().hex,
        "htm": "GET",
        "htu": PRIVATE_URL,
        "iat": NOW,
        "ath": access_token_hash(token),
    }
    honest = True
    for name in sorted(broken):
        value = data.draw(
            st.one_of(st.sampled_from(BAD_VALUES[name]), hostile_values, st.just(ABSENT)),
            label=name,
        )
        target = header if name in HEADER_FIELDS else claims
        if value is ABSENT:
            del target[name]
        else:
            target[name] = value
        honest = honest and still_acceptable(name, value)
    proof = compact(header, claims, CLIENT_KEY, alg="ES256")
    response = api_client.get("/api/private/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
    event("accepted" if honest else "refused")
    if honest:
        assert response.status_code == 200, response.content
        return
    assert response.status_code == 401, (header, claims, response.content)
    detail = response.json()["detail"]
    assert response["WWW-Authenticate"] == (
        f'{DPOP_CHALLENGE}, error="invalid_dpop_proof", error_description="{detail}"'
    )


dpop_header_values = st.one_of(
    st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
    st.text(st.sampled_from("abcXYZ019-_.,= \t"), max_size=300),
)


@PROPERTY
@given(raw=dpop_header_values)
def test_any_dpop_header_value_is_a_400_or_401_never_a_500(api_client, token, raw):
    response = api_client.get("/api/private/", HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=raw)
    assert response.status_code in (400, 401), (raw, response.content)
    detail = response.json()["detail"]
    error = "invalid_request" if response.status_code == 400 else "invalid_dpop_proof"
    assert response["WWW-Authenticate"] == (
        f'{DPOP_CHALLENGE}, error="{error}", error_description="{detail}"'
    )
