"""`keystore.no_fetching()`: where an async caller verifies on the event loop, a key store raises
FetchNeeded instead of fetching or waiting for a fetch, and fetches again as usual outside."""

import threading

import pytest

from auth0_jwt.keystore import FetchNeeded, JWKSKeyStore, no_fetching
from conftest import KID, public_jwk


class Source:
    def __init__(self, key):
        self.key = key
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return {"keys": [public_jwk(self.key)]}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_no_key_set_yet_is_fetch_needed_not_a_fetch(rsa_key):
    source = Source(rsa_key)
    store = JWKSKeyStore(source, clock=Clock())
    with no_fetching(), pytest.raises(FetchNeeded):
        store.get_key(KID)
    assert source.calls == 0
    assert store.get_key(KID) is not None  # outside the block, the fetch runs
    assert source.calls == 1


@pytest.mark.parametrize("step", ["stale key set", "unknown kid", "refresh_if_stale"])
def test_a_due_refresh_is_fetch_needed_and_a_fresh_known_key_is_served(rsa_key, step):
    source, clock = Source(rsa_key), Clock()
    store = JWKSKeyStore(source, clock=clock, cache_lifetime=600, min_refetch_interval=0)
    store.get_key(KID)
    with no_fetching():
        assert store.get_key(KID) is not None  # fresh and known: no fetch needed
        clock.now += 600 if step != "unknown kid" else 0
        with pytest.raises(FetchNeeded):
            if step == "refresh_if_stale":
                store.refresh_if_stale()
            else:
                store.get_key(KID if step == "stale key set" else "other-kid")
    assert source.calls == 1


def test_the_block_belongs_to_its_own_context_not_to_other_threads(rsa_key):
    source = Source(rsa_key)
    store = JWKSKeyStore(source, clock=Clock())
    fetched = []
    with no_fetching():
        worker = threading.Thread(target=lambda: fetched.append(store.get_key(KID)))
        worker.start()
        worker.join()
    assert len(fetched) == 1 and source.calls == 1
