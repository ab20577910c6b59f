"""The verified-token cache, through the verifier that uses it: hits, the time window on every hit,
the LRU bound, key withdrawal, exact keying, thread safety, configuration, and users on a hit.

The verifier runs on two injected clocks: the key store's monotonic FakeClock (`clock`) and a fake
wall clock (`wall`) for the token cache and the verifier's own exp/nbf/iat check.
"""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured

from auth0_jwt.conf import DEFAULT_TOKEN_CACHE_SIZE, load_auth0_settings
from auth0_jwt.runtime import build_token_verifier, get_token_verifier, reset_token_verifier
from auth0_jwt.token_cache import CachingTokenVerifier, VerifiedTokenCache
from auth0_jwt.verifier import MAX_TOKEN_LENGTH, TokenRejected, TokenVerifier
from conftest import KID, FakeClock, bearer, public_jwk

EXPIRED = "The token has expired."
NOT_YET_VALID = "The token is not valid yet (its nbf or iat is in the future)."
UNKNOWN_KEY = "The token was signed with a key this API does not know."
BAD_SIGNATURE = "The token's signature is invalid."


@pytest.fixture
def wall():
    """The wall clock of the verifier and its cache, starting at the real time."""
    return FakeClock(start=time.time())


@pytest.fixture
def make_verifier(settings, clock, wall):
    """Build the service's verifier with a given cache size, on the fake clocks; install it."""

    def make(size=DEFAULT_TOKEN_CACHE_SIZE):
        settings.AUTH0 = {**settings.AUTH0, "TOKEN_CACHE_SIZE": str(size)}
        verifier = build_token_verifier(clock=clock, now=wall)
        reset_token_verifier(verifier)
        return verifier

    return make


@pytest.fixture
def verifier(make_verifier):
    return make_verifier()


