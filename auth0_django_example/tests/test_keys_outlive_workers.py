"""The last good key set outlives a worker, under real gunicorn with gunicorn.conf.py: with the
identity provider up each worker fetches the JWKS once at start; with it down, a reload (SIGHUP)
starts workers that answer valid tokens from the key set their predecessors saved in the database,
unless it is older than AUTH0_JWKS_PERSISTED_MAX_AGE; a database that is down costs the saved key
set, never the keys themselves, and never a 500.

Each test starts its own gunicorn on 127.0.0.1 (a port the OS picks), keys from the jwks_server
fixture, on a migrated SQLite file of its own, and stops it at the end.
"""

import itertools
import json
import signal
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing

import pytest

from auth0_django_example.tests.support import (
    PROXIED,
    GunicornServer,
    manage,
    production_environment,
)

KEYS_UNAVAILABLE = {
    "detail": "Tokens cannot be verified right now: the identity provider's signing keys are not "
    "loaded yet. Try again shortly."
}
DATABASE_UNAVAILABLE = {"detail": "The service's database is unavailable. Try again shortly."}
_request_ids = itertools.count()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def database_path(tmp_path):
    return tmp_path / "database" / "db.sqlite3"


@pytest.fixture
def served_variables(database_path, jwks_server, static_root) -> dict[str, str]:
    """The documented production environment on a migrated SQLite file of this test's own; the
    saved key set on, as in production."""
    database_path.parent.mkdir()
    variables = {
        "AUTH0_JWKS_URL": jwks_server.jwks_url,
        "AUTH0_JWKS_TIMEOUT": "2",
        "DATABASE_URL": f"sqlite:///{database_path}",
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_STATIC_ROOT": str(static_root),
        "WEB_CONCURRENCY": "2",
    }
    result = manage("migrate", "--noinput", env=production_environment(**variables))
    assert result.returncode == 0, result.stderr
    return variables


def burst(server, token, requests=12, clients=4) -> dict[str, int]:
    """Concurrent requests with `token` (so that both sync workers serve some): status by id."""

    def one(_):
        request_id = f"outlive-{next(_request_ids)}"
        headers = {**PROXIED, **bearer(token), "X-Request-ID": request_id}
        return request_id, server.get("/api/private/", headers=headers).status

    with ThreadPoolExecutor(clients) as pool:
        return dict(pool.map(one, range(requests)))


def pids_by_request(server) -> dict[str, int]:
    return {
        record["request_id"]: record["pid"]
        for record in server.log_records()
        if record.get("event") == "http_access"
    }


