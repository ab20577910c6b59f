"""Identity-provider faults, end to end: the JWKS endpoint down, failing, slow, malformed or
rotating keys, and floods of unknown kids. Tokens get a 503 only while no key set was ever
loaded; afterwards the last good keys keep serving; and the IdP is never hammered.

Extends test_authentication.py (HTTP 500 at start, recovery from it, a rotated key) and
test_keystore.py (the same rules against the key store alone).
"""

import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from rest_framework.test import APIClient

from auth0_jwt.tests.attacks.support import (
    PRIVATE,
    UNKNOWN_KEY,
    assert_accepted,
    assert_invalid_token,
    assert_keys_unavailable,
    claims,
    rs256,
)
from conftest import KID, bearer, public_jwk

pytestmark = pytest.mark.django_db

INTERVAL = 30  # AUTH0_JWKS_MIN_REFETCH_INTERVAL in the test settings
LIFETIME = 600  # AUTH0_JWKS_CACHE_LIFETIME

# What a failing JWKS endpoint answers: (status, raw body), all with the JWKS path.
BAD_ANSWERS = {
    "http-500": (500, b'{"keys": []}'),
    "http-502": (502, b"<html>Bad Gateway</html>"),
    "http-503": (503, b""),
    "http-429": (429, b'{"error": "too_many_requests"}'),
    "http-404": (404, b"not found"),
    "invalid-json": (200, b'{"keys": [{"kty": "RSA",'),
    "html": (200, b"<html>maintenance</html>"),
    "empty-body": (200, b""),
    "not-utf8": (200, b"\xff\xfe{}"),
    "no-keys": (200, b'{"keys": []}'),
    "keys-not-a-list": (200, b'{"keys": {"kid": "test-key-1"}}'),
    "array": (200, b"[]"),
    "only-malformed-keys": (200, b'{"keys": [{"kty": "RSA", "kid": "x", "n": 5, "e": "AQAB"}]}'),
    "unhashable-kty": (200, b'{"keys": [{"kty": ["RSA"], "kid": "x"}]}'),
    "nested-too-deep": (200, b"[" * 100_000 + b"]" * 100_000),
    "over-1-mib": (200, b'{"keys": [' + b" " * (1024 * 1024) + b"]}"),
}

# Broken HTTP from a faulty IdP or proxy, byte for byte.
BROKEN_HTTP = {
    "garbage-status-line": b"garbage\r\n\r\n",
    "http-0.9-body-only": b'{"keys": []}',
    "header-line-over-64-kib": b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 70_000 + b"\r\n\r\n{}",
    "over-100-headers": b"HTTP/1.1 200 OK\r\n" + b"X-Pad: a\r\n" * 150 + b"\r\n{}",
    "broken-chunks": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    "truncated-body": b'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n{"keys": [',
    "closed-without-answer": b"",
}


def serve(jwks_server, answer):
    jwks_server.status, jwks_server.body = answer


def get(client, token):
    return client.get(PRIVATE, **bearer(token))


# --- Down or failing at start ---------------------------------------------------------------------


def test_idp_down_at_start_then_back_recovers_without_restart(
    api_client, make_token, late_jwks_server, jwks_server, configure, clock
):
    configure(JWKS_URL=late_jwks_server.url)  # nothing listens there yet: connection refused
    token = make_token()
    assert_keys_unavailable(get(api_client, token))
    assert api_client.get("/api/public/").status_code == 200

    late_jwks_server.start()
    assert_keys_unavailable(get(api_client, token))  # no retry inside the interval
    assert jwks_server.fetches == 0
    clock.advance(INTERVAL)
    assert_accepted(get(api_client, token))
    assert_accepted(get(api_client, token))
    assert jwks_server.fetches == 1


@pytest.mark.parametrize("answer", list(BAD_ANSWERS.values()), ids=list(BAD_ANSWERS))
def test_bad_jwks_answer_at_start_is_503_and_fetched_once_per_interval(
    api_client, make_token, jwks_server, clock, answer
):
    serve(jwks_server, answer)
    for _ in range(3):
        assert_keys_unavailable(get(api_client, make_token()))
    assert jwks_server.fetches == 1
    clock.advance(INTERVAL)
    assert_keys_unavailable(get(api_client, make_token()))
    assert jwks_server.fetches == 2


