"""The production path end to end: gunicorn with gunicorn.conf.py and the production settings,
static files collected and served by WhiteNoise, JSON logs, the start-up refusal, and a real
database outage (SQLite: the file disappears; PostgreSQL: every connection is cut) that answers 503
and heals without a restart.

Each test starts its own gunicorn on 127.0.0.1 with a port the OS picks, keys from the jwks_server
fixture, and stops it (SIGTERM) at the end.
"""

import itertools
import json
import shutil
import sqlite3
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
from django.db import connection

from auth0_django_example.tests.support import (
    HOST,
    PROJECT_DIR,
    PROXIED,
    PYTHON,
    TCPRelay,
    clean_environment,
    production_environment,
)
from conftest import ISSUER, KID, bearer

# On PostgreSQL the served process uses the test database (the `database` fixture). pytest-django
# sets up only the databases that tests declare, so the module declares it: a run of this file alone
# has no other database test to make pytest-django create it.
pytestmark = [pytest.mark.django_db(transaction=True)] if connection.vendor == "postgresql" else []

APP = "https://app.example.test"
# What this module adds to the production environment of every process it starts.
ORIGINS = {"DJANGO_CSRF_TRUSTED_ORIGINS": f"https://{HOST}", "CORS_ALLOWED_ORIGINS": APP}
DATABASE_UNAVAILABLE = {"detail": "The service's database is unavailable. Try again shortly."}


# --- Fixtures: a database the served process can use, and what each server is given -------------


class SQLiteOutage:
    """The database file's folder is moved away (every open then fails) and back."""

    conn_max_age = "0"  # an open SQLite connection keeps working on a moved file

    def __init__(self, template: Path, folder: Path):
        folder.mkdir()
        shutil.copy(template, folder / "db.sqlite3")
        self.folder, self.away = folder, folder.with_name(folder.name + "-away")
        self.url = f"sqlite:///{folder / 'db.sqlite3'}"

    def down(self):
        self.folder.rename(self.away)

    def up(self):
        self.away.rename(self.folder)

    def close(self):
        if self.away.exists():
            self.up()


class PostgreSQLOutage:
    """The served process reaches the test database through a relay that cuts every connection
    and refuses new ones, as a crashed or unreachable server would."""

    conn_max_age = "60"  # the production default: pooled connections must be health-checked

    def __init__(self, settings_dict: dict):
        self.relay = TCPRelay(settings_dict["HOST"] or "127.0.0.1", int(settings_dict["PORT"]))
        user, password = settings_dict["USER"], settings_dict["PASSWORD"]
        credentials = f"{user}:{password}" if password else user
        self.url = f"postgres://{credentials}@127.0.0.1:{self.relay.port}/{settings_dict['NAME']}"

    def down(self):
        self.relay.cut()

    def up(self):
        self.relay.restore()

    def close(self):
        self.relay.close()


@pytest.fixture
def database(request, tmp_path):
    """A database for the served process, with a switch to take it down and bring it back."""
    if connection.vendor == "postgresql":
        request.getfixturevalue("transactional_db")  # the test database, emptied afterwards
        outage = PostgreSQLOutage(connection.settings_dict)
    else:
        outage = SQLiteOutage(request.getfixturevalue("migrated_sqlite"), tmp_path / "database")
    yield outage
    outage.close()


@pytest.fixture
def served_variables(static_root, database, jwks_server) -> dict[str, str]:
    """What `serve` gives every server of this module (tests add their own)."""
    return {
        **ORIGINS,
        "AUTH0_JWKS_URL": jwks_server.jwks_url,
        "DATABASE_URL": database.url,
        "DATABASE_CONN_MAX_AGE": database.conn_max_age,
        "DJANGO_STATIC_ROOT": str(static_root),
    }


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def manifest(static_root: Path) -> dict[str, str]:
    return json.loads((static_root / "staticfiles.json").read_text())["paths"]


# --- Serving --------------------------------------------------------------------------------------