@pytest.fixture
def frequent_thread_switches():
    """Switch threads every microsecond, so races show up in a short test."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def rejection(verifier, token) -> str:
    with pytest.raises(TokenRejected) as excinfo:
        verifier.verify(token)
    return excinfo.value.reason


def tamper(token: str, position: int) -> str:
    """`token` with one character of its signature changed (a different signature)."""
    index = token.rindex(".") + 1 + position
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


# --- Hits -----------------------------------------------------------------------------------------


def test_repeated_token_is_served_from_the_cache_without_verifying_again(
    verifier, make_token, jwks_server
):
    token = make_token()
    first = verifier.verify(token)
    assert token in verifier.token_cache
    for _ in range(50):
        assert verifier.verify(token) is first  # the full path builds a new object every time
    assert jwks_server.fetches == 1


def test_the_verifier_itself_keeps_nothing_and_the_cache_wraps_it(verifier, make_token):
    assert isinstance(verifier, CachingTokenVerifier)
    assert isinstance(verifier.verifier, TokenVerifier)
    assert not hasattr(verifier.verifier, "token_cache")
    token = make_token()
    first = verifier.verifier.verify(token)
    assert verifier.verifier.verify(token) is not first  # verified in full every time
    assert verifier.verifier.verify(token) == first
    assert len(verifier.token_cache) == 0
    verification = verifier.verifier.verify_in_full(token)
    assert verification.key is verifier.key_store.get_key(KID)
    assert verification.valid_until == first.expires_at + 60  # exp plus the leeway
    assert verifier.verify(token) == first
    assert token in verifier.token_cache


def test_cached_tokens_share_their_common_values(verifier, make_token):
    first, second = verifier.verify(make_token(jti="one")), verifier.verify(make_token(jti="two"))
    assert first.claims["jti"] != second.claims["jti"]
    assert first.claims["iss"] is second.claims["iss"]
    assert first.header is second.header
    assert first.scopes is second.scopes
    with pytest.raises(TypeError):
        first.header["kid"] = "other"  # shared, so read-only


def test_a_hit_needs_no_jwks_server(verifier, make_token, jwks_server):
    token = make_token()
    first = verifier.verify(token)
    jwks_server.status = 500
    jwks_server.publish()
    assert verifier.verify(token) is first
    assert jwks_server.fetches == 1


@pytest.mark.parametrize(
    ("overrides", "position", "reason"),
    [
        ({"aud": "https://other.example.test/"}, None, "The token's audience is not this API."),
        ({}, 20, BAD_SIGNATURE),
    ],
)
def test_rejected_tokens_are_never_cached(verifier, make_token, overrides, position, reason):
    token = make_token(**overrides)
    if position is not None:
        token = tamper(token, position)
    assert rejection(verifier, token) == reason
    assert rejection(verifier, token) == reason
    assert len(verifier.token_cache) == 0


def test_token_over_16_kib_is_refused_before_the_cache(verifier, make_token):
    token = make_token(padding="x" * MAX_TOKEN_LENGTH)
    assert rejection(verifier, token) == f"The token is longer than {MAX_TOKEN_LENGTH} characters."
    assert len(verifier.token_cache) == 0


# --- The time window on every hit -----------------------------------------------------------------


def test_cache_hit_rechecks_exp_with_the_leeway_and_drops_the_expired_entry(
    verifier, make_token, wall
):
    exp = int(wall.now) + 100
    token = make_token(exp=exp)
    first = verifier.verify(token)
    wall.now = exp + 59.9  # past exp, within the 60 s leeway
    assert verifier.verify(token) is first
    wall.now = exp + 60
    assert rejection(verifier, token) == EXPIRED
    assert token not in verifier.token_cache
    assert len(verifier.token_cache) == 0


def test_cache_hit_rechecks_nbf_with_the_leeway(verifier, make_token, wall):
    nbf = int(wall.now) - 10
    token = make_token(nbf=nbf, iat=nbf)
    first = verifier.verify(token)
    wall.now = nbf - 60  # the clock went back, still within the leeway
    assert verifier.verify(token) is first
    wall.now = nbf - 60.1
    assert rejection(verifier, token) == NOT_YET_VALID
    assert token not in verifier.token_cache


def test_cache_hit_rechecks_iat_like_pyjwt(verifier, make_token, wall):
    iat = int(wall.now)
    token = make_token(iat=iat)
    verifier.verify(token)
    wall.now = iat - 61
    assert rejection(verifier, token) == NOT_YET_VALID


def test_expired_entries_are_also_dropped_when_new_tokens_arrive(make_verifier, make_token, wall):
    verifier = make_verifier(size=10)
    short = make_token(exp=int(wall.now) + 5, jti="short")
    verifier.verify(short)
    wall.advance(5 + 60)
    verifier.verify(make_token(jti="new"))
    assert short not in verifier.token_cache
    assert len(verifier.token_cache) == 1


# --- Size and eviction order ----------------------------------------------------------------------


def test_cache_is_bounded_and_evicts_the_least_recently_used_token(make_verifier, make_token):
    verifier = make_verifier(size=3)
    t1, t2, t3, t4 = (make_token(jti=f"t{n}") for n in range(1, 5))
    for token in (t1, t2, t3):
        verifier.verify(token)
    verifier.verify(t1)  # a hit makes t1 the most recently used
    verifier.verify(t4)
    assert len(verifier.token_cache) == 3
    assert t2 not in verifier.token_cache
    assert all(token in verifier.token_cache for token in (t1, t3, t4))
    verifier.verify(t2)
    assert t3 not in verifier.token_cache


def test_cache_size_zero_turns_the_cache_off(make_verifier, make_token):
    verifier = make_verifier(size=0)
    token = make_token()
    first = verifier.verify(token)
    second = verifier.verify(token)
    assert second is not first
    assert second == first
    assert len(verifier.token_cache) == 0
    assert not verifier.token_cache.enabled


def test_default_cache_size_is_ten_thousand(settings, clock):
    assert build_token_verifier(clock=clock).token_cache.max_size == 10_000


@pytest.mark.parametrize("value", ["abc", "-1", "1.5", "1000001"])
def test_bad_cache_size_setting_is_refused_with_the_variable_name(settings, value):
    with pytest.raises(ImproperlyConfigured, match=r'AUTH0\["TOKEN_CACHE_SIZE"\]'):
        load_auth0_settings({**settings.AUTH0, "TOKEN_CACHE_SIZE": value})


def test_cache_size_setting_reaches_the_service_verifier(settings):
    settings.AUTH0 = {**settings.AUTH0, "TOKEN_CACHE_SIZE": "42"}
    assert get_token_verifier().token_cache.max_size == 42


def test_settings_module_imports_neither_the_verifier_nor_the_token_cache():
    code = (
        "import sys, auth0_jwt.conf; "
        "print(sorted(m for m in sys.modules if m.startswith('auth0_jwt.')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.stdout.strip() == "['auth0_jwt.conf']"


# --- Key withdrawal -------------------------------------------------------------------------------


def test_entries_of_a_withdrawn_kid_are_dropped_when_the_key_set_changes(
    verifier, make_token, jwks_server, rsa_key, other_rsa_key
):
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="key-2"))
    old = make_token()
    new = make_token(key=other_rsa_key, kid="key-2")
    verifier.verify(old)
    verifier.verify(new)
    jwks_server.publish(public_jwk(other_rsa_key, kid="key-2"))
    assert verifier.key_store.refresh()
    assert old not in verifier.token_cache
    assert new in verifier.token_cache
    assert rejection(verifier, old) == UNKNOWN_KEY
    assert verifier.verify(new).kid == "key-2"


def test_entries_are_dropped_when_their_kid_names_new_key_material(
    verifier, make_token, jwks_server, other_rsa_key
):
    token = make_token()
    verifier.verify(token)
    jwks_server.publish(public_jwk(other_rsa_key))  # same kid, another key
    assert verifier.key_store.refresh()
    assert token not in verifier.token_cache
    assert rejection(verifier, token) == BAD_SIGNATURE


def test_entries_survive_a_refresh_that_keeps_their_key(verifier, make_token):
    token = make_token()
    first = verifier.verify(token)
    assert verifier.key_store.refresh()
    assert verifier.verify(token) is first


def test_hits_still_refresh_a_stale_key_set_so_withdrawal_is_noticed(
    verifier, make_token, jwks_server, clock, other_rsa_key
):
    token = make_token()
    verifier.verify(token)
    jwks_server.publish(public_jwk(other_rsa_key, kid="key-2"))
    clock.advance(599)
    verifier.verify(token)
    assert jwks_server.fetches == 1
    clock.advance(1)  # the key set is now older than AUTH0_JWKS_CACHE_LIFETIME
    assert rejection(verifier, token) == UNKNOWN_KEY
    assert jwks_server.fetches == 3  # the scheduled refresh, then the kid's unknown-kid refetch


def test_a_token_verified_with_a_key_replaced_meanwhile_is_not_stored(
    verifier, make_token, jwks_server
):
    token = make_token()
    claims = verifier.verify(token)
    verifier.token_cache.clear()
    old_key = verifier.key_store.get_key(KID)
    assert verifier.key_store.refresh()  # a new key set: new key objects, the old one is gone
    assert verifier.token_cache.put(token, claims, old_key) is False
    assert token not in verifier.token_cache
    assert verifier.token_cache.put(token, claims, verifier.key_store.get_key(KID)) is True


# --- Exact keying ---------------------------------------------------------------------------------


def test_a_token_differing_by_one_character_is_verified_afresh(verifier, make_token):
    token = make_token()
    first = verifier.verify(token)
    forged = tamper(token, 40)
    assert rejection(verifier, forged) == BAD_SIGNATURE
    assert forged not in verifier.token_cache
    assert verifier.verify(token) is first


def test_tokens_with_the_same_claims_but_different_strings_are_separate_entries(
    verifier, make_token
):
    token = make_token()
    other = make_token(headers={"typ": "at+jwt"})  # same payload under another header
    assert other.split(".")[1] == token.split(".")[1]
    first, second = verifier.verify(token), verifier.verify(other)
    assert first is not second
    assert first.claims == second.claims
    assert len(verifier.token_cache) == 2


# --- Threads --------------------------------------------------------------------------------------


def test_cache_is_safe_under_many_threads_with_evictions_and_key_set_changes(
    make_verifier, make_token, frequent_thread_switches
):
    verifier = make_verifier(size=8)
    tokens = [make_token(sub=f"auth0|user-{n}", jti=str(n)) for n in range(20)]
    errors, results, barrier = [], [], threading.Barrier(17)

    def client(offset):
        try:
            barrier.wait()
            for i in range(300):
                n = (offset + i * 7) % len(tokens)
                results.append(verifier.verify(tokens[n]).subject == f"auth0|user-{n}")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def rotator():
        try:
            barrier.wait()
            for _ in range(20):
                verifier.key_store.refresh()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(16)]
    threads.append(threading.Thread(target=rotator))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(results) == 16 * 300
    assert all(results)
    assert len(verifier.token_cache) <= 8


def test_cache_unit_is_consistent_under_concurrent_puts_and_gets(
    verifier, make_token, frequent_thread_switches
):
    cache = VerifiedTokenCache(max_size=50, leeway=60)
    key = verifier.key_store.get_key(KID)
    cache.on_key_set_changed(verifier.key_store.key_set)
    token = make_token()
    claims = verifier.verify(token)
    raw_tokens = [f"{token}{n}" for n in range(200)]  # distinct keys; values need not match them
    errors = []

    def worker(offset):
        try:
            for i in range(2000):
                raw = raw_tokens[(offset + i) % len(raw_tokens)]
                if cache.get(raw) is None:
                    cache.put(raw, claims, key)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n * 13,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert len(cache) == 50


# --- Users on a cache hit -------------------------------------------------------------------------


@pytest.mark.django_db
def test_deactivated_user_is_refused_even_when_the_token_is_a_cache_hit(
    verifier, api_client, make_token
):
    token = make_token(sub="auth0|leaver")
    assert api_client.get("/api/private/", **bearer(token)).status_code == 200
    assert token in verifier.token_cache
    get_user_model().objects.filter(username="auth0.leaver").update(is_active=False)
    response = api_client.get("/api/private/", **bearer(token))
    assert response.status_code == 401
    assert response.json() == {"detail": "The user account of this token is disabled."}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The user account of this token is disabled."'
    )
    assert token in verifier.token_cache  # the token is still valid; the user is not


@pytest.mark.django_db
def test_a_cache_hit_answers_exactly_like_a_fresh_verification(verifier, api_client, make_token):
    token = make_token(sub="auth0|same", scope="read:messages")
    first = api_client.get("/api/private-scoped/", **bearer(token))
    second = api_client.get("/api/private-scoped/", **bearer(token))
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert second.json()["sub"] == "auth0|same"
    unscoped = make_token(sub="auth0|same", scope="read:other")
    for _ in range(2):
        response = api_client.get("/api/private-scoped/", **bearer(unscoped))
        assert response.status_code == 403
        assert response.json() == {
            "detail": "The access token lacks the scope this endpoint needs: read:messages."
        }
    assert unscoped in verifier.token_cache
