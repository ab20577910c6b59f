"""The DPoP replay store: remembers each accepted proof until it is too old to be accepted anyway,
so one proof is accepted once, whichever worker or instance it reaches (RFC 9449 section 11.1).

Two backends, both shared by every worker and instance, neither per-process:
- `RedisReplayStore` when `REDIS_URL` is set: `SET key 1 NX PX ttl`, one round trip;
- `DatabaseReplayStore` otherwise: the `UsedDPoPProof` table that `migrate` creates, one
  `INSERT ... ON CONFLICT` statement whose primary key makes it atomic; expired rows are reused by
  that same statement and pruned at most once a minute per process.
When the store cannot answer, `remember` raises `ReplayStoreUnavailable`: the request is refused
with a 503, never accepted unchecked.

A store that loses its memory (Redis restarted without persistence or flushed, the table restored
empty) would accept once more every proof it forgot. Built with a `ProofWindow` (as
`build_replay_store` does), each store keeps an epoch marker beside the proofs, where whatever
empties the one empties the other: a Redis key without expiry in the same database, a row of the
same table. The marker holds a time, `not_before`; a proof issued before it is refused with
`ReplayStoreReset`, and the check is one atomic step with the remembering (a Lua script, one SQL
statement), so a reset between the two cannot slip through. A store that finds its marker gone
writes a new one, `not_before` = now + the DPoP iat leeway: every proof accepted before the reset
was issued before that (at most the leeway ahead of the clock), and a proof issued after it cannot
have been. For those leeway seconds every proof is refused; then clients' new proofs are accepted
again. A new, empty store is not a reset: `migrate` creates the table's marker with `not_before`
= 0, and the first process to use a new Redis records that in the database, so that Redis losing
its memory later is told apart from Redis being new.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from django.db import DatabaseError, connections, router

from auth0_jwt.conf import ProcessWide, get_auth0_settings
from auth0_jwt.dpop import ReplayStoreReset, ReplayStoreUnavailable, replay_key

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

    from auth0_jwt.authenticator import ReplayStore

Result = TypeVar("Result")

__all__ = [
    "DatabaseReplayStore",
    "ProofWindow",
    "RedisReplayStore",
    "ReplayStoreReset",
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
# Markers: keys that start with "~", which no proof's key (64 hex digits) does.
EPOCH_MARKER = "~epoch"  # in each store: proofs issued before its time are refused
REDIS_EPOCH_WITNESS = "~redis-epoch"  # in the database: a Redis store has had an epoch before


@dataclass(frozen=True)
class ProofWindow:
    """What the DPoP verifier accepts: a proof's `iat` at most `leeway` seconds ahead of the
    clock, and a proof remembered until `iat` + `lifetime` (the `expires_at` of `remember`)."""

    lifetime: float
    leeway: float

    def issued_at(self, expires_at: float) -> float:
        return expires_at - self.lifetime


def _when(not_before: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(math.ceil(not_before)))


# --- The database ---------------------------------------------------------------------------------

# Insert, or take over the row of an expired proof with the same key; a live row is left alone and
# no row counts as changed. PostgreSQL and SQLite agree on it.
UPSERT = (
    "INSERT INTO {table} ({key}, {expires}) VALUES (%s, %s) ON CONFLICT ({key}) "
    "DO UPDATE SET {expires} = excluded.{expires} WHERE {table}.{expires} <= %s"
)
# The same, only while the epoch marker exists and the proof was not issued before its time.
GUARDED_UPSERT = (
    "INSERT INTO {table} ({key}, {expires}) "
    "SELECT CAST(%s AS varchar(64)), CAST(%s AS double precision) "
    "WHERE EXISTS (SELECT 1 FROM {table} WHERE {key} = %s AND {expires} <= %s) "
    "ON CONFLICT ({key}) "
    "DO UPDATE SET {expires} = excluded.{expires} WHERE {table}.{expires} <= %s"
)
# A marker, unless there is one already.
INSERT_MARKER = (
    "INSERT INTO {table} ({key}, {expires}) VALUES (%s, %s) ON CONFLICT ({key}) DO NOTHING"
)


class DatabaseReplayStore:
    """The `UsedDPoPProof` table of the default database (or the one the router picks)."""

    def __init__(
        self,
        *,
        now: Callable[[], float] = time.time,
        prune_interval: float = PRUNE_INTERVAL,
        window: ProofWindow | None = None,
    ):
        self.now = now
        self.prune_interval = prune_interval
        self.window = window  # None: no epoch check (see the module docstring)
        self._next_prune = 0.0
        self._prune_lock = threading.Lock()

    def remember(self, proof_key: str, expires_at: float) -> bool:
        """Record `proof_key` until `expires_at`; False when it is recorded and not expired.

        With a `window`, raise ReplayStoreReset for a proof issued before the epoch marker's time.
        """
        now = self.now()
        window = self.window
        if window is None:
            fresh = self._execute(UPSERT, [proof_key, expires_at, now])
        else:
            fresh = self._remember_since_epoch(window, proof_key, expires_at, now)
        if now >= self._next_prune and self._prune_lock.acquire(blocking=False):
            try:
                self._next_prune = now + self.prune_interval
                self.prune(now)
            finally:
                self._prune_lock.release()
        return fresh == 1

    def _remember_since_epoch(
        self, window: ProofWindow, proof_key: str, expires_at: float, now: float
    ) -> int:
        issued_at = window.issued_at(expires_at)
        parameters = [proof_key, expires_at, EPOCH_MARKER, issued_at, now]
        if self._execute(GUARDED_UPSERT, parameters) == 1:
            return 1
        not_before = self._epoch()
        if not_before is None:  # the table lost its marker, and with it the proofs
            not_before = self._start_epoch(now + window.leeway)
            if issued_at >= not_before:  # issued after the new epoch's start: check it again
                return self._execute(GUARDED_UPSERT, parameters)
        if issued_at < not_before:
            raise ReplayStoreReset(not_before)
        return 0  # the marker let it through, so the proof's own row stopped it: a replay

    def _epoch(self) -> float | None:
        """The epoch marker's time, or None when the table has no marker."""
        row = self._fetch_one("SELECT {expires} FROM {table} WHERE {key} = %s", [EPOCH_MARKER])
        return None if row is None else float(row[0])

    def _start_epoch(self, not_before: float) -> float:
        created = self._execute(INSERT_MARKER, [EPOCH_MARKER, not_before])
        if created:
            logger.warning(
                "The DPoP replay store lost its memory (its epoch marker is gone): proofs issued "
                "before %s are refused",
                _when(not_before),
                extra={"event": "dpop_replay_store_reset", "store": "database"},
            )
            return not_before
        written = self._epoch()  # another process wrote it first
        return not_before if written is None else written

    def prune(self, now: float | None = None) -> int:
        """Delete the rows of proofs that can no longer be accepted; return how many."""
        now = self.now() if now is None else now
        return self._execute(
            "DELETE FROM {table} WHERE {expires} < %s AND {key} NOT LIKE %s", [now, "~%"]
        )

    def _execute(self, template: str, parameters: list[Any]) -> int:
        """Run one statement on its own (autocommit: no transaction held across statements, which
        on SQLite would make concurrent writers wait on each other); return the rows changed."""
        changed: int = self._run(template, parameters, lambda cursor: cursor.rowcount)
        return changed

    def _fetch_one(self, template: str, parameters: list[Any]) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._run(
            template, parameters, lambda cursor: cursor.fetchone()
        )
        return row

    def _run(
        self, template: str, parameters: list[Any], result: Callable[[CursorWrapper], Result]
    ) -> Result:
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
                return result(cursor)
        except DatabaseError as exc:
            raise ReplayStoreUnavailable(
                f"the database did not answer ({type(exc).__name__})"
            ) from None