@pytest.mark.parametrize("answer", list(BROKEN_HTTP.values()), ids=list(BROKEN_HTTP))
def test_broken_http_from_the_jwks_host_is_503_not_500(
    api_client, make_token, raw_http_server, configure, answer
):
    # Regression: http.client's HTTPException (a bad status line, too long or too many headers,
    # broken chunks) is not an OSError; it escaped the key store as a 500 on every request.
    raw_http_server.answer = answer
    configure(JWKS_URL=raw_http_server.url)
    for _ in range(2):
        assert_keys_unavailable(get(api_client, make_token()))
    assert raw_http_server.connections == 1


def test_slow_idp_at_start_is_a_503_within_the_timeout_plus_one_second(
    api_client, make_token, jwks_server, configure
):
    timeout = 0.5
    configure(JWKS_TIMEOUT=timeout)
    jwks_server.delay = 3
    started = time.monotonic()
    response = get(api_client, make_token())
    elapsed = time.monotonic() - started
    assert_keys_unavailable(response)
    assert elapsed < timeout + 1


# --- Failing after the keys were loaded: the last good keys keep serving --------------------------


@pytest.mark.parametrize(
    "answer",
    [BAD_ANSWERS[name] for name in ("http-500", "invalid-json", "no-keys", "html")],
    ids=["http-500", "invalid-json", "no-keys", "html"],
)
def test_failed_refresh_keeps_serving_the_last_good_keys(
    api_client, make_token, jwks_server, clock, answer
):
    token = make_token()
    assert_accepted(get(api_client, token))
    serve(jwks_server, answer)
    clock.advance(LIFETIME)
    assert_accepted(get(api_client, token))
    assert_accepted(get(api_client, make_token(sub="auth0|user-2")), sub="auth0|user-2")
    assert jwks_server.fetches == 2  # one failed refresh, no retry within the interval
    serve(jwks_server, (200, None))
    clock.advance(INTERVAL)
    assert_accepted(get(api_client, token))
    assert jwks_server.fetches == 3


def test_slow_refresh_answers_from_the_stale_keys_within_the_timeout_plus_one_second(
    api_client, make_token, jwks_server, configure, clock
):
    timeout = 0.5
    configure(JWKS_TIMEOUT=timeout)
    token = make_token()
    assert_accepted(get(api_client, token))
    jwks_server.delay = 3
    clock.advance(LIFETIME)
    started = time.monotonic()
    response = get(api_client, make_token(sub="auth0|user-2"))
    elapsed = time.monotonic() - started
    assert_accepted(response, sub="auth0|user-2")
    assert elapsed < timeout + 1


# --- The key set's contents -----------------------------------------------------------------------


def test_one_malformed_key_among_good_ones_does_not_break_the_others(
    api_client, make_token, rsa_key, other_rsa_key, jwks_server
):
    broken = {"kty": "RSA", "kid": "broken", "n": "not base64!", "e": "AQAB"}
    jwks_server.publish(broken, public_jwk(rsa_key), public_jwk(other_rsa_key, kid="key-2"))
    assert_accepted(get(api_client, make_token()))
    assert_accepted(get(api_client, make_token(key=other_rsa_key, kid="key-2")))
    assert_invalid_token(get(api_client, make_token(kid="broken")), UNKNOWN_KEY)


def test_malformed_key_does_not_shadow_a_good_key_with_the_same_kid(
    api_client, make_token, rsa_key, jwks_server
):
    shadow = {"kty": "RSA", "kid": KID, "n": 12, "e": "AQAB"}
    jwks_server.publish(shadow, public_jwk(rsa_key))
    assert_accepted(get(api_client, make_token()))


def test_key_published_one_second_after_start_is_accepted_after_exactly_one_refetch(
    api_client, make_token, rsa_key, other_rsa_key, jwks_server, key_store, clock
):
    # Regression: the start-up fetch used to hold back unknown-kid refetches for the interval,
    # so a key rotated in right after start was refused for up to 30 s.
    assert key_store.refresh()  # the start-up fetch
    clock.advance(1)
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="key-2"))
    new_token = make_token(key=other_rsa_key, kid="key-2")
    for _ in range(3):
        assert_accepted(get(api_client, new_token))
    assert_accepted(get(api_client, make_token()))
    assert jwks_server.fetches == 2


