"""Token metrics through real requests: every token counted once, accepted or rejected with a
stable reason code, cache hits and misses, the duration of first-seen verifications; and no label
ever holds a token, a kid or free text."""

import time

import jwt
import pytest
from prometheus_client import REGISTRY

from auth0_jwt.metrics import REJECTION_REASONS
from conftest import AUDIENCE, ISSUER, bearer

pytestmark = pytest.mark.django_db

PRIVATE = "/api/private/"


def snapshot() -> dict:
    """Every auth0_jwt sample now, by (name, labels)."""
    values = {}
    for family in REGISTRY.collect():
        if family.name.startswith("auth0_jwt_"):
            for sample in family.samples:
                values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def changes(before: dict, names=("auth0_jwt_tokens_total", "auth0_jwt_token_cache_total")):
    """What moved since `before` among the counters `names`, as {(name, labels...): delta}; the
    `issuer` label is left out of the key when it is the test's configured issuer (and kept, so
    that the comparison fails, when it is anything else)."""
    moved = {}
    for (name, labels), value in snapshot().items():
        delta = value - before.get((name, labels), 0.0)
        if name in names and delta:
            shown = [v for k, v in labels if not (k == "issuer" and v == ISSUER)]
            moved[(name, *shown)] = delta
    return moved


def verify_count() -> float:
    return REGISTRY.get_sample_value("auth0_jwt_verify_seconds_count") or 0.0


def test_a_first_seen_token_is_a_miss_then_each_repeat_a_hit(api_client, make_token):
    token = make_token()
    before, verified = snapshot(), verify_count()
    assert api_client.get(PRIVATE, **bearer(token)).status_code == 200
    assert changes(before) == {
        ("auth0_jwt_tokens_total", "accepted", "none"): 1,
        ("auth0_jwt_token_cache_total", "miss"): 1,
    }
    assert verify_count() == verified + 1

    before = snapshot()
    for _ in range(3):
        assert api_client.get(PRIVATE, **bearer(token)).status_code == 200
    assert changes(before) == {
        ("auth0_jwt_tokens_total", "accepted", "none"): 3,
        ("auth0_jwt_token_cache_total", "hit"): 3,
    }
    assert verify_count() == verified + 1  # hits are not verifications


def hs256(claims: dict) -> str:
    return jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"kid": "test-key-1"})


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda make: make(exp=int(time.time()) - 3600), "expired"),
        (lambda make: make(nbf=int(time.time()) + 3600), "not_yet_valid"),
        (lambda make: make(aud="https://other.example.test/"), "bad_audience"),
        (lambda make: make(iss="https://evil.example.test/"), "bad_issuer"),
        (lambda make: make()[:-4] + "AAAA", "bad_signature"),
        (lambda make: make(kid="no-such-key"), "unknown_kid"),
        (lambda make: make(kid=None), "missing_kid"),
        (lambda make: make(drop=("sub",)), "missing_claim"),
        (lambda make: make(exp="tomorrow"), "bad_claim"),
        (lambda make: "not.a-token", "malformed"),
        (lambda make: "a.b.c.d.e", "encrypted"),
        (lambda make: hs256({"iss": ISSUER, "aud": AUDIENCE, "sub": "x"}), "disallowed_alg"),
        (lambda make: make(headers={"crit": ["exp"]}), "critical_header"),
    ],
)
def test_each_rejection_is_counted_once_under_its_code(api_client, make_token, make, reason):
    token = make(make_token)
    before = snapshot()
    response = api_client.get(PRIVATE, **bearer(token))
    assert response.status_code == 401
    # A token of an issuer that is not configured is counted under the fixed "unconfigured" label.
    issuer = ("unconfigured",) if reason == "bad_issuer" else ()
    assert changes(before) == {
        ("auth0_jwt_tokens_total", *issuer, "rejected", reason): 1,
        ("auth0_jwt_token_cache_total", "miss"): 1,
    }
    assert reason in REJECTION_REASONS


def test_a_token_that_cannot_be_verified_yet_is_counted_as_keys_unavailable(
    api_client, make_token, jwks_server
):
    jwks_server.status = 503
    before = snapshot()
    assert api_client.get(PRIVATE, **bearer(make_token())).status_code == 503
    assert changes(before) == {
        ("auth0_jwt_tokens_total", "rejected", "keys_unavailable"): 1,
        ("auth0_jwt_token_cache_total", "miss"): 1,
    }


def test_with_the_cache_off_tokens_are_counted_but_no_lookups(api_client, make_token, settings):
    settings.AUTH0 = {**settings.AUTH0, "TOKEN_CACHE_SIZE": 0}
    token = make_token()
    before = snapshot()
    for _ in range(2):
        assert api_client.get(PRIVATE, **bearer(token)).status_code == 200
    assert changes(before) == {("auth0_jwt_tokens_total", "accepted", "none"): 2}


def test_no_label_holds_a_token_a_kid_or_a_sentence(client, api_client, make_token):
    kid = "attacker-chosen-kid-7f3a"
    token = make_token(kid=kid)
    api_client.get(PRIVATE, **bearer(token))
    api_client.get(PRIVATE, **bearer(make_token(aud="https://other.example.test/")))
    text = client.get("/metrics").content.decode()
    assert kid not in text
    assert token.split(".")[0] not in text
    assert "not this API" not in text
    for family in REGISTRY.collect():
        if family.name.startswith("auth0_jwt_tokens"):
            assert {s.labels["reason"] for s in family.samples} <= {*REJECTION_REASONS, "none"}
