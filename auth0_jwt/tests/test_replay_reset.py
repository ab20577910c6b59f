"""A replay store that loses its memory does not accept a proof twice: a real redis-server
restarted without persistence (or flushed), and the database table restored empty. Proofs issued
before the reset was noticed, plus the iat leeway, are refused with ReplayStoreReset (401
invalid_dpop_proof through the authenticator); a new store is not a reset; the epoch check and
the remembering are one step, even while the store is emptied under concurrent callers."""

import threading
import time

import jwt
import pytest
import redis
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.management import call_command
from django.db import connection

from auth0_jwt.authenticator import Authenticated, AuthError, RequestAuthenticator, SimpleRequest
from auth0_jwt.dpop import DPoPVerifier
from auth0_jwt.keystore import JWKSKeyStore
from auth0_jwt.models import UsedDPoPProof
from auth0_jwt.replay import (
    EPOCH_MARKER,
    REDIS_EPOCH_WITNESS,
    REDIS_KEY_PREFIX,
    DatabaseReplayStore,
    ProofWindow,
    RedisReplayStore,
    ReplayStoreReset,
    first_redis_epoch,
    replay_key,
)
from auth0_jwt.tests.dpop_support import RedisServer, WallClock, make_proof, public_jwk, thumbprint
from auth0_jwt.verifier import TokenVerifier
from conftest import public_jwk as rsa_public_jwk

NOW = 1_800_000_000
WINDOW = ProofWindow(lifetime=330, leeway=30)  # AUTH0_DPOP_MAX_AGE 300 + AUTH0_DPOP_IAT_LEEWAY 30
MARKER_KEY = REDIS_KEY_PREFIX + EPOCH_MARKER


def expires(issued_at: float) -> float:
    """The `expires_at` the authenticator asks a proof issued at `issued_at` to be kept until."""
    return issued_at + WINDOW.lifetime


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    """A redis-server of this module's own (no persistence), which its tests restart."""
    server = RedisServer(tmp_path_factory.mktemp("redis-reset")).start()
    yield server
    server.stop()


@pytest.fixture
def fresh_redis(own_redis):
    """The module's Redis, running and empty, as a Redis no one has used."""
    if own_redis.process.poll() is not None:
        own_redis.start()
    own_redis.flush()
    return own_redis


def redis_client(server) -> redis.Redis:
    return redis.Redis.from_url(server.url, socket_timeout=2)


@pytest.fixture
def wall():
    return WallClock(NOW)


# --- Redis ----------------------------------------------------------------------------------------


def test_a_new_redis_accepts_proofs_at_once_and_the_database_records_that_it_is_in_use(
    db, fresh_redis, wall
):
    store = RedisReplayStore(fresh_redis.url, now=wall, window=WINDOW)
    assert store.remember(replay_key("jkt", "first"), expires(NOW)) is True
    assert store.remember(replay_key("jkt", "first"), expires(NOW)) is False
    assert redis_client(fresh_redis).get(MARKER_KEY) == b"0.0"
    assert UsedDPoPProof._base_manager.filter(key=REDIS_EPOCH_WITNESS).exists()
    assert not UsedDPoPProof.objects.filter(key=REDIS_EPOCH_WITNESS).exists()  # not a proof


@pytest.mark.parametrize("reset", ["restart without persistence", "FLUSHDB"])
def test_a_proof_accepted_before_redis_lost_its_memory_is_refused_after_it(
    db, fresh_redis, wall, reset, caplog
):
    store = RedisReplayStore(fresh_redis.url, now=wall, window=WINDOW)
    other_instance = RedisReplayStore(fresh_redis.url, now=wall, window=WINDOW)
    accepted = replay_key("jkt", "accepted-before")
    assert store.remember(accepted, expires(NOW)) is True
    wall.advance(5)
    if reset == "FLUSHDB":
        redis_client(fresh_redis).flushdb()
    else:
        fresh_redis.stop()
        fresh_redis.start()
    assert redis_client(fresh_redis).exists(REDIS_KEY_PREFIX + accepted) == 0  # it is forgotten

    with pytest.raises(ReplayStoreReset) as refused:
        store.remember(accepted, expires(NOW))
    # Every proof accepted before the reset was issued at most the leeway ahead of the clock.
    assert refused.value.not_before == NOW + 5 + WINDOW.leeway
    assert [record.message for record in caplog.records if record.name == "auth0_jwt.replay"] == [
        "The DPoP replay store lost its memory (Redis has no epoch marker): proofs issued before "
        "2027-01-15T08:00:35Z are refused"
    ]
    with pytest.raises(ReplayStoreReset):  # the other instance reads the same marker
        other_instance.remember(accepted, expires(NOW))
    # A proof signed now might have been accepted before the reset (a client clock ahead): refused.
    with pytest.raises(ReplayStoreReset):
        store.remember(replay_key("jkt", "signed-now"), expires(NOW + 5))

    wall.advance(WINDOW.leeway)  # from here on, a new proof cannot predate the reset
    assert store.remember(replay_key("jkt", "signed-later"), expires(NOW + 35)) is True
    assert other_instance.remember(replay_key("jkt", "signed-later"), expires(NOW + 35)) is False
    with pytest.raises(ReplayStoreReset):  # still within its 300 s, still refused
        store.remember(accepted, expires(NOW))


