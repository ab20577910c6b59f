"""The DPoP replay store (replay.py): the database table and a real Redis, each remembering a proof
once, until it expires, under concurrent callers; an unreachable store is an error, never a yes."""

import socket
import threading

import pytest
from django.db import connection

from auth0_jwt.models import UsedDPoPProof
from auth0_jwt.replay import (
    DatabaseReplayStore,
    RedisReplayStore,
    ReplayStoreUnavailable,
    build_replay_store,
    get_replay_store,
    replay_key,
    reset_replay_store,
)
from auth0_jwt.tests.dpop_support import WallClock

NOW = 1_800_000_000


@pytest.fixture
def clock():
    return WallClock(NOW)


# The mark makes pytest-django set up the test database for the database cases even when they are
# the only database tests run (it sets up only what tests declare, not what getfixturevalue asks).
@pytest.fixture(
    params=[pytest.param("database", marks=pytest.mark.django_db(transaction=True)), "redis"]
)
def store(request, clock):
    """Each backend, on the test's wall clock."""
    if request.param == "redis":
        server = request.getfixturevalue("redis_server")
        return RedisReplayStore(server.url, now=clock)
    request.getfixturevalue("transactional_db")
    return DatabaseReplayStore(now=clock)


def test_replay_key_depends_on_both_the_client_key_and_the_jti():
    keys = {
        replay_key("A", "1"),
        replay_key("A", "2"),
        replay_key("B", "1"),
        replay_key("A\n1", ""),
    }
    assert len(keys) == 4
    assert all(len(key) == 64 for key in keys)


def test_a_key_is_remembered_once(store):
    assert store.remember(replay_key("jkt", "one"), NOW + 330) is True
    assert store.remember(replay_key("jkt", "one"), NOW + 330) is False
    assert store.remember(replay_key("jkt", "two"), NOW + 330) is True
    assert store.remember(replay_key("other", "one"), NOW + 330) is True


def test_concurrent_callers_see_exactly_one_yes(transactional_db, store):
    key = replay_key("jkt", "raced")
    answers, barrier = [], threading.Barrier(8)

    def remember():
        barrier.wait()
        try:
            answers.append(store.remember(key, NOW + 330))
        finally:
            connection.close()  # each thread's own database connection

    threads = [threading.Thread(target=remember) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answers) == [False] * 7 + [True]


def test_database_row_expires_and_is_taken_over_then_pruned(transactional_db, clock):
    store = DatabaseReplayStore(now=clock, prune_interval=60)
    key = replay_key("jkt", "one")
    assert store.remember(key, NOW + 10) is True
    clock.advance(9)
    assert store.remember(key, NOW + 100) is False
    clock.advance(1)  # the first entry expired: the same key can be used again
    assert store.remember(key, NOW + 100) is True
    assert UsedDPoPProof.objects.get(key=key).expires_at == NOW + 100
    store.remember(replay_key("jkt", "two"), NOW + 20)
    clock.advance(91)  # past every expiry and the prune interval
    assert store.remember(replay_key("jkt", "three"), NOW + 500) is True
    assert list(UsedDPoPProof.objects.values_list("key", flat=True)) == [replay_key("jkt", "three")]


def test_database_prune_returns_what_it_deleted(db, clock):
    store = DatabaseReplayStore(now=clock)
    store.remember(replay_key("jkt", "a"), NOW + 1)
    store.remember(replay_key("jkt", "b"), NOW + 100)
    assert store.prune(NOW + 50) == 1
    assert store.prune(NOW + 50) == 0


def test_redis_entry_gets_the_proofs_remaining_lifetime(redis_server, clock):
    import redis

    store = RedisReplayStore(redis_server.url, now=clock)
    store.remember("k", NOW + 12.5)
    client = redis.Redis.from_url(redis_server.url)
    assert 12_000 < client.pttl("auth0_jwt:dpop:k") <= 12_500
    client.close()


def test_unreachable_redis_is_an_error_not_an_answer(clock):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # nothing listens there once the probe is closed
    store = RedisReplayStore(f"redis://127.0.0.1:{port}/0", now=clock, timeout=0.5)
    with pytest.raises(ReplayStoreUnavailable, match=r"^Redis did not answer \(ConnectionError\)$"):
        store.remember("k", NOW + 10)


def test_silent_redis_times_out_into_an_error(clock):
    listener = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    try:
        url = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        store = RedisReplayStore(url, now=clock, timeout=0.2)
        with pytest.raises(ReplayStoreUnavailable, match=r"^Redis did not answer"):
            store.remember("k", NOW + 10)
    finally:
        listener.close()


def test_database_failure_is_an_error_not_an_answer(db, clock, django_db_blocker):
    store = DatabaseReplayStore(now=clock)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {UsedDPoPProof._meta.db_table}")  # rolled back after the test
    with pytest.raises(ReplayStoreUnavailable, match=r"^the database did not answer"):
        store.remember("k", NOW + 10)


def test_the_backend_follows_the_settings(settings, redis_server):
    assert isinstance(build_replay_store(""), DatabaseReplayStore)
    assert isinstance(build_replay_store(redis_server.url), RedisReplayStore)
    reset_replay_store()
    assert isinstance(get_replay_store(), DatabaseReplayStore)
    settings.AUTH0 = {**settings.AUTH0, "REDIS_URL": redis_server.url}
    assert isinstance(get_replay_store(), RedisReplayStore)
