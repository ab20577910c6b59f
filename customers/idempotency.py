"""Safe retries of a create: the `Idempotency-Key` request header (the IETF httpapi draft
draft-ietf-httpapi-idempotency-key-header, used as Stripe uses it).

A client that sends `POST /api/customers/` with `Idempotency-Key: <key>` and gets no answer (a
timeout, a dropped connection) sends the same request with the same key again, and gets the first
answer (status, body, `Location`) instead of a second customer or a "duplicate email" 400.

The rules (docs/customers.md):
- A key is 1 to 255 printable ASCII characters, without leading or trailing spaces (anything else
  is a 400); it belongs to its owner, the token's user: another user's identical key is another key.
- Kept: the answer of a create that ran, a 201 or its 400 refusal of the body (field messages,
  a duplicate email), committed in the transaction of the create itself, for 24 hours.
  Not kept, so the same key may be sent again: answers given before the create runs (400 for a
  bad key or malformed JSON, 401, 403, 413, 415), the 409 and 422 below, and every 5xx: the
  create's transaction, the key's row included, was rolled back, so nothing was stored.
- The same key with another request (another body, compared as parsed JSON) is a 422.
- A retry while the first request is still running waits for it (it blocks on the key's row until
  the first commits or rolls back) and then gets its answer, or runs itself if the first stored
  nothing; after `wait_seconds()` of waiting it is a 409 with `Retry-After` (PostgreSQL; SQLite
  runs one write at a time anyway, and a write that waits past its busy timeout is a 503).
- Expired keys are deleted at most once a minute per process, by the next request with a key.
"""

import hashlib
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from customers.models import IdempotencyKey

HEADER = "Idempotency-Key"
# Printable ASCII (RFC 8941 sf-string characters), no leading or trailing space: an HTTP server
# strips those from a header value anyway.
KEY_FORMAT = re.compile(r"[\x21-\x7e](?:[\x20-\x7e]{0,253}[\x21-\x7e])?")
KEY_FORMAT_MESSAGE = (
    "The Idempotency-Key header must be 1 to 255 printable ASCII characters, without leading "
    "or trailing spaces."
)
LIFETIME = timedelta(hours=24)
DEFAULT_WAIT_SECONDS = 5.0
PRUNE_INTERVAL_SECONDS = 60.0
IN_PROGRESS_RETRY_AFTER = "1"


class InvalidIdempotencyKey(ValueError):
    """The header is present but is not a key (400)."""


class IdempotencyKeyReused(Exception):
    """The key was used for another request (422)."""


class IdempotencyKeyInProgress(Exception):
    """The first request with the key is still running after the wait (409)."""


@dataclass(frozen=True)
class Answer:
    """A create's answer as the API sends it: status, JSON body, `Location` (or empty)."""

    status: int
    body: Any
    location: str = ""


def parse_key(value: str | None) -> str | None:
    """The key of an `Idempotency-Key` header value, None without the header."""
    if value is None:
        return None
    if not KEY_FORMAT.fullmatch(value):
        raise InvalidIdempotencyKey(KEY_FORMAT_MESSAGE)
    return value


def request_fingerprint(method: str, path: str, data: Any) -> str:
    """SHA-256 of the method, the path and the body as parsed (so key order and spacing in the
    JSON do not matter, and any other difference does)."""
    body = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{method}\n{path}\n{body}".encode()).hexdigest()


def wait_seconds() -> float:
    """How long a request waits for another one with the same key (PostgreSQL) before its 409."""
    return float(getattr(settings, "CUSTOMERS_IDEMPOTENCY_WAIT_SECONDS", DEFAULT_WAIT_SECONDS))


def answer_once(
    *, owner, key: str, fingerprint: str, perform: Callable[[], Answer]
) -> tuple[Answer, bool]:
    """`perform()`'s answer, run at most once per (owner, key): the stored answer (and True) for
    a retry; raises IdempotencyKeyReused or IdempotencyKeyInProgress."""
    prune_expired_keys()
    now = timezone.now()
    with transaction.atomic():
        record, created = _claim(owner, key, fingerprint, now)
        if not created:
            if record.fingerprint != fingerprint:
                raise IdempotencyKeyReused()
            return Answer(record.status, json.loads(record.body), record.location), True
        answer = perform()
        record.status = answer.status
        record.body = json.dumps(answer.body, cls=JSONEncoder, ensure_ascii=False)
        record.location = answer.location
        record.save(update_fields=["status", "body", "location"])
        return answer, False


def _claim(owner, key: str, fingerprint: str, now) -> tuple[IdempotencyKey, bool]:
    """This key's row, inserted in the current transaction (True), or the one already stored.

    While another transaction holds a row of this key it has not committed, the insert waits for
    it: a retry sent while the first request runs gets that request's answer, or runs itself if
    the first one rolled back.
    """
    try:
        with transaction.atomic(), _lock_wait_limited():
            IdempotencyKey.objects.filter(owner=owner, key=key, expires_at__lte=now).delete()
            record = IdempotencyKey.objects.create(
                owner=owner,
                key=key,
                fingerprint=fingerprint,
                created_at=now,
                expires_at=now + LIFETIME,
            )
            return record, True
    except IntegrityError:
        return IdempotencyKey.objects.get(owner=owner, key=key), False
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) == "55P03":  # lock_not_available
            raise IdempotencyKeyInProgress() from None
        raise


@contextmanager
def _lock_wait_limited() -> Iterator[None]:
    """On PostgreSQL, waits for a lock inside the block give up after `wait_seconds()`."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_setting('lock_timeout')")
        (previous,) = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true)", [f"{int(wait_seconds() * 1000)}ms"]
        )
    yield
    # (after an error, rolling back to the block's savepoint restores it)
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [previous])


class ExpiredKeyPruner:
    """Deletes expired keys, at most once per `interval` seconds of `clock` (in this process)."""

    def __init__(self, interval: float = PRUNE_INTERVAL_SECONDS, clock=time.monotonic):
        self.interval = interval
        self.clock = clock
        self.last_run: float | None = None
        self.lock = threading.Lock()

    def __call__(self) -> int:
        """How many keys were deleted (0 when it is not time yet)."""
        with self.lock:
            now = self.clock()
            if self.last_run is not None and now - self.last_run < self.interval:
                return 0
            self.last_run = now
        deleted, _ = IdempotencyKey.objects.filter(expires_at__lte=timezone.now()).delete()
        return deleted


prune_expired_keys = ExpiredKeyPruner()
