"""Concurrent requests with one Idempotency-Key, over real HTTP (the live test server, a thread per
request) on SQLite and PostgreSQL: one customer, whatever the timing.

On PostgreSQL the test also holds the first request in flight (its own LOCK TABLE stops the
insert after the key's row is written): a retry waits for it and gets its answer, runs itself when
the first one is cut off, or is a 409 when the first runs longer than the wait.
"""

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import psycopg
import pytest
from django.db import connection

from customers.models import Customer, IdempotencyKey

pytestmark = pytest.mark.django_db(transaction=True)
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="SQLite runs one write at a time"
)

SCOPES = "read:customers write:customers"
ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}
KEY = "3f1c0a52-5d4e-4bd1-9b07-2f3d1a8c6e90"
IN_PROGRESS = {
    "detail": "A request with this Idempotency-Key is still being processed. Try again shortly."
}


class Client:
    """POSTs to the live server, each on its own connection."""

    def __init__(self, live_server, token: str):
        address = urlsplit(live_server.url)
        self.host, self.port = address.hostname, address.port
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, body: dict, key: str = KEY) -> tuple[int, dict, dict]:
        """(status, headers, JSON body)."""
        client = http.client.HTTPConnection(self.host, self.port, timeout=60)
        try:
            headers = {**self.headers, "Idempotency-Key": key}
            client.request("POST", "/api/customers/", json.dumps(body), headers)
            response = client.getresponse()
            return response.status, dict(response.headers), json.loads(response.read())
        finally:
            client.close()


@pytest.fixture
def client(live_server, make_token):
    client = Client(live_server, make_token(sub="auth0|alice", scope=SCOPES))
    assert client.post({**ADA, "email": "warm-up@example.com"}, key="warm-up")[0] == 201
    return client


def test_concurrent_requests_with_one_key_store_one_customer(client):
    start = threading.Barrier(8)

    def one(_):
        start.wait()
        return client.post(ADA)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(one, range(8)))

    assert [status for status, _, _ in answers] == [201] * 8
    assert len({json.dumps(body) for _, _, body in answers}) == 1  # one customer, eight times
    replayed = [headers.get("Idempotent-Replayed") for _, headers, _ in answers]
    assert sorted(replayed, key=str) == [None] + ["true"] * 7
    assert Customer.objects.filter(email="ada@example.com").count() == 1
    assert IdempotencyKey.objects.filter(key=KEY).count() == 1


# --- The first request held in flight (PostgreSQL) ------------------------------------------------


def other_connection(*, autocommit: bool = True) -> psycopg.Connection:
    """A connection to the test database of the test's own."""
    settings = connection.settings_dict
    return psycopg.connect(
        host=settings["HOST"] or "127.0.0.1",
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        password=settings["PASSWORD"] or None,
        dbname=settings["NAME"],
        autocommit=autocommit,
    )


def waiting_backends(monitor: psycopg.Connection, count: int, timeout: float = 15.0) -> list[int]:
    """The process ids of the `count` sessions waiting for a lock (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = monitor.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "ORDER BY query_start"
        ).fetchall()
        if len(rows) >= count:
            return rows
        time.sleep(0.02)
    raise AssertionError(f"{count} sessions never waited for a lock")


@pytest.fixture
def held():
    """A connection of the test's own that holds back every insert into customers."""
    holder = other_connection(autocommit=False)
    holder.execute("LOCK TABLE customers_customer IN EXCLUSIVE MODE")
    yield holder
    holder.close()


@postgresql_only
def test_a_retry_while_the_first_request_runs_waits_and_gets_its_answer(client, held):
    with ThreadPoolExecutor(2) as pool, other_connection() as monitor:
        first = pool.submit(client.post, ADA)
        waiting_backends(monitor, 1)  # the first: key row written, insert waiting
        retry = pool.submit(client.post, ADA)
        waiting_backends(monitor, 2)  # the retry: waiting for the first one's key row
        held.rollback()  # the first request goes on
        (status, headers, body), (retry_status, retry_headers, retry_body) = (
            first.result(timeout=30),
            retry.result(timeout=30),
        )
    assert (status, retry_status) == (201, 201)
    assert retry_body == body
    assert "Idempotent-Replayed" not in headers
    assert retry_headers["Idempotent-Replayed"] == "true"
    assert Customer.objects.filter(email="ada@example.com").count() == 1


@postgresql_only
def test_a_retry_waiting_for_a_first_request_that_is_cut_off_runs_itself(client, held):
    with ThreadPoolExecutor(2) as pool, other_connection() as monitor:
        first = pool.submit(client.post, ADA)
        [(first_backend, query)] = waiting_backends(monitor, 1)
        assert query.startswith('INSERT INTO "customers_customer"'), query
        retry = pool.submit(client.post, ADA)
        waiting_backends(monitor, 2)
        # The first request's database session dies: its transaction, key row included, is gone.
        monitor.execute("SELECT pg_terminate_backend(%s)", [first_backend])
        status, headers, body = first.result(timeout=30)
        assert (status, headers["Retry-After"]) == (503, "5")
        waiting_backends(monitor, 1)  # the retry now writes the key and waits for the table
        held.rollback()
        retry_status, retry_headers, retry_body = retry.result(timeout=30)
    assert retry_status == 201
    assert "Idempotent-Replayed" not in retry_headers  # it ran: the first stored nothing
    assert Customer.objects.filter(email="ada@example.com").count() == 1


@postgresql_only
def test_a_retry_is_409_when_the_first_request_runs_longer_than_the_wait(client, held, settings):
    settings.CUSTOMERS_IDEMPOTENCY_WAIT_SECONDS = 0.3
    with ThreadPoolExecutor(1) as pool, other_connection() as monitor:
        first = pool.submit(client.post, ADA)
        waiting_backends(monitor, 1)
        status, headers, body = client.post(ADA)
        assert (status, headers["Retry-After"], body) == (409, "1", IN_PROGRESS)
        status, _, _ = client.post({**ADA, "name": "Another body"})  # unknown yet: also 409
        assert status == 409
        held.rollback()
        assert first.result(timeout=30)[0] == 201
    status, headers, _ = client.post(ADA)
    assert (status, headers["Idempotent-Replayed"]) == (201, "true")
    assert Customer.objects.filter(email="ada@example.com").count() == 1
