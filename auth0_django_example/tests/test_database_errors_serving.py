"""PostgreSQL restarts while inserts are in flight under gunicorn: every answer is a 201 or a 503
with Retry-After, never a 500 or a traceback; every 201 is stored exactly once and nothing is
stored for a 503.

The test starts a throwaway PostgreSQL server of its own on a free loopback port (whatever database
the suite runs on), migrates it, serves it with gunicorn (2 gthread workers), holds several POST
/api/customers/ inserts in flight behind a `LOCK TABLE` of its own connection, and restarts the
server with `pg_ctl restart -m fast` while a client keeps reading and writing. Skipped only where
PostgreSQL's server binaries are not installed (`make test-postgres` installs them, so that run
never skips it).
"""

import http.client
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection

from auth0_django_example.tests.support import (
    PROXIED,
    Answer,
    manage,
    production_environment,
)

DATABASE_UNAVAILABLE = {"detail": "The service's database is unavailable. Try again shortly."}
SCOPES = "read:customers write:customers"
HELD_WRITES = 6
JSON = {"Content-Type": "application/json"}


def postgresql_binaries() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (a client-only package has no initdb)."""
    found = None
    for folder in sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name)
    ):
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            found = folder
    return found


class ThrowawayPostgreSQL:
    """A PostgreSQL server in a temporary folder, on 127.0.0.1 and a free port, trusting local
    connections; as root it runs as the `postgres` user (initdb refuses root)."""

    def __init__(self, binaries: Path):
        self.binaries = binaries
        self.folder = Path(tempfile.mkdtemp(prefix="pg-restart-"))
        self.data = self.folder / "data"
        self.as_owner: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_owner = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/auth0_example"

    def _run(self, *arguments: str) -> None:
        result = subprocess.run(  # noqa: S603 - PostgreSQL's own programs
            [*self.as_owner, *arguments], capture_output=True, text=True, timeout=90, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr + self.server_log()

    def start(self) -> "ThrowawayPostgreSQL":
        self._run(
            str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._pg_ctl("start", "-o", options)
        import psycopg

        with psycopg.connect(self.admin_url("postgres"), autocommit=True) as db:
            db.execute("CREATE DATABASE auth0_example")
        return self

    def _pg_ctl(self, action: str, *arguments: str) -> None:
        self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-l",
            str(self.folder / "server.log"), "-w", "-t", "60", action, *arguments,
        )  # fmt: skip

    def restart(self) -> None:
        """A fast restart: every session is terminated, open transactions are rolled back."""
        self._pg_ctl("restart", "-m", "fast")

    def admin_url(self, database: str = "auth0_example") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def server_log(self) -> str:
        log = self.folder / "server.log"
        return log.read_text(errors="replace") if log.exists() else ""

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(  # noqa: S603
                [*self.as_owner, str(self.binaries / "pg_ctl"), "-D", str(self.data),
                 "-m", "immediate", "-w", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgresql():
    binaries = postgresql_binaries()
    if binaries is None:
        if connection.vendor == "postgresql":  # make test-postgres found them: they must be here
            pytest.fail("PostgreSQL's server binaries are missing under /usr/lib/postgresql")
        pytest.skip("PostgreSQL's server binaries are not installed (make test-postgres does it)")
    server = ThrowawayPostgreSQL(binaries)
    try:
        server.start()
        result = manage("migrate", "--noinput", env=production_environment(DATABASE_URL=server.url))
        assert result.returncode == 0, result.stderr
        yield server
    finally:
        server.stop()


@pytest.fixture
def served_variables(static_root, jwks_server, postgresql) -> dict[str, str]:
    return {
        "AUTH0_JWKS_URL": jwks_server.jwks_url,
        "DATABASE_URL": postgresql.url,
        "DJANGO_STATIC_ROOT": str(static_root),
    }


def send(server, method: str, path: str, headers: dict, body: bytes = b"") -> Answer:
    """One request with a body (support.http_get sends none)."""
    client = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        client.request(method, path, body=body or None, headers=headers)
        response = client.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        client.close()


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def waiting_on_a_lock(postgresql, count: int, timeout: float = 15.0) -> bool:
    """Whether `count` sessions are waiting for a lock (within `timeout` seconds)."""
    import psycopg

    query = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
    with psycopg.connect(postgresql.admin_url(), autocommit=True) as db:
        return wait_for(lambda: db.execute(query).fetchone()[0] >= count, timeout)


def test_a_postgresql_restart_under_writes_answers_201_or_503_and_stores_each_201_once(
    serve, postgresql, make_token
):
    import psycopg

    # As many threads per worker as writes held: however the two workers share the connections
    # out, every held insert reaches the database instead of queueing behind the others.
    server = serve(WEB_CONCURRENCY="2", GUNICORN_THREADS=str(HELD_WRITES))
    token = make_token(sub="auth0|writer", scope=SCOPES)
    headers = {**PROXIED, "Authorization": f"Bearer {token}"}
    numbers = itertools.count()  # (its next() is atomic: the client threads share it)
    answers: list[tuple[str, str, Answer]] = []  # (kind of request, email, answer)
    lock = threading.Lock()

    def post(kind: str) -> Answer:
        email = f"customer-{next(numbers)}@example.com"
        body = json.dumps({"name": "Customer", "email": email}).encode()
        answer = send(server, "POST", "/api/customers/", {**headers, **JSON}, body)
        with lock:
            answers.append((kind, email, answer))
        return answer

    assert post("before").status == 201  # the user exists, each worker's connection is pooled

    # Inserts held in flight: this connection locks the table (reads still pass).
    holder = psycopg.connect(postgresql.admin_url())
    holder.execute("LOCK TABLE customers_customer IN EXCLUSIVE MODE")
    with ThreadPoolExecutor(HELD_WRITES) as held:
        futures = [held.submit(post, "held") for _ in range(HELD_WRITES)]
        assert waiting_on_a_lock(postgresql, HELD_WRITES), "the inserts never reached the lock"

        # A client keeps reading and writing through the restart.
        restarted = threading.Event()

        def load():
            while not restarted.is_set():
                post("during")
                listing = send(server, "GET", "/api/customers/", headers)
                with lock:
                    answers.append(("list", "", listing))

        loader = threading.Thread(target=load, daemon=True)
        loader.start()
        started = time.monotonic()
        postgresql.restart()
        restart_seconds = time.monotonic() - started
        for future in futures:
            future.result(timeout=60)
        served_since = len(answers)
        # Some more of the client's requests reach the restarted server before it stops.
        assert wait_for(lambda: [a.status for _, _, a in answers[served_since:]].count(201) >= 3)
        restarted.set()
        loader.join(timeout=60)
    holder.close()

    # After the restart the service writes again, without a restart of its own.
    after = [post("after") for _ in range(4)]
    assert [answer.status for answer in after] == [201] * 4
    server.stop()

    for kind, _email, answer in answers:
        assert answer.status in ((200 if kind == "list" else 201), 503), (kind, answer.body)
        if answer.status == 503:
            assert (answer.json(), answer.headers["Retry-After"]) == (DATABASE_UNAVAILABLE, "5")
    held_statuses = [a.status for kind, _, a in answers if kind == "held"]
    assert 503 in held_statuses, held_statuses  # the inserts cut off by the restart

    with psycopg.connect(postgresql.admin_url()) as db:
        stored = dict(
            db.execute("SELECT email, count(*) FROM customers_customer GROUP BY email").fetchall()
        )
    for kind, email, answer in answers:
        if kind == "list":
            continue
        if answer.status == 201:
            assert stored.get(email) == 1, (kind, email)
            assert answer.json()["email"] == email
        else:
            assert email not in stored, (kind, email)
    log = server.log_text()
    assert "Traceback" not in log
    assert '"status": 500' not in log
    counts = Counter((kind, answer.status) for kind, _, answer in answers)
    print(f"restart: {restart_seconds:.1f} s; answers by kind and status: {dict(counts)}")