def test_each_remember_is_one_script_call_so_a_reset_cannot_come_between_check_and_set(
    db, fresh_redis, wall
):
    store = RedisReplayStore(fresh_redis.url, now=wall, window=WINDOW)
    store.remember(replay_key("jkt", "warm-up"), expires(NOW))  # the marker and the script exist
    client = redis_client(fresh_redis)
    with client.monitor() as monitor:
        for n in range(5):
            store.remember(replay_key("jkt", str(n)), expires(NOW))
        redis_client(fresh_redis).echo("done")
        sent = []
        while (command := monitor.next_command())["command"] != "ECHO done":
            name = command["command"].split()[0].upper()
            if name not in ("HELLO", "CLIENT"):  # a connection's handshake (the ECHO's)
                sent.append((command["client_type"], name))
    # From the store: five EVALSHA, nothing else; the GET and the SET run inside the script.
    assert [name for origin, name in sent if origin != "lua"] == ["EVALSHA"] * 5
    assert [name for origin, name in sent if origin == "lua"] == ["GET", "SET"] * 5


def test_concurrent_callers_never_accept_a_proof_twice_while_redis_is_flushed(
    transactional_db, fresh_redis, wall
):
    store = RedisReplayStore(fresh_redis.url, now=wall, window=WINDOW)
    store.remember(replay_key("jkt", "warm-up"), expires(NOW))
    keys = [replay_key("jkt", str(n)) for n in range(300)]
    accepted: dict[str, int] = {}
    lock, start = threading.Lock(), threading.Barrier(5)

    def remember_all(offset: int):
        start.wait()
        try:
            for key in keys[offset:] + keys[:offset]:
                try:
                    fresh = store.remember(key, expires(NOW))
                except ReplayStoreReset:
                    fresh = False
                if fresh:
                    with lock:
                        accepted[key] = accepted.get(key, 0) + 1
        finally:
            connection.close()  # the witness is read on each thread's own connection

    def flush_three_times():
        start.wait()
        client = redis_client(fresh_redis)
        for _ in range(3):
            time.sleep(0.01)
            client.flushdb()

    threads = [threading.Thread(target=remember_all, args=(n * 75,)) for n in range(4)]
    threads.append(threading.Thread(target=flush_three_times))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert accepted, "no proof was accepted before the first flush: nothing was tested"
    assert set(accepted.values()) == {1}


def test_when_the_database_cannot_say_whether_redis_is_new_it_is_taken_as_a_reset(
    db, fresh_redis, wall
):
    with connection.cursor() as cursor:  # rolled back after the test
        cursor.execute(f"DROP TABLE {UsedDPoPProof._meta.db_table}")
    assert first_redis_epoch() is False
    store = RedisReplayStore(fresh_redis.url, now=wall, window=WINDOW)
    with pytest.raises(ReplayStoreReset) as refused:
        store.remember(replay_key("jkt", "unknown"), expires(NOW))
    assert refused.value.not_before == NOW + WINDOW.leeway


def test_without_a_window_the_store_remembers_as_before(db, fresh_redis, wall):
    store = RedisReplayStore(fresh_redis.url, now=wall)
    assert store.remember(replay_key("jkt", "plain"), expires(NOW)) is True
    assert redis_client(fresh_redis).exists(MARKER_KEY) == 0


# --- The database ---------------------------------------------------------------------------------


def restore_empty_table() -> None:
    """What restoring a backup taken without this table's rows leaves: the table, empty."""
    with connection.schema_editor() as editor:
        editor.delete_model(UsedDPoPProof)
        editor.create_model(UsedDPoPProof)


def test_migrate_creates_a_marker_that_refuses_nothing(db):
    assert UsedDPoPProof._base_manager.get(key=EPOCH_MARKER).expires_at == 0.0
    assert not UsedDPoPProof.objects.filter(key=EPOCH_MARKER).exists()  # not a proof
    store = DatabaseReplayStore(now=WallClock(NOW), window=WINDOW)
    assert store.remember(replay_key("jkt", "first"), expires(NOW - 299)) is True


def test_flush_empties_the_table_on_purpose_and_leaves_a_new_marker(transactional_db):
    store = DatabaseReplayStore(now=WallClock(NOW), window=WINDOW)
    store.remember(replay_key("jkt", "before-flush"), expires(NOW))
    call_command("flush", interactive=False, verbosity=0)
    assert list(UsedDPoPProof._base_manager.values_list("key", "expires_at")) == [
        (EPOCH_MARKER, 0.0)
    ]
    assert store.remember(replay_key("jkt", "after-flush"), expires(NOW)) is True


