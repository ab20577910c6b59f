"""The DPoP replay store: remembers each accepted proof until it is too old to be accepted anyway,
so one proof is accepted once, whichever worker or instance it reaches (RFC 9449 section 11.1).

Two backends, both shared by every worker and instance, neither per-process:
- `RedisReplayStore` when `REDIS_URL` is set: `SET key 1 NX PX ttl`, one round trip;
- `DatabaseReplayStore` otherwise: the `UsedDPoPProof` table that `migrate` creates, one
  `INSERT ... ON CONFLICT` statement whose primary key makes it atomic; expired rows are reused by
  that same statement and pruned at most once a minute per process.
When the store cannot answer, `remember` raises `ReplayStoreUnavailable`: the request is refused
with a 503, never accepted unchecked.
"""

import logging
import math
import threading
import time
from collections.abc import Callable

from django.db import DatabaseError, connections, router

from auth0_jwt.conf import ProcessWide, get_auth0_settings
from auth0_jwt.dpop import ReplayStoreUnavailable, replay_key

__all__ = [
    "DatabaseReplayStore",
    "RedisReplayStore",
    "ReplayStoreUnavailable",
    "build_replay_store",
    "get_replay_store",
    "replay_key",
    "reset_replay_store",
]

logger = logging.getLogger(__name__)

REDIS_KEY_PREFIX = "auth0_jwt:dpop:"
REDIS_TIMEOUT = 1.0  # seconds for connecting and for each command: a slow store is a 503
PRUNE_INTERVAL = 60.0  # seconds between deletions of expired rows, per process


class DatabaseReplayStore:
    """The `UsedDPoPProof` table of the default database (or the one the router picks)."""

    def __init__(self, *, now: Callable[[], float] = time.time, prune_interval=PRUNE_INTERVAL):
        self.now = now
        self.prune_interval = prune_interval
        self._next_prune = 0.0
        self._prune_lock = threading.Lock()

    def remember(self, proof_key: str, expires_at: float) -> bool:
        """Record `proof_key` until `expires_at`; False when it is recorded and not expired."""
        now = self.now()
        # One statement: insert, or take over the row of an expired proof with the same key; a
        # live row is left alone and no row counts as changed. PostgreSQL and SQLite agree on it.
        fresh = self._execute(
            "INSERT INTO {table} ({key}, {expires}) VALUES (%s, %s) ON CONFLICT ({key}) "
            "DO UPDATE SET {expires} = excluded.{expires} WHERE {table}.{expires} <= %s",
            [proof_key, expires_at, now],
        )
        if now >= self._next_prune and self._prune_lock.acquire(blocking=False):
            try:
                self._next_prune = now + self.prune_interval
                self.prune(now)
            finally:
                self._prune_lock.release()
        return fresh == 1

    def prune(self, now: float | None = None) -> int:
        """Delete the rows of proofs that can no longer be accepted; return how many."""
        now = self.now() if now is None else now
        return self._execute("DELETE FROM {table} WHERE {expires} < %s", [now])

    def _execute(self, template: str, parameters: list) -> int:
        """Run one statement on its own (autocommit: no transaction held across statements, which
        on SQLite would make concurrent writers wait on each other); return the rows changed."""
        from auth0_jwt.models import UsedDPoPProof

        connection = connections[router.db_for_write(UsedDPoPProof)]
        quote = connection.ops.quote_name
        # Only this model's quoted names are formatted in; the values are parameters.
        sql = template.format(
            table=quote(UsedDPoPProof._meta.db_table),
            key=quote("key"),
            expires=quote("expires_at"),
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute(sql, parameters)
                return cursor.rowcount
        except DatabaseError as exc:
            raise ReplayStoreUnavailable(
                f"the database did not answer ({type(exc).__name__})"
            ) from None


class RedisReplayStore:
    """A Redis server (or cluster endpoint) every instance reaches at `url`."""

    def __init__(self, url: str, *, now: Callable[[], float] = time.time, timeout=REDIS_TIMEOUT):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.now = now
        # One immediate retry: a pooled connection the server closed (a restart) costs no request.
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        self._errors = (redis.RedisError, OSError)

    def remember(self, key: str, expires_at: float) -> bool:
        """Record `key` until `expires_at`; False when it is already recorded and not expired."""
        ttl_ms = max(1, math.ceil((expires_at - self.now()) * 1000))
        try:
            return bool(self.client.set(REDIS_KEY_PREFIX + key, b"1", nx=True, px=ttl_ms))
        except self._errors as exc:
            raise ReplayStoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None


def build_replay_store(redis_url: str = "", *, now: Callable[[], float] = time.time):
    """Redis when `redis_url` is set, else the database."""
    if redis_url:
        return RedisReplayStore(redis_url, now=now)
    return DatabaseReplayStore(now=now)


# --- The process-wide store -----------------------------------------------------------------------

_replay_store: ProcessWide = ProcessWide(lambda: build_replay_store(get_auth0_settings().redis_url))


def get_replay_store():
    """The store every request uses, built on first use from the `AUTH0` setting."""
    return _replay_store.get()


def reset_replay_store(store=None) -> None:
    """Replace the process-wide store (tests); None rebuilds it on next use."""
    _replay_store.replace(store)
