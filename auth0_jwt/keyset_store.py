"""The last good JWKS in the database, where every worker of every instance reads it: the key
store's persistence (keystore.py `KeySetPersistence`), so that a worker started while the identity
provider is unreachable (a reload, a replaced worker, a deploy) begins from the key set its
siblings fetched instead of answering 503.

One `PersistedKeySet` row per JWKS URL: the document as the key store kept it (public keys only),
when it was fetched, and an HMAC of both keyed from SECRET_KEY, which every instance of one
deployment shares, so that a row written by anything but this service is not used. How old a
saved key set may be is the key store's rule (`persisted_max_age`); it parses and checks the
document exactly as a fetched one.

It is a second source, best effort: each read and write runs on a database connection of its own,
in a thread of its own, for at most `timeout` seconds, so it never joins (or breaks) the
transaction of the request that happened to trigger a fetch and never holds it up longer than
that. Failures are raised for the key store, which logs them and carries on.
"""

import hashlib
import hmac
import json
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import DatabaseError, connections, router

T = TypeVar("T")

DEFAULT_TIMEOUT = 2.0  # seconds a read or a write may take before the key store goes on without it


class KeySetStoreUnavailable(Exception):
    """The saved key set could not be read or written; `str()` says why in a few words."""


class DatabaseKeySetStore:
    """The saved JWKS of `jwks_url` in the `PersistedKeySet` table."""

    def __init__(self, jwks_url: str, *, secret: str, timeout: float = DEFAULT_TIMEOUT):
        self.jwks_url = jwks_url
        self.url_hash = hashlib.sha256(jwks_url.encode()).hexdigest()
        self.timeout = timeout
        self._key = hashlib.sha256(b"auth0_jwt.keyset_store\n" + secret.encode()).digest()

    def load(self) -> tuple[dict[str, Any], float] | None:
        """The saved document and when it was fetched, or None (none saved, or not by us)."""
        row = self._in_own_thread(self._read)
        if row is None:
            return None
        document, fetched_at, signature = row
        if not hmac.compare_digest(signature, self._sign(document, fetched_at)):
            raise KeySetStoreUnavailable(
                "the saved JWKS is not signed with this deployment's SECRET_KEY"
            )
        try:
            return json.loads(document), fetched_at
        except ValueError:
            raise KeySetStoreUnavailable("the saved JWKS is not JSON") from None

    def save(self, document: dict[str, Any], fetched_at: float) -> None:
        """Keep `document`, unless the row holds one fetched later (by another process)."""
        text = json.dumps(document, sort_keys=True, separators=(",", ":"))
        fetched_at = round(fetched_at, 3)
        self._in_own_thread(lambda: self._write(text, fetched_at, self._sign(text, fetched_at)))

    def _sign(self, document: str, fetched_at: float) -> str:
        message = f"{self.jwks_url}\n{fetched_at:.3f}\n{document}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    # -- The database, from a thread of its own --

    def _read(self) -> tuple[str, float, str] | None:
        from auth0_jwt.models import PersistedKeySet

        return (
            PersistedKeySet.objects.using(router.db_for_read(PersistedKeySet))
            .filter(pk=self.url_hash)
            .values_list("document", "fetched_at", "signature")
            .first()
        )

    def _write(self, document: str, fetched_at: float, signature: str) -> None:
        from auth0_jwt.models import PersistedKeySet

        connection = connections[router.db_for_write(PersistedKeySet)]
        quote = connection.ops.quote_name
        table = quote(PersistedKeySet._meta.db_table)
        columns = ("jwks_url_hash", "jwks_url", "document", "fetched_at", "signature")
        updates = ", ".join(f"{quote(name)} = excluded.{quote(name)}" for name in columns[1:])
        # One statement, so two processes saving at once keep the later fetch.
        sql = (
            f"INSERT INTO {table} ({', '.join(quote(name) for name in columns)}) "  # noqa: S608
            f"VALUES (%s, %s, %s, %s, %s) ON CONFLICT ({quote('jwks_url_hash')}) "
            f"DO UPDATE SET {updates} WHERE {table}.{quote('fetched_at')} < excluded."
            f"{quote('fetched_at')}"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [self.url_hash, self.jwks_url, document, fetched_at, signature])

    def _in_own_thread(self, work: Callable[[], T]) -> T | None:
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["value"] = work()
            except DatabaseError as exc:
                outcome["error"] = f"the database did not answer ({type(exc).__name__})"
            except Exception as exc:  # noqa: BLE001 - reported to the key store, which logs it
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            finally:
                connections.close_all()  # this thread's connections: it ends here

        thread = threading.Thread(target=run, name="jwks-saved-key-set", daemon=True)
        thread.start()
        thread.join(self.timeout)
        if thread.is_alive():
            raise KeySetStoreUnavailable(f"the database did not answer within {self.timeout:g} s")
        if "error" in outcome:
            raise KeySetStoreUnavailable(outcome["error"])
        return outcome.get("value")