def until(condition, timeout=30.0, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError("the condition did not hold in time")


def serve_until_both_workers_answered(server, token) -> tuple[dict[str, int], set[int]]:
    """Bursts until both workers served some; every status, and the two workers' pids."""
    statuses: dict[str, int] = {}

    def both():
        statuses.update(burst(server, token))
        pids = {pid for rid, pid in pids_by_request(server).items() if rid in statuses}
        return pids if len(pids) == 2 else None

    return statuses, until(both)


def messages(server, start: int = 0) -> list[str]:
    return [record["message"] for record in server.log_records()[start:]]


def test_each_worker_fetches_the_jwks_once_at_start_and_saves_it(
    serve, jwks_server, make_token, database_path
):
    server = serve("up")
    statuses, _ = serve_until_both_workers_answered(server, make_token())
    assert set(statuses.values()) == {200}
    time.sleep(1)  # anything a worker would fetch late
    assert jwks_server.fetches == 2
    with closing(sqlite3.connect(database_path)) as db:
        rows = db.execute("SELECT jwks_url, document FROM auth0_jwt_persistedkeyset").fetchall()
    assert [(url, json.loads(document)) for url, document in rows] == [
        (jwks_server.jwks_url, jwks_server.document)
    ]


def reload_and_serve(server, token, old_pids: set[int]) -> tuple[dict[str, int], set[int]]:
    """SIGHUP, then bursts until two new workers served some; every status meanwhile."""
    server.process.send_signal(signal.SIGHUP)
    statuses: dict[str, int] = {}

    def new_workers_served():
        statuses.update(burst(server, token))
        served = pids_by_request(server)
        new = {served[rid] for rid in statuses if rid in served} - old_pids
        return new if len(new) == 2 else None

    return statuses, until(new_workers_served, timeout=60)


def test_a_reload_while_the_identity_provider_is_down_keeps_answering_valid_tokens(
    serve, jwks_server, make_token
):
    server = serve("reload-outage")
    token = make_token()
    statuses, old_pids = serve_until_both_workers_answered(server, token)
    assert set(statuses.values()) == {200}
    jwks_server.status = 500
    fetches, log_start = jwks_server.fetches, len(server.log_records())

    statuses, new_pids = reload_and_serve(server, token, old_pids)
    assert set(statuses.values()) == {200}, statuses  # every request, through the whole reload
    served = pids_by_request(server)
    assert {statuses[rid] for rid in statuses if served.get(rid) in new_pids} == {200}
    assert jwks_server.fetches == fetches + 2  # each new worker asked the identity provider once
    saved = [m for m in messages(server, log_start) if m.startswith("Serving the JWKS saved ")]
    assert len(saved) == 2, messages(server, log_start)
    assert server.get("/readyz", headers=PROXIED).json()["checks"]["signing_keys"] == "ok"
    # What the workers now hold is the key set, not a pass: a forged token is still refused.
    assert server.get("/api/private/", headers={**PROXIED, **bearer("e30.e30.e30")}).status == 401


def test_a_saved_key_set_older_than_the_bound_is_not_used_by_a_new_worker(
    serve, jwks_server, make_token
):
    server = serve("reload-too-old", AUTH0_JWKS_PERSISTED_MAX_AGE="2")
    token = make_token()
    _, old_pids = serve_until_both_workers_answered(server, token)
    jwks_server.status = 500
    time.sleep(2.5)  # the saved key set is now older than its 2 s bound
    log_start = len(server.log_records())

    statuses, new_pids = reload_and_serve(server, token, old_pids)
    served = pids_by_request(server)
    assert {statuses[rid] for rid in statuses if served.get(rid) in new_pids} == {503}
    answer = server.get("/api/private/", headers={**PROXIED, **bearer(token)})
    assert (answer.status, answer.json()) == (503, KEYS_UNAVAILABLE)
    refused = [m for m in messages(server, log_start) if m.startswith("The saved JWKS is not used")]
    assert refused and all(m.endswith(", the limit is 2 s") for m in refused), refused


def count(server, prefix: str, start: int = 0) -> int:
    return sum(message.startswith(prefix) for message in messages(server, start))


NOT_SAVED = "The fetched JWKS was not saved for other processes: the database did not answer ("
NOT_READ = "The saved JWKS could not be read: the database did not answer ("


def test_a_database_that_is_down_never_breaks_key_loading(
    tmp_path, served_variables, jwks_server, make_token, database_path
):
    database_path.parent.rename(tmp_path / "database-away")  # every open now fails
    env = production_environment(**served_variables)
    server = GunicornServer(env, tmp_path / "database-down.log").start()
    try:
        until(lambda: count(server, NOT_SAVED) == 2)  # both workers fetched; neither could save
        assert [m for m in messages(server) if m.startswith(NOT_SAVED)] == [
            NOT_SAVED + "OperationalError)"
        ] * 2
        answer = server.get("/readyz", headers=PROXIED)
        assert (answer.status, answer.json()) == (503, {
            "status": "unavailable",
            "missing": ["database"],
            "checks": {"database": "unavailable", "signing_keys": "ok"},
        })  # fmt: skip
        answer = server.get("/api/private/", headers={**PROXIED, **bearer(make_token())})
        assert (answer.status, answer.json()) == (503, DATABASE_UNAVAILABLE)

        # Both down: a new worker has neither source, and says so with a 503.
        jwks_server.status = 500
        log_start = len(server.log_records())
        server.process.send_signal(signal.SIGHUP)
        until(lambda: count(server, NOT_READ, log_start) == 2)
        answer = server.get("/api/private/", headers={**PROXIED, **bearer(make_token())})
        assert (answer.status, answer.json()) == (503, KEYS_UNAVAILABLE)
        assert server.get("/healthz", headers=PROXIED).status == 200
        records = server.log_records()
        errors = [r for r in records if r["level"] in ("ERROR", "CRITICAL")]
        # Django logs each 5xx answer at ERROR, the user loader the database it could not reach;
        # nothing else failed.
        assert {(r["logger"], r["message"]) for r in errors} <= {
            ("django.request", "Service Unavailable: /api/private/"),
            ("django.request", "Service Unavailable: /readyz"),
            ("auth0_jwt.authentication", "Token accepted but the user could not be loaded: "
             "OperationalError"),
        }, errors  # fmt: skip
        assert {r["status"] for r in records if r.get("event") == "http_access"} == {503, 200}
        assert "Traceback" not in server.log_text()
    finally:
        server.stop()
