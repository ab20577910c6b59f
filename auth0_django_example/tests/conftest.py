"""Fixtures for the tests that serve the example under real gunicorn: collected static files, and
a `serve` factory fed by each module's own `served_variables` fixture."""

from pathlib import Path

import pytest

from auth0_django_example.tests.support import (
    PROXIED,
    GunicornServer,
    manage,
    production_environment,
)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory) -> Path:
    """A migrated SQLite file that tests copy for their served process (SQLite runs only)."""
    path = tmp_path_factory.mktemp("sqlite-template") / "db.sqlite3"
    result = manage(
        "migrate", "--noinput", env=production_environment(DATABASE_URL=f"sqlite:///{path}")
    )
    assert result.returncode == 0, result.stderr
    return path


@pytest.fixture(scope="session")
def static_root(tmp_path_factory) -> Path:
    """`collectstatic` once, with the production storage (hashed and compressed files); the
    production start refuses to run without it."""
    root = tmp_path_factory.mktemp("staticfiles")
    result = manage(
        "collectstatic", "--noinput", "--verbosity", "0",
        env=production_environment(DJANGO_STATIC_ROOT=str(root)),
    )  # fmt: skip
    assert (result.returncode, result.stderr) == (0, "")
    return root


@pytest.fixture
def serve(tmp_path, served_variables):
    """Start gunicorn with the production configuration, the module's `served_variables` and the
    test's overrides, logging to `<name>.log`, ready behind the proxy; stopped afterwards."""
    servers = []

    def start(name: str = "gunicorn", /, **overrides: str) -> GunicornServer:
        env = production_environment(**{**served_variables, **overrides})
        server = GunicornServer(env, tmp_path / f"{name}.log")
        servers.append(server)
        server.start()
        server.wait_until_ready(headers=PROXIED)
        return server

    yield start
    for server in servers:
        server.stop()
