"""The saved key set (keyset_store.py) behind the key store: a JWKS fetched by one process is what
another process starts from when it cannot fetch one, if it is young enough, signed by this
deployment and usable; the database failing (missing table, lock held, too slow) never breaks key
loading. A real JWKS server on 127.0.0.1, the real database; the key store on a fake monotonic
clock and a fake wall clock."""

import contextlib
import json
import sqlite3
import time

import pytest
from django.db import connection

from auth0_jwt.keyset_store import DatabaseKeySetStore, KeySetStoreUnavailable
from auth0_jwt.keystore import HTTPJWKSSource, JWKSKeyStore, KeySetUnavailable
from auth0_jwt.models import PersistedKeySet
from auth0_jwt.tests.dpop_support import WallClock
from conftest import KID, FakeClock, public_jwk

NOW = 1_800_000_000
MAX_AGE = 3600
SECRET = "the-deployment-secret-key"

pytestmark = pytest.mark.django_db(transaction=True)  # the saved key set is written on its own


@pytest.fixture
def wall():
    return WallClock(NOW)


def worker(jwks_server, wall, *, secret=SECRET, url=None, timeout=2.0, **options):
    """A key store as one worker process builds it: its own clocks, the shared database."""
    url = url or jwks_server.jwks_url
    options.setdefault("cache_lifetime", 600)
    options.setdefault("min_refetch_interval", 30)
    return JWKSKeyStore(
        HTTPJWKSSource(url, timeout=2),
        clock=FakeClock(),
        wall_clock=wall,
        persistence=DatabaseKeySetStore(url, secret=secret, timeout=timeout),
        persisted_max_age=options.pop("persisted_max_age", MAX_AGE),
        **options,
    )


def saved_log(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "auth0_jwt.keystore"]


def test_a_fetched_jwks_is_saved_with_its_usable_keys_only_and_no_private_member(
    jwks_server, rsa_key, other_rsa_key, wall
):
    usable = public_jwk(rsa_key, qi="not-a-private-member-of-a-public-key")
    published_private = {**public_jwk(other_rsa_key, kid="leaked"), "d": "secret-exponent"}
    encryption = public_jwk(other_rsa_key, kid="enc", use="enc")
    jwks_server.publish(usable, published_private, encryption)
    store = worker(jwks_server, wall)
    assert store.refresh() is True
    row = PersistedKeySet.objects.get()
    assert (row.jwks_url, row.fetched_at) == (jwks_server.jwks_url, NOW)
    expected = {name: value for name, value in usable.items() if name != "qi"}
    assert json.loads(row.document) == {"keys": [expected]}


def test_a_worker_that_cannot_fetch_starts_from_the_key_set_another_one_saved(
    jwks_server, rsa_key, wall, caplog
):
    assert worker(jwks_server, wall).refresh() is True
    jwks_server.status = 500
    wall.advance(120)
    fetches = jwks_server.fetches
    new_worker = worker(jwks_server, wall)
    assert new_worker.get_key(KID).public_key.public_numbers() == (
        rsa_key.public_key().public_numbers()
    )
    assert jwks_server.fetches == fetches + 1  # it tried the identity provider first
    assert new_worker.last_error == "the JWKS endpoint answered HTTP 500"
    assert new_worker.clock() - new_worker.key_set.fetched_at == 120  # as old as it is
    assert (
        saved_log(caplog)[-1]
        == "Serving the JWKS saved 120 s ago (1 key(s)) until a fetch succeeds"
    )


def test_the_background_loader_stops_once_it_has_the_saved_key_set(jwks_server, wall):
    assert worker(jwks_server, wall).refresh() is True
    jwks_server.status = 500
    new_worker = worker(jwks_server, wall)
    new_worker.load_in_background().join(timeout=10)
    assert new_worker.key_set is not None


