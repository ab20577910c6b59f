"""/readyz with Redis as the DPoP replay cache, under real gunicorn: Redis is reported as
`replay_cache`, and only with AUTH0_DPOP=required does its outage make the instance unready. With
DPoP allowed, every instance shares the one Redis, and Bearer tokens do not need it: the instance
stays in the load balancer ("degraded"), DPoP requests get their 503, Bearer requests their 200.

Each test starts its own gunicorn on 127.0.0.1 and a redis-server of this module's own, which it
stops and starts again.
"""

import pytest

from auth0_django_example.tests.support import PROXIED, manage, production_environment
from auth0_jwt.tests.dpop_support import RedisServer

CHECKS_UP = {"database": "ok", "signing_keys": "ok", "replay_cache": "ok"}
CHECKS_REDIS_DOWN = {"database": "ok", "signing_keys": "ok", "replay_cache": "unavailable"}


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("readyz-redis")).start()
    yield server
    server.stop()


@pytest.fixture
def redis(own_redis):
    """The module's Redis, running; started again after a test that stopped it."""
    if own_redis.process.poll() is not None:
        own_redis.start()
    yield own_redis
    if own_redis.process.poll() is not None:
        own_redis.start()


@pytest.fixture
def served_variables(tmp_path, jwks_server, static_root, redis) -> dict[str, str]:
    variables = {
        "AUTH0_JWKS_URL": jwks_server.jwks_url,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DATABASE_CONN_MAX_AGE": "0",
        "DJANGO_STATIC_ROOT": str(static_root),
        "GUNICORN_ACCESS_LOG": "0",
        "WEB_CONCURRENCY": "1",
        "REDIS_URL": redis.url,
    }
    result = manage("migrate", "--noinput", env=production_environment(**variables))
    assert result.returncode == 0, result.stderr
    return variables


def bearer(token: str) -> dict[str, str]:
    return {**PROXIED, "Authorization": f"Bearer {token}"}


def test_with_dpop_allowed_a_redis_outage_is_reported_but_the_instance_stays_ready(
    serve, redis, make_token
):
    server = serve("allowed")
    answer = server.get("/readyz", headers=PROXIED)
    assert (answer.status, answer.json()) == (200, {"status": "ok", "checks": CHECKS_UP})
    redis.stop()
    answer = server.get("/readyz", headers=PROXIED)
    assert (answer.status, answer.json()) == (
        200,
        {"status": "degraded", "checks": CHECKS_REDIS_DOWN},
    )
    assert answer.headers["Cache-Control"] == "no-store"
    assert server.get("/api/private/", headers=bearer(make_token())).status == 200
    redis.start()
    answer = server.get("/readyz", headers=PROXIED)
    assert (answer.status, answer.json()) == (200, {"status": "ok", "checks": CHECKS_UP})


def test_with_dpop_required_a_redis_outage_makes_the_instance_unready(serve, redis):
    server = serve("required", AUTH0_DPOP="required")
    answer = server.get("/readyz", headers=PROXIED)
    assert (answer.status, answer.json()) == (200, {"status": "ok", "checks": CHECKS_UP})
    redis.stop()
    answer = server.get("/readyz", headers=PROXIED)
    assert answer.status == 503
    assert answer.json() == {
        "status": "unavailable",
        "missing": ["replay_cache"],
        "checks": CHECKS_REDIS_DOWN,
    }
    assert answer.headers["Retry-After"] == "5"
    redis.start()
    assert server.get("/readyz", headers=PROXIED).status == 200


def test_with_dpop_off_redis_is_not_checked(serve, redis):
    server = serve("off", AUTH0_DPOP="off")
    redis.stop()
    answer = server.get("/readyz", headers=PROXIED)
    assert (answer.status, answer.json()) == (
        200,
        {"status": "ok", "checks": {"database": "ok", "signing_keys": "ok"}},
    )