def test_key_published_after_the_intervals_refetch_is_accepted_after_the_next_one(
    api_client, make_token, rsa_key, other_rsa_key, jwks_server, clock
):
    assert_accepted(get(api_client, make_token()))
    new_token = make_token(key=other_rsa_key, kid="key-2")
    assert_invalid_token(get(api_client, new_token), UNKNOWN_KEY)  # refetched: not there yet
    assert jwks_server.fetches == 2
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="key-2"))
    assert_invalid_token(get(api_client, new_token), UNKNOWN_KEY)  # still inside the interval
    assert jwks_server.fetches == 2
    clock.advance(INTERVAL)
    for _ in range(3):
        assert_accepted(get(api_client, new_token))
    assert jwks_server.fetches == 3


def test_withdrawn_key_is_rejected_once_the_cache_lifetime_passes(
    api_client, make_token, rsa_key, other_rsa_key, jwks_server, clock
):
    token = make_token()
    assert_accepted(get(api_client, token))
    jwks_server.publish(public_jwk(other_rsa_key, kid="key-2"))
    clock.advance(LIFETIME - 1)
    assert_accepted(get(api_client, token))  # the cached key set still holds the key
    clock.advance(1)
    assert_invalid_token(get(api_client, token), UNKNOWN_KEY)
    assert_invalid_token(get(api_client, make_token(sub="auth0|user-2")), UNKNOWN_KEY)
    assert_accepted(get(api_client, make_token(key=other_rsa_key, kid="key-2")))
    assert jwks_server.fetches == 3  # the refresh, then one unknown-kid refetch for the old kid


def test_key_replaced_under_the_same_kid_takes_over_at_the_refresh(
    api_client, make_token, rsa_key, other_rsa_key, jwks_server, clock
):
    old_token = make_token()
    assert_accepted(get(api_client, old_token))
    jwks_server.publish(public_jwk(other_rsa_key))  # same kid, new key material
    clock.advance(LIFETIME)
    assert_invalid_token(get(api_client, old_token), "The token's signature is invalid.")
    assert_accepted(get(api_client, make_token(key=other_rsa_key)))


# --- Many threads ---------------------------------------------------------------------------------


def run_in_threads(count, function):
    """Run `function(i)` for i in range(count) on 16 threads; return the results in order."""

    def call(index):
        try:
            return function(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=16) as pool:
        return list(pool.map(call, range(count)))


def test_flood_of_unknown_kids_from_many_threads_costs_one_fetch_per_interval(
    api_client, make_token, other_rsa_key, jwks_server, clock
):
    assert_accepted(get(api_client, make_token()))

    def bogus_request(_):
        token = rs256(other_rsa_key, claims(), kid=f"bogus-{uuid.uuid4()}")
        response = get(APIClient(), token)
        return response.status_code, json.loads(response.content)["detail"]

    jwks_server.delay = 0.2  # the refetch is slow: the other threads pile up behind it
    assert run_in_threads(96, bogus_request) == [(401, UNKNOWN_KEY)] * 96
    assert jwks_server.fetches == 2  # the start-up fetch, then one refetch
    assert run_in_threads(96, bogus_request) == [(401, UNKNOWN_KEY)] * 96
    assert jwks_server.fetches == 2
    clock.advance(INTERVAL)
    assert run_in_threads(96, bogus_request) == [(401, UNKNOWN_KEY)] * 96
    assert jwks_server.fetches == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_a_rotated_key_share_one_refetch(
    make_token, rsa_key, other_rsa_key, jwks_server, clock
):
    assert get(APIClient(), make_token()).status_code == 200  # keys loaded, user created
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="key-2"))
    jwks_server.delay = 0.3
    clock.advance(INTERVAL)
    token = make_token(key=other_rsa_key, kid="key-2")
    statuses = run_in_threads(12, lambda _: get(APIClient(), token).status_code)
    assert statuses == [200] * 12
    assert jwks_server.fetches == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_during_a_slow_refresh_share_one_fetch_and_use_the_stale_keys(
    make_token, jwks_server, clock
):
    token = make_token()
    assert get(APIClient(), token).status_code == 200
    jwks_server.delay = 0.3
    clock.advance(LIFETIME)
    statuses = run_in_threads(12, lambda i: get(APIClient(), make_token(jti=str(i))).status_code)
    assert statuses == [200] * 12
    assert jwks_server.fetches == 2