def test_gunicorn_serves_the_api_behind_a_tls_proxy(serve, jwks_server, make_token):
    server = serve(WEB_CONCURRENCY="2")  # the default worker: sync
    # Each worker process loads the keys once at start, in the background (no preload).
    assert wait_for(lambda: jwks_server.fetches >= 2)

    answer = server.get("/api/public/", headers=PROXIED)
    assert answer.status == 200
    assert answer.headers["Strict-Transport-Security"] == (
        "max-age=31536000; includeSubDomains; preload"
    )
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Referrer-Policy"] == "same-origin"

    answer = server.get("/api/private/", headers={**PROXIED, **bearer_header(make_token())})
    assert (answer.status, answer.json()["sub"]) == (200, "auth0|user-1")

    # Plain HTTP (no X-Forwarded-Proto from the proxy) is redirected; health probes are not.
    answer = server.get("/api/public/", headers={"Host": HOST})
    assert (answer.status, answer.headers["Location"]) == (301, f"https://{HOST}/api/public/")
    assert server.get("/healthz").status == 200

    preflight = server.get(
        "/api/private/",
        method="OPTIONS",
        headers={
            **PROXIED,
            "Origin": APP,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )
    assert (preflight.status, preflight.headers["Access-Control-Allow-Origin"]) == (200, APP)

    assert server.stop() == 0
    assert jwks_server.fetches == 2


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": bearer(token)["HTTP_AUTHORIZATION"]}


STATIC_FILES = (
    "admin/css/base.css",
    "rest_framework/css/bootstrap.min.css",
    "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
)


def test_static_files_are_served_hashed_compressed_and_cached_for_ever(serve, static_root):
    server = serve(WEB_CONCURRENCY="1")
    for name in STATIC_FILES:
        hashed = manifest(static_root)[name]
        assert hashed != name
        answer = server.get(f"/static/{hashed}", headers={**PROXIED, "Accept-Encoding": "gzip"})
        assert answer.status == 200, name
        assert answer.headers["Content-Encoding"] == "gzip"
        assert answer.headers["Cache-Control"] == "max-age=315360000, public, immutable"
        assert len(answer.body) < (static_root / hashed).stat().st_size

    # The browsable API and Swagger UI link the hashed names.
    page = server.get("/api/public/", headers={**PROXIED, "Accept": "text/html"})
    bootstrap = manifest(static_root)["rest_framework/css/bootstrap.min.css"]
    assert page.status == 200
    assert f'href="/static/{bootstrap}"'.encode() in page.body
    docs = server.get("/api/docs/", headers=PROXIED)
    swagger = manifest(static_root)["drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js"]
    assert docs.status == 200
    assert f"/static/{swagger}".encode() in docs.body


# --- Logs -----------------------------------------------------------------------------------------


def test_logs_are_json_with_request_ids_and_never_hold_a_token(serve, make_token):
    server = serve(WEB_CONCURRENCY="1")
    good, expired = (
        make_token(),
        make_token(exp=int(time.time()) - 3600, iat=int(time.time()) - 7200),
    )
    server.get("/api/private/", headers={**PROXIED, **bearer_header(good)})
    rejected = server.get(
        "/api/private/", headers={**PROXIED, **bearer_header(expired), "X-Request-ID": "edge-1"}
    )
    assert (rejected.status, rejected.headers["X-Request-ID"]) == (401, "edge-1")
    in_url = server.get(f"/api/private/?access_token={good}", headers=PROXIED)
    assert in_url.status == 400
    server.stop()

    records = server.log_records()  # fails on any line that is not JSON
    [rejection] = [r for r in records if r.get("event") == "token_rejected"]
    assert {k: rejection[k] for k in ("level", "reason", "kid", "iss", "client", "request_id")} == {
        "level": "INFO",
        "reason": "The token has expired.",
        "kid": KID,
        "iss": ISSUER,
        "client": "127.0.0.1",
        "request_id": "edge-1",
    }
    fetches = [r for r in records if r.get("event") == "jwks_fetch"]
    assert [(r["outcome"], r["key_count"]) for r in fetches] == [("ok", 1)]
    access = [r for r in records if r.get("event") == "http_access" and r["path"] != "/readyz"]
    # (each line is written once its answer is sent, so they may come out of order)
    assert sorted((r["method"], r["path"], r["status"]) for r in access) == [
        ("GET", "/api/private/", 200),
        ("GET", "/api/private/", 400),
        ("GET", "/api/private/", 401),
    ]
    request_ids = {r["status"]: r["request_id"] for r in access}
    assert (request_ids[401], request_ids[400]) == ("edge-1", in_url.headers["X-Request-ID"])

    text = server.log_text()
    for token in (good, expired):
        assert token not in text
        assert token.split(".")[2] not in text
    assert "Bearer" not in text
    assert "Traceback" not in text


# --- Start-up refusal -----------------------------------------------------------------------------


def run_gunicorn(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter and config
        [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
        cwd=PROJECT_DIR,
        env={**env, "GUNICORN_BIND": "127.0.0.1:0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_gunicorn_refuses_to_start_naming_each_missing_production_variable():
    result = run_gunicorn(clean_environment(DJANGO_DEBUG="0", WEB_CONCURRENCY="1"))
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[-1] == "Refusing to start: 3 configuration error(s) above."
    assert sorted(lines[-4:-1]) == [
        'AUTH0["LOCAL_ISSUER"] is on while DEBUG is off: locally minted tokens are for '
        'development only; set AUTH0["DOMAIN"] and AUTH0["AUDIENCE"] for your Auth0 tenant and '
        "API. (auth0_jwt.E001)",
        "DJANGO_ALLOWED_HOSTS is not set (required with DJANGO_DEBUG off): list the host names "
        "this service answers to, e.g. api.example.com. (auth0_django_example.E002)",
        "DJANGO_SECRET_KEY is not set (required with DJANGO_DEBUG off): generate one with "
        'python -c "import secrets; print(secrets.token_urlsafe(50))". '
        "(auth0_django_example.E001)",
    ]
    assert "Listening at" not in result.stderr
    assert "Booting worker" not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        ("GUNICORN_THREADS", "lots", "GUNICORN_THREADS must be a whole number >= 1, got 'lots'."),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be a whole number >= 1, got '0'."),
        ("GUNICORN_TIMEOUT", "-5", "GUNICORN_TIMEOUT must be a whole number >= 1, got '-5'."),
    ],
)
def test_gunicorn_refuses_a_bad_setting_with_one_line(name, value, line):
    result = run_gunicorn(production_environment(**ORIGINS, **{name: value}))
    assert (result.returncode, result.stderr) == (1, line + "\n")


# --- Deactivation reaches every worker ----------------------------------------------------------


def deactivate(database, username: str) -> None:
    """Set the user inactive in the served process's database, as the admin would."""
    # Its own connection, committed at once: the test's may be inside a transaction.
    if connection.vendor == "postgresql":
        import psycopg

        with psycopg.connect(database.url, autocommit=True) as db:
            db.execute("UPDATE auth_user SET is_active = false WHERE username = %s", (username,))
        return
    with closing(sqlite3.connect(database.url.removeprefix("sqlite:///"))) as db, db:
        db.execute("UPDATE auth_user SET is_active = 0 WHERE username = ?", (username,))


def test_a_deactivated_user_is_refused_on_the_next_request_in_every_worker(
    serve, database, make_token
):
    server = serve(WEB_CONCURRENCY="2")
    token = make_token(sub="auth0|leaver")
    counter = itertools.count()

    def burst(requests=16, clients=4) -> dict[str, int]:
        """Concurrent requests (so that both sync workers serve some); status by request id."""

        def one(_):
            request_id = f"deactivation-{next(counter)}"
            headers = {**PROXIED, **bearer_header(token), "X-Request-ID": request_id}
            return request_id, server.get("/api/private/", headers=headers).status

        with ThreadPoolExecutor(clients) as pool:
            return dict(pool.map(one, range(requests)))

    def served_by_both_workers() -> dict[str, int]:
        """Bursts until the access log shows both workers among them; their statuses."""
        statuses: dict[str, int] = {}
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            statuses.update(burst())
            if wait_for(lambda: len(workers_of(statuses)) == 2, timeout=2):
                return statuses
        raise AssertionError("the requests never reached both workers")

    def workers_of(request_ids) -> set[int]:
        lines = [json.loads(line) for line in server.log_text().splitlines() if '"pid"' in line]
        return {line["pid"] for line in lines if line.get("request_id") in request_ids}

    # Both workers accept the token (and keep it in their token caches).
    assert set(served_by_both_workers().values()) == {200}
    deactivate(database, "auth0.leaver")
    # From the next request on, in every worker, the cached token's user is refused.
    assert set(served_by_both_workers().values()) == {401}
    answer = server.get("/api/private/", headers={**PROXIED, **bearer_header(token)})
    assert answer.json() == {"detail": "The user account of this token is disabled."}


# --- Database outage ------------------------------------------------------------------------------


@pytest.mark.parametrize("threads", ["1", "2"], ids=["sync", "gthread"])
def test_database_outage_answers_503_and_the_service_recovers_without_a_restart(
    serve, database, make_token, threads
):
    server = serve(WEB_CONCURRENCY="1", GUNICORN_THREADS=threads)
    known, newcomer = make_token(sub="auth0|known"), make_token(sub="auth0|newcomer")

    def private(token):
        return server.get("/api/private/", headers={**PROXIED, **bearer_header(token)})

    assert private(known).status == 200
    worker_pids = server.log_text().count("Booting worker")

    database.down()
    for _ in range(4):  # every thread, with or without a pooled connection
        ready = server.get("/readyz")
        assert (ready.status, ready.json()) == (
            503,
            {
                "status": "unavailable",
                "missing": ["database"],
                "checks": {"database": "unavailable", "signing_keys": "ok"},
            },
        )
        for token in (known, newcomer):
            answer = private(token)
            assert (answer.status, answer.json()) == (503, DATABASE_UNAVAILABLE)
            assert answer.headers["Retry-After"] == "5"
    assert server.get("/healthz").status == 200  # alive, just not ready
    assert server.get("/api/public/", headers=PROXIED).status == 200  # needs no database

    database.up()
    for _ in range(4):
        assert server.get("/readyz").status == 200
        assert private(known).status == 200
        assert private(newcomer).status == 200
    assert server.log_text().count("Booting worker") == worker_pids  # same process, healed
    server.stop()
    assert "Traceback" not in server.log_text()
