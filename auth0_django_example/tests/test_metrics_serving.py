"""/metrics under gunicorn with two workers: every worker's counts add up (prometheus_client's
multiprocess mode), keys and fetches included, and only loopback may read them.

Each test starts its own gunicorn on 127.0.0.1 (production settings, the test issuer) and stops it.
"""

import os
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from auth0_django_example.tests.support import PROXIED, manage, production_environment
from conftest import ISSUER, bearer

PRIVATE_200 = ("http_requests_total", {"view": "private", "method": "GET", "status": "200"})


@pytest.fixture(scope="module")
def database_url(tmp_path_factory) -> str:
    """A migrated SQLite database that the served processes of this module share."""
    url = f"sqlite:///{tmp_path_factory.mktemp('metrics-serving') / 'db.sqlite3'}"
    result = manage(
        "migrate", "--noinput", "--verbosity", "0",
        env=production_environment(DATABASE_URL=url),
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    return url


@pytest.fixture
def served_variables(static_root, database_url, jwks_server) -> dict[str, str]:
    """What `serve` gives every server of this module (tests add their own)."""
    return {
        "DJANGO_STATIC_ROOT": str(static_root),
        "DATABASE_URL": database_url,
        "AUTH0_JWKS_URL": jwks_server.jwks_url,
        "DATABASE_CONN_MAX_AGE": "0",
        "WEB_CONCURRENCY": "2",
        # One thread each: concurrent requests have to be shared between the two workers.
        "GUNICORN_THREADS": "1",
    }


def scrape(server) -> dict[tuple[str, tuple], float]:
    answer = server.get("/metrics")
    assert answer.status == 200, answer.body
    values = {}
    for family in text_string_to_metric_families(answer.body.decode()):
        for sample in family.samples:
            values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return values


def value(values, name, **labels) -> float:
    return values.get((name, tuple(sorted(labels.items()))), 0.0)


def private_200(values) -> float:
    name, labels = PRIVATE_200
    return value(values, name, **labels)


def per_worker(directory: Path, name: str, labels: dict) -> dict[str, float]:
    """The counter `name{labels}` in each process's file of the multiprocess directory."""
    found = {}
    for path in directory.glob("counter_*.db"):
        for metric in MultiProcessCollector.merge([str(path)]):
            for sample in metric.samples:
                if sample.name == name and sample.labels == labels and sample.value:
                    found[path.stem] = sample.value
    return found


def send_concurrently(server, token, count, threads=8) -> list[int]:
    statuses, lock = [], threading.Lock()
    headers = {**PROXIED, "Authorization": bearer(token)["HTTP_AUTHORIZATION"]}

    def run(share):
        for _ in range(share):
            status = server.get("/api/private/", headers=headers).status
            with lock:
                statuses.append(status)

    workers = [threading.Thread(target=run, args=(count // threads,)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    return statuses


def test_counts_of_two_workers_add_up(serve, tmp_path, make_token, jwks_server):
    directory = tmp_path / "prometheus"
    directory.mkdir()
    server = serve(PROMETHEUS_MULTIPROC_DIR=str(directory))
    token = make_token()
    name, labels = PRIVATE_200
    sent = 0
    # Until both workers have answered some (the kernel decides who accepts; bounded).
    for _ in range(25):
        statuses = send_concurrently(server, token, 16)
        assert statuses == [200] * 16
        sent += 16
        if len(per_worker(directory, name, labels)) == 2:
            break
    shares = per_worker(directory, name, labels)
    assert len(shares) == 2 and sum(shares.values()) == sent

    values = scrape(server)
    assert value(values, name, **labels) == sent
    assert value(values, "http_request_duration_seconds_count", view="private", method="GET") == (
        sent
    )
    assert (
        value(values, "auth0_jwt_tokens_total", issuer=ISSUER, outcome="accepted", reason="none")
        == sent
    )
    # Each worker verified the token once, then served it from its own cache.
    assert value(values, "auth0_jwt_token_cache_total", result="miss") == 2
    assert value(values, "auth0_jwt_token_cache_total", result="hit") == sent - 2
    assert value(values, "auth0_jwt_verify_seconds_count") == 2
    # Each worker loaded the keys once at start: two fetches, counted together.
    assert jwks_server.fetches == 2
    assert (
        value(
            values, "auth0_jwt_jwks_fetches_total", issuer=ISSUER, outcome="ok", trigger="startup"
        )
        == 2
    )
    assert value(values, "auth0_jwt_signing_keys", issuer=ISSUER) == 1
    # A second scrape (perhaps by the other worker) sees the same totals.
    assert value(scrape(server), name, **labels) == sent


def test_metrics_are_not_served_through_the_proxy(serve, tmp_path):
    server = serve(PROMETHEUS_MULTIPROC_DIR=str(tmp_path))
    # The TLS proxy on loopback relays an outside client: X-Forwarded-For names it.
    relayed = server.get("/metrics", headers={**PROXIED, "X-Forwarded-For": "203.0.113.9"})
    unknown = server.get("/no-such-page", headers=PROXIED)
    assert (relayed.status, relayed.body) == (404, unknown.body)
    assert server.get("/metrics").status == 200


def wait_for(condition, timeout=20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_gunicorn_makes_a_private_directory_and_removes_it_at_exit(serve, make_token):
    server = serve()
    [directory] = re.findall(r"Prometheus multiprocess directory: ([^\s\"]+)", server.log_text())
    assert Path(directory).is_dir()
    statuses = send_concurrently(server, make_token(), 16)
    assert statuses == [200] * 16
    assert private_200(scrape(server)) == 16
    assert server.stop() == 0
    assert not Path(directory).exists()


def test_a_given_directory_is_emptied_at_start(serve, tmp_path, make_token):
    directory = tmp_path / "prometheus"
    server = serve(PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert send_concurrently(server, make_token(), 8) == [200] * 8
    assert private_200(scrape(server)) == 8
    assert server.stop() == 0
    assert list(directory.glob("counter_*.db"))  # what the next start must not count again

    server = serve(PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert private_200(scrape(server)) == 0
    assert send_concurrently(server, make_token(), 8) == [200] * 8
    assert private_200(scrape(server)) == 8


def test_a_worker_that_dies_leaves_the_live_gauge(serve, tmp_path):
    directory = tmp_path / "prometheus"
    server = serve(PROMETHEUS_MULTIPROC_DIR=str(directory))

    def gauge_pids():
        return {int(path.stem.rsplit("_", 1)[1]) for path in directory.glob("gauge_livemin_*.db")}

    assert wait_for(lambda: len(gauge_pids()) == 2)
    assert server.process.pid not in gauge_pids()  # the master's own values are not counted
    victim = min(gauge_pids())
    os.kill(victim, signal.SIGKILL)
    assert wait_for(lambda: victim not in gauge_pids() and len(gauge_pids()) == 2)
    server.wait_until_ready(headers=PROXIED)
    assert value(scrape(server), "auth0_jwt_signing_keys", issuer=ISSUER) == 1


def test_metrics_disabled_leave_prometheus_alone(serve, tmp_path):
    directory = tmp_path / "prometheus"
    server = serve(METRICS_ENABLED="0", PROMETHEUS_MULTIPROC_DIR=str(directory))
    assert server.get("/metrics", headers=PROXIED).status == 404
    assert not directory.exists()
    assert "Prometheus multiprocess directory" not in server.log_text()