def establish_database_epoch(using: str) -> None:
    """Give a table that has just been emptied on purpose (`manage.py flush`, which Django treats
    as migrating from scratch) a marker that refuses nothing; apps.py calls it."""
    from auth0_jwt.models import UsedDPoPProof

    UsedDPoPProof._base_manager.using(using).get_or_create(
        key=EPOCH_MARKER, defaults={"expires_at": 0.0}
    )


def first_redis_epoch() -> bool:
    """Record in the database that a Redis replay store has had an epoch; True when none had
    before (a new Redis), False when one had (a Redis that lost its memory) or the database cannot
    say (then the safe answer)."""
    try:
        return DatabaseReplayStore()._execute(INSERT_MARKER, [REDIS_EPOCH_WITNESS, 0.0]) == 1
    except ReplayStoreUnavailable as exc:
        logger.warning("Whether Redis is new cannot be told (%s): taken as a reset", exc)
        return False


# --- Redis ----------------------------------------------------------------------------------------

# KEYS: the epoch marker, the proof. ARGV: the proof's iat, its time to live in milliseconds.
# {-1}: no marker; {-2, not_before}: issued before the marker's time; {1}: new; {0}: a replay.
REMEMBER_SINCE_EPOCH = """
local not_before = redis.call('GET', KEYS[1])
if not not_before then return {-1} end
if tonumber(ARGV[1]) < tonumber(not_before) then return {-2, not_before} end
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return {1} end
return {0}
"""