@pytest.mark.parametrize(("age", "used"), [(MAX_AGE, True), (MAX_AGE + 1, False)])
def test_a_saved_key_set_is_used_up_to_the_maximum_age_and_never_after(
    jwks_server, wall, caplog, age, used
):
    assert worker(jwks_server, wall).refresh() is True
    jwks_server.status = 500
    wall.advance(age)
    new_worker = worker(jwks_server, wall)
    if used:
        assert new_worker.get_key(KID).kid == KID
    else:
        with pytest.raises(KeySetUnavailable, match="^the JWKS endpoint answered HTTP 500$"):
            new_worker.get_key(KID)
        assert saved_log(caplog)[-1] == (
            "The saved JWKS is not used: fetched 3601 s ago, the limit is 3600 s"
        )


def test_a_key_set_saved_in_the_future_beyond_clock_skew_is_not_used(jwks_server, wall):
    assert worker(jwks_server, wall).refresh() is True
    jwks_server.status = 500
    wall.advance(-61)  # this host's clock is more than a minute behind the one that saved it
    with pytest.raises(KeySetUnavailable):
        worker(jwks_server, wall).get_key(KID)


def test_a_maximum_age_of_zero_saves_and_loads_nothing(jwks_server, wall):
    assert worker(jwks_server, wall, persisted_max_age=0).refresh() is True
    assert not PersistedKeySet.objects.exists()


def test_the_key_set_of_another_jwks_url_is_not_used(jwks_server, wall):
    assert worker(jwks_server, wall).refresh() is True
    jwks_server.status = 500
    other_url = jwks_server.base_url + "/other/.well-known/jwks.json"
    with pytest.raises(KeySetUnavailable):
        worker(jwks_server, wall, url=other_url).get_key(KID)


def test_a_row_not_signed_with_this_deployments_secret_key_is_not_used(
    jwks_server, other_rsa_key, wall, caplog
):
    assert worker(jwks_server, wall).refresh() is True
    # Someone with write access to the database plants their own key.
    planted = {"keys": [public_jwk(other_rsa_key, kid=KID)]}
    PersistedKeySet.objects.update(document=json.dumps(planted))
    with pytest.raises(
        KeySetStoreUnavailable,
        match="^the saved JWKS is not signed with this deployment's SECRET_KEY$",
    ):
        DatabaseKeySetStore(jwks_server.jwks_url, secret=SECRET).load()
    jwks_server.status = 500
    with pytest.raises(KeySetUnavailable):
        worker(jwks_server, wall).get_key(KID)
    assert saved_log(caplog)[-1] == (
        "The saved JWKS could not be read: the saved JWKS is not signed with this deployment's "
        "SECRET_KEY"
    )


def test_a_key_set_saved_by_a_deployment_with_another_secret_key_is_not_used(jwks_server, wall):
    assert worker(jwks_server, wall, secret="another-deployments-secret").refresh() is True
    jwks_server.status = 500
    with pytest.raises(KeySetUnavailable):
        worker(jwks_server, wall).get_key(KID)


def test_the_saved_document_is_checked_as_a_fetched_one(jwks_server, wall, caplog):
    short_key = {"kty": "RSA", "kid": KID, "n": "AQAB" * 10, "e": "AQAB"}
    DatabaseKeySetStore(jwks_server.jwks_url, secret=SECRET).save({"keys": [short_key]}, NOW)
    jwks_server.status = 500
    with pytest.raises(KeySetUnavailable):
        worker(jwks_server, wall).get_key(KID)
    assert saved_log(caplog)[-1].startswith(
        "The saved JWKS is not used: the JWKS holds no usable signing key (key 0: RSA key "
        "shorter than 2048 bits)"
    )


def test_an_older_key_set_never_overwrites_a_newer_one(jwks_server, rsa_key, wall):
    store = DatabaseKeySetStore(jwks_server.jwks_url, secret=SECRET)
    newer = {"keys": [public_jwk(rsa_key, kid="newer")]}
    store.save(newer, NOW + 10)
    store.save({"keys": [public_jwk(rsa_key, kid="older")]}, NOW)
    assert store.load() == (newer, NOW + 10)


