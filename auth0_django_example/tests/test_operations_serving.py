"""The default server's operational promises that no other served test shows (issue 19: the server
chosen again by measurement keeps the whole list): a SIGTERM lets the request in flight finish
(within GUNICORN_GRACEFUL_TIMEOUT) and then exits 0; a hung request is cut at GUNICORN_TIMEOUT and
its worker replaced; X-Forwarded-Proto and X-Forwarded-For count only from the proxies in
FORWARDED_ALLOW_IPS.

A request is held up for real: another connection holds SQLite's write lock, so a create waits in
the database (the settings' busy timeout is 20 s) until the test lets go. SQLite runs only: the
PostgreSQL outage and restart tests are test_serving.py and test_database_errors_serving.py.
"""

import http.client
import json
import shutil
import signal
import sqlite3
import threading
import time
from contextlib import closing, contextmanager
from pathlib import Path

import pytest
from django.db import connection

from auth0_django_example.tests.support import HOST, PROXIED
from conftest import bearer

pytestmark = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="holds SQLite's write lock to keep a request in flight"
)

ORIGINS = {"DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{HOST}"}
ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}


@pytest.fixture
def database_file(migrated_sqlite, tmp_path) -> Path:
    path = tmp_path / "db.sqlite3"
    shutil.copy(migrated_sqlite, path)
    return path


@pytest.fixture
def served_variables(static_root, database_file, jwks_server) -> dict[str, str]:
    return {
        **ORIGINS,
        "AUTH0_JWKS_URL": jwks_server.jwks_url,
        "DATABASE_URL": f"sqlite:///{database_file}",
        "DJANGO_STATIC_ROOT": str(static_root),
        "WEB_CONCURRENCY": "1",
    }


@contextmanager
def write_lock_held(path: Path):
    """Another connection holds the database's write lock until the block ends."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        other.execute("COMMIT")
        other.close()


def post_customer(port: int, token: str, outcome: dict, timeout: float = 60) -> None:
    """POST /api/customers/ through the proxy; the status (or the error) lands in `outcome`."""
    client = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        client.request(
            "POST",
            "/api/customers/",
            body=json.dumps(ADA),
            headers={
                **PROXIED,
                "Content-Type": "application/json",
                "Authorization": bearer(token)["HTTP_AUTHORIZATION"],
            },
        )
        outcome["status"] = client.getresponse().status
    except (OSError, http.client.HTTPException) as exc:
        outcome["error"] = type(exc).__name__
    finally:
        client.close()


def sockets_of(pid: int) -> set[str]:
    links = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            links.add(str(fd.readlink()))
        except OSError:  # closed meanwhile
            continue
    return {link for link in links if link.startswith("socket:")}


def in_flight(server, token: str) -> tuple[threading.Thread, dict]:
    """A create started in a thread; returns once the (only) worker holds its connection and has
    not answered: the request waits on the write lock."""
    (worker,) = worker_pids(server)
    idle = sockets_of(worker)
    outcome: dict = {}
    thread = threading.Thread(target=post_customer, args=(server.port, token, outcome))
    thread.start()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not outcome:
        if sockets_of(worker) - idle:
            return thread, outcome
        time.sleep(0.02)
    raise AssertionError(f"the worker never took the request: {outcome}")


def worker_pids(server) -> list[int]:
    children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text()
    return [int(pid) for pid in children.split()]


def test_sigterm_lets_the_request_in_flight_finish_then_exits_0(serve, database_file, make_token):
    server = serve()
    token = make_token(scope="read:customers write:customers")
    with write_lock_held(database_file):
        thread, outcome = in_flight(server, token)
        server.process.send_signal(signal.SIGTERM)
        # The worker stops after this request: SIGTERM waits (up to GUNICORN_GRACEFUL_TIMEOUT)
        # for the request that is still waiting on the database.
        assert server.process.poll() is None
        assert outcome == {}
    thread.join(timeout=30)
    assert outcome == {"status": 201}
    assert server.process.wait(timeout=30) == 0
    with closing(sqlite3.connect(database_file)) as db:
        assert db.execute("SELECT count(*) FROM customers_customer").fetchone() == (1,)


def test_a_hung_request_is_cut_at_gunicorn_timeout_and_its_worker_replaced(
    serve, database_file, make_token
):
    server = serve(GUNICORN_TIMEOUT="2")
    token = make_token(scope="read:customers write:customers")
    (hung_worker,) = worker_pids(server)
    with write_lock_held(database_file):  # held well past the timeout (the busy timeout is 20 s)
        started = time.monotonic()
        thread, outcome = in_flight(server, token)
        thread.join(timeout=15)
        cut_after = time.monotonic() - started
        # The connection is closed without an answer (a proxy in front answers 502), long before
        # the database would have let go, and a new worker serves the next request.
        assert outcome["error"] in ("RemoteDisconnected", "ConnectionResetError")
        assert cut_after < 10
        answer = server.get("/api/public/", headers=PROXIED)
        assert answer.status == 200
        assert worker_pids(server) != [hung_worker]
    assert f"WORKER TIMEOUT (pid:{hung_worker})" in server.log_text()
    assert server.stop() == 0
    with closing(sqlite3.connect(database_file)) as db:
        assert db.execute("SELECT count(*) FROM customers_customer").fetchone() == (0,)


def access_records(server, path: str) -> list[dict]:
    return [
        record
        for record in server.log_records()
        if record.get("event") == "http_access" and record.get("path") == path
    ]


def test_forwarded_headers_count_only_from_the_trusted_proxies(serve):
    """The FORWARDED_ALLOW_IPS way (docs/deploying.md; the other, DJANGO_SECURE_PROXY_SSL_HEADER,
    is for networks where only the proxy reaches the instances)."""
    forged = {**PROXIED, "X-Forwarded-For": "203.0.113.9"}
    # 127.0.0.1 is not a trusted proxy here: its X-Forwarded-Proto does not make the request
    # HTTPS (plain HTTP is redirected), and its X-Forwarded-For is not the client.
    untrusted = serve(
        "untrusted", FORWARDED_ALLOW_IPS="192.0.2.1", DJANGO_SECURE_PROXY_SSL_HEADER=""
    )
    answer = untrusted.get("/api/public/", headers=forged)
    assert (answer.status, answer.headers["Location"]) == (301, f"https://{HOST}/api/public/")
    assert untrusted.stop() == 0
    assert [r["client"] for r in access_records(untrusted, "/api/public/")] == ["127.0.0.1"]

    # The default trusts the proxy on the same host: both headers count.
    trusted = serve("trusted", DJANGO_SECURE_PROXY_SSL_HEADER="")
    answer = trusted.get("/api/public/", headers=forged)
    assert answer.status == 200
    assert trusted.stop() == 0
    assert [r["client"] for r in access_records(trusted, "/api/public/")] == ["203.0.113.9"]