class RedisReplayStore:
    """A Redis server every instance reaches at `url` (one server or primary: the epoch marker
    and the proofs are read in one script)."""

    def __init__(
        self,
        url: str,
        *,
        now: Callable[[], float] = time.time,
        timeout: float = REDIS_TIMEOUT,
        window: ProofWindow | None = None,
        is_new: Callable[[], bool] = first_redis_epoch,
    ):
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        self.now = now
        self.window = window  # None: no epoch check (see the module docstring)
        self.is_new = is_new
        # One immediate retry: a pooled connection the server closed (a restart) costs no request.
        self.client = redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), 1),
        )
        # EVALSHA, loading the script again after a restart (redis-py's Script does).
        self._remember_since_epoch = self.client.register_script(REMEMBER_SINCE_EPOCH)
        self._errors = (redis.RedisError, OSError)

    def remember(self, key: str, expires_at: float) -> bool:
        """Record `key` until `expires_at`; False when it is already recorded and not expired.

        With a `window`, raise ReplayStoreReset for a proof issued before the epoch marker's time.
        """
        ttl_ms = max(1, math.ceil((expires_at - self.now()) * 1000))
        try:
            window = self.window
            if window is None:
                return bool(self.client.set(REDIS_KEY_PREFIX + key, b"1", nx=True, px=ttl_ms))
            issued_at = window.issued_at(expires_at)
            for _ in range(2):
                verdict = self._remember_since_epoch(
                    keys=[REDIS_KEY_PREFIX + EPOCH_MARKER, REDIS_KEY_PREFIX + key],
                    args=[repr(issued_at), ttl_ms],
                )
                if verdict[0] == -1:
                    self._start_epoch(window)
                    continue
                if verdict[0] == -2:
                    raise ReplayStoreReset(float(verdict[1]))
                return bool(verdict[0] == 1)
        except self._errors as exc:
            raise ReplayStoreUnavailable(f"Redis did not answer ({type(exc).__name__})") from None
        raise ReplayStoreUnavailable("Redis lost its epoch marker twice in a row")

    def _start_epoch(self, window: ProofWindow) -> None:
        """Write the marker Redis lacks: refusing nothing if Redis is new, else refusing what it
        may have forgotten."""
        new = self.is_new()
        not_before = 0.0 if new else self.now() + window.leeway
        marker = REDIS_KEY_PREFIX + EPOCH_MARKER
        if self.client.set(marker, repr(not_before), nx=True) and not new:
            logger.warning(
                "The DPoP replay store lost its memory (Redis has no epoch marker): proofs issued "
                "before %s are refused",
                _when(not_before),
                extra={"event": "dpop_replay_store_reset", "store": "redis"},
            )

    def is_available(self) -> bool:
        """Whether Redis answers a PING now (for /readyz)."""
        try:
            return bool(self.client.ping())
        except self._errors:
            return False


def build_replay_store(
    redis_url: str = "",
    *,
    now: Callable[[], float] = time.time,
    window: ProofWindow | None = None,
) -> RedisReplayStore | DatabaseReplayStore:
    """Redis when `redis_url` is set, else the database; with `window`, the epoch check."""
    if redis_url:
        return RedisReplayStore(redis_url, now=now, window=window)
    return DatabaseReplayStore(now=now, window=window)


def build_configured_replay_store() -> RedisReplayStore | DatabaseReplayStore:
    """The store the `AUTH0` setting describes, with the epoch check for its DPoP window."""
    config = get_auth0_settings()
    window = ProofWindow(
        lifetime=config.dpop_max_age + config.dpop_iat_leeway, leeway=config.dpop_iat_leeway
    )
    return build_replay_store(config.redis_url, window=window)


# --- The process-wide store -----------------------------------------------------------------------

_replay_store: ProcessWide[ReplayStore] = ProcessWide(build_configured_replay_store)


def get_replay_store() -> ReplayStore:
    """The store every request uses, built on first use from the `AUTH0` setting."""
    return _replay_store.get()


def reset_replay_store(store: ReplayStore | None = None) -> None:
    """Replace the process-wide store (tests); None rebuilds it on next use."""
    _replay_store.replace(store)