def test_a_worker_with_keys_keeps_its_own_when_a_refresh_fails(jwks_server, rsa_key, wall):
    first = worker(jwks_server, wall)
    assert first.refresh() is True
    DatabaseKeySetStore(jwks_server.jwks_url, secret=SECRET).save(
        {"keys": [public_jwk(rsa_key, kid="someone-elses")]}, NOW + 5
    )
    jwks_server.status = 500
    assert first.refresh() is False
    assert set(first.key_set.keys) == {KID}  # stale-on-error, as before


def test_a_key_set_loaded_stale_is_refreshed_on_schedule_once_the_identity_provider_is_back(
    jwks_server, rsa_key, wall
):
    assert worker(jwks_server, wall).refresh() is True
    jwks_server.status = 500
    wall.advance(700)  # older than the cache lifetime (600 s)
    new_worker = worker(jwks_server, wall)
    assert new_worker.get_key(KID).kid == KID
    jwks_server.status = 200
    fetches = jwks_server.fetches
    assert new_worker.get_key(KID).kid == KID  # no refetch within the interval after a failure
    assert jwks_server.fetches == fetches
    new_worker.clock.advance(30)
    assert new_worker.get_key(KID).kid == KID
    assert jwks_server.fetches == fetches + 1
    assert new_worker.clock() - new_worker.key_set.fetched_at == 0


# --- The database failing never breaks key loading ------------------------------------------------


def drop_table():
    with connection.schema_editor() as editor:
        editor.delete_model(PersistedKeySet)


def restore_table():
    with connection.schema_editor() as editor:
        editor.create_model(PersistedKeySet)


def test_without_the_table_keys_are_fetched_and_served_and_the_save_is_only_logged(
    jwks_server, wall, caplog
):
    drop_table()
    try:
        store = worker(jwks_server, wall)
        assert store.get_key(KID).kid == KID
        assert saved_log(caplog)[-1].startswith(
            "The fetched JWKS was not saved for other processes: the database did not answer ("
        )
        jwks_server.status = 500
        with pytest.raises(KeySetUnavailable, match="^the JWKS endpoint answered HTTP 500$"):
            worker(jwks_server, wall).get_key(KID)
        assert saved_log(caplog)[-1].startswith(
            "The saved JWKS could not be read: the database did not answer ("
        )
    finally:
        restore_table()


@contextlib.contextmanager
def table_locked():
    """Another connection holds the saved key sets' table locked: reads and writes wait."""
    if connection.vendor == "sqlite":
        holder = sqlite3.connect(connection.settings_dict["NAME"], isolation_level=None)
        # In WAL mode (the example's settings) readers pass a writer's lock; a connection in
        # exclusive locking mode, holding a write transaction, keeps readers out as well.
        holder.execute("PRAGMA locking_mode = EXCLUSIVE")
        holder.execute("BEGIN EXCLUSIVE")
        holder.execute(f"DELETE FROM {PersistedKeySet._meta.db_table} WHERE 0")
    else:
        import psycopg

        holder = psycopg.connect(**connection.get_connection_params())
        holder.execute(f"LOCK TABLE {PersistedKeySet._meta.db_table} IN ACCESS EXCLUSIVE MODE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()


def test_a_database_that_does_not_answer_holds_key_loading_up_for_the_timeout_only(
    jwks_server, wall, caplog
):
    assert worker(jwks_server, wall).refresh() is True
    jwks_server.status = 500
    new_worker = worker(jwks_server, wall, timeout=0.5)
    started = time.monotonic()
    with table_locked(), pytest.raises(KeySetUnavailable):
        new_worker.get_key(KID)
    assert time.monotonic() - started < 2.5  # the fetch's failure, then the 0.5 s bound
    assert saved_log(caplog)[-1] == (
        "The saved JWKS could not be read: the database did not answer within 0.5 s"
    )


def test_a_save_that_cannot_be_written_in_time_is_given_up_and_logged(jwks_server, wall, caplog):
    new_worker = worker(jwks_server, wall, timeout=0.5)
    with table_locked():
        assert new_worker.get_key(KID).kid == KID
    assert saved_log(caplog)[-1] == (
        "The fetched JWKS was not saved for other processes: the database did not answer within "
        "0.5 s"
    )