def test_a_proof_accepted_before_the_table_was_restored_empty_is_refused_after_it(
    transactional_db, wall, caplog
):
    store = DatabaseReplayStore(now=wall, window=WINDOW)
    other_instance = DatabaseReplayStore(now=wall, window=WINDOW)
    accepted = replay_key("jkt", "accepted-before")
    assert store.remember(accepted, expires(NOW)) is True
    assert store.remember(accepted, expires(NOW)) is False
    wall.advance(2)
    restore_empty_table()

    with pytest.raises(ReplayStoreReset) as refused:
        other_instance.remember(accepted, expires(NOW))
    assert refused.value.not_before == NOW + 2 + WINDOW.leeway
    assert [record.message for record in caplog.records if record.name == "auth0_jwt.replay"] == [
        "The DPoP replay store lost its memory (its epoch marker is gone): proofs issued before "
        "2027-01-15T08:00:32Z are refused"
    ]
    with pytest.raises(ReplayStoreReset):
        store.remember(accepted, expires(NOW))
    with pytest.raises(ReplayStoreReset):
        store.remember(replay_key("jkt", "signed-now"), expires(NOW + 2))
    assert UsedDPoPProof.objects.count() == 0  # refused proofs are not recorded

    wall.advance(WINDOW.leeway)
    assert store.remember(replay_key("jkt", "signed-later"), expires(NOW + 32)) is True
    assert other_instance.remember(replay_key("jkt", "signed-later"), expires(NOW + 32)) is False
    with pytest.raises(ReplayStoreReset):
        store.remember(accepted, expires(NOW))


def test_pruning_keeps_the_marker(transactional_db, wall):
    store = DatabaseReplayStore(now=wall, window=WINDOW, prune_interval=60)
    store.remember(replay_key("jkt", "old"), expires(NOW))
    wall.advance(400)  # past the proof's expiry and the prune interval
    assert store.remember(replay_key("jkt", "new"), expires(NOW + 400)) is True
    assert sorted(UsedDPoPProof._base_manager.values_list("key", flat=True)) == sorted(
        [EPOCH_MARKER, replay_key("jkt", "new")]
    )


# --- Through the authenticator: the answer a client gets ------------------------------------------

ISSUER = "https://reset.example.test/"
AUDIENCE = "https://api.reset.example.test/"
URL = "https://api.example.test/api/private/"


@pytest.fixture(scope="module")
def signing_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def client_key():
    return ec.generate_private_key(ec.SECP256R1())


def authenticator_over(store, signing_key, clock) -> RequestAuthenticator:
    jwks = {"keys": [rsa_public_jwk(signing_key, kid="reset-key")]}
    verifier = TokenVerifier(
        key_store=JWKSKeyStore(lambda: jwks),
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=("RS256",),
        leeway=60,
        now=clock,
    )
    return RequestAuthenticator(
        token_verifier=verifier,
        dpop_verifier=DPoPVerifier(now=clock),
        replay_store=store,
        user_loader=None,
    )


def dpop_request(token: str, proof: str) -> SimpleRequest:
    return SimpleRequest("GET", URL, {"Authorization": f"DPoP {token}", "DPoP": proof})


@pytest.mark.parametrize("backend", ["redis", "database"])
def test_the_client_is_told_to_sign_a_new_proof(
    request, transactional_db, backend, signing_key, client_key
):
    clock = WallClock()  # about now: the token's exp is checked against it
    if backend == "redis":
        server = request.getfixturevalue("fresh_redis")
        store = RedisReplayStore(server.url, now=clock, window=WINDOW)
    else:
        store = DatabaseReplayStore(now=clock, window=WINDOW)
    authenticator = authenticator_over(store, signing_key, clock)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|reset", "iat": int(clock())}
    claims.update(exp=int(clock()) + 3600, cnf={"jkt": thumbprint(client_key)})
    token = jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": "reset-key"})

    def sign():
        return make_proof(client_key, url=URL, token=token, now=clock(), jwk=public_jwk(client_key))

    proof = sign()
    assert isinstance(authenticator.authenticate(dpop_request(token, proof)), Authenticated)
    if backend == "redis":
        server.stop()
        server.start()
    else:
        restore_empty_table()

    refused = authenticator.authenticate(dpop_request(token, proof))
    not_before = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(clock() + WINDOW.leeway))
    detail = (
        f"The DPoP replay cache was reset, so proofs issued before {not_before} are refused: "
        "sign a new proof."
    )
    assert isinstance(refused, AuthError)
    assert (refused.status, refused.code, refused.body) == (401, "invalid_dpop_proof", {
        "detail": detail
    })  # fmt: skip
    assert refused.headers == {
        "WWW-Authenticate": (
            f'DPoP algs="ES256", error="invalid_dpop_proof", error_description="{detail}"'
        )
    }
    assert authenticator.authenticate(dpop_request(token, sign())).code == "invalid_dpop_proof"
    clock.advance(WINDOW.leeway)
    assert isinstance(authenticator.authenticate(dpop_request(token, sign())), Authenticated)
    assert authenticator.authenticate(dpop_request(token, proof)).code == "invalid_dpop_proof"
