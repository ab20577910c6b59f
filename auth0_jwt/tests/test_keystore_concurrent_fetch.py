"""Requests that arrive while a JWKS fetch is in flight wait for it and do not fetch again."""

import threading
import time

from auth0_jwt.keystore import HTTPJWKSSource, JWKSKeyStore
from conftest import KID


def wait_until(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.005)


def slow_first_fetch(jwks_server, clock):
    """A store whose start-up fetch is in flight (the server has the request, answers late)."""
    jwks_server.delay = 0.5
    store = JWKSKeyStore(HTTPJWKSSource(jwks_server.jwks_url, timeout=2), clock=clock)
    loader = threading.Thread(target=store.refresh)
    loader.start()
    wait_until(lambda: jwks_server.fetches == 1)
    return store, loader


def test_a_request_during_the_start_up_fetch_uses_its_keys(jwks_server, clock):
    store, loader = slow_first_fetch(jwks_server, clock)
    assert store.get_key(KID).kid == KID
    loader.join(timeout=10)
    assert jwks_server.fetches == 1
    assert store.fetch_count == 1


def test_many_requests_during_the_start_up_fetch_share_it(jwks_server, clock):
    store, loader = slow_first_fetch(jwks_server, clock)
    kids = []
    threads = [
        threading.Thread(target=lambda: kids.append(store.get_key(KID).kid)) for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads + [loader]:
        thread.join(timeout=10)
    assert kids == [KID] * 8
    assert jwks_server.fetches == 1


def test_the_start_up_loader_does_not_fetch_keys_a_request_already_fetched(jwks_server, clock):
    jwks_server.delay = 0.5
    store = JWKSKeyStore(HTTPJWKSSource(jwks_server.jwks_url, timeout=2), clock=clock)
    request = threading.Thread(target=store.get_key, args=(KID,))
    request.start()
    wait_until(lambda: jwks_server.fetches == 1)
    loader = store.load_in_background(max_delay=0.05)
    loader.join(timeout=10)
    request.join(timeout=10)
    assert not loader.is_alive()
    assert store.key_set is not None
    assert jwks_server.fetches == 1
