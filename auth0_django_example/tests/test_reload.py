"""What a served process reads from its environment, and when.

Variables (the environment, then .env for what the environment does not set) are read once, when
gunicorn's master starts. A reload (SIGHUP) starts new workers with new code and the same
variables, whatever .env says by then, and the master names the .env changes it left out; USR2
starts a new master that reads .env anew, and TERM to the old one leaves the new one serving.

gunicorn runs here from a copy of the project whose gunicorn.conf.py is a real copy (it finds .env
beside itself) and whose packages are links to this one's, so each test has its own .env.
"""

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from auth0_django_example.tests.support import (
    HOST,
    LISTENING,
    PROJECT_DIR,
    PROXIED,
    PYTHON,
    clean_environment,
    http_get,
    manage,
    production_environment,
)
from conftest import bearer

ONE, TWO = "https://one.example.test", "https://two.example.test"
GUNICORN = str(Path(PYTHON).parent / "gunicorn")  # as `make serve` runs it (USR2 re-executes it)
WORKER = re.compile(r"Booting worker with pid: (\d+)")
EXITED = re.compile(r"Worker exiting \(pid: (\d+)\)")
MASTER = re.compile(r"Listening at: http://127\.0\.0\.1:\d+ \((\d+)\)")


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def is_running(pid: int) -> bool:
    """Whether `pid` is a live process (an exited one left unreaped counts as gone)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project: its own gunicorn.conf.py and .env, the code linked."""
    copy = tmp_path / "project"
    copy.mkdir()
    for entry in PROJECT_DIR.iterdir():
        if entry.name in ("gunicorn.conf.py", ".env", ".git", ".venv"):
            continue
        (copy / entry.name).symlink_to(entry)
    (copy / "gunicorn.conf.py").write_bytes((PROJECT_DIR / "gunicorn.conf.py").read_bytes())
    return copy


class Master:
    """gunicorn started in `project`; its log (and its successor's, after USR2) in one file."""

    def __init__(self, project: Path, env: dict[str, str], log: Path):
        self.log = log
        with open(log, "wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - the project's own gunicorn
                [GUNICORN, "-c", "gunicorn.conf.py"],
                cwd=project,
                env={**env, "GUNICORN_BIND": "127.0.0.1:0"},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        assert wait_for(lambda: LISTENING.search(self.text()) or self.process.poll() is not None)
        self.port = int(LISTENING.search(self.text()).group(1))
        self.successor: int | None = None

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def workers(self) -> list[int]:
        return [int(pid) for pid in WORKER.findall(self.text())]

    def exited(self) -> set[int]:
        return {int(pid) for pid in EXITED.findall(self.text())}

    def masters(self) -> list[int]:
        return [int(pid) for pid in MASTER.findall(self.text())]

    def get(self, path: str, headers=None, method="GET"):
        return http_get(self.port, path, method=method, headers={**PROXIED, **(headers or {})})

    def serving(self) -> bool:
        try:
            return self.get("/readyz").status == 200
        except OSError:
            return False

    def stop(self) -> None:
        for pid in [self.process.pid, *([self.successor] if self.successor else [])]:
            if is_running(pid):
                os.kill(pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        if self.successor:
            assert wait_for(lambda: not is_running(self.successor)), "the new master did not stop"


def allowed_origin(master: Master, origin: str) -> str | None:
    """The Access-Control-Allow-Origin a preflight from `origin` gets."""
    answer = master.get(
        "/api/public/",
        method="OPTIONS",
        headers={"Origin": origin, "Access-Control-Request-Method": "GET"},
    )
    return answer.headers.get("Access-Control-Allow-Origin")


def hsts(master: Master) -> str | None:
    return master.get("/api/public/").headers.get("Strict-Transport-Security")


def test_a_reload_keeps_the_variables_and_usr2_reads_dotenv_anew(
    project, tmp_path, static_root, jwks_server
):
    env = production_environment(
        AUTH0_JWKS_URL=jwks_server.jwks_url,
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        DJANGO_STATIC_ROOT=str(static_root),
        WEB_CONCURRENCY="2",
    )
    for name in ("CORS_ALLOWED_ORIGINS", "DJANGO_SECURE_HSTS_SECONDS"):
        del env[name]  # for .env to set
    assert manage("migrate", "--noinput", env=env).returncode == 0
    dotenv = project / ".env"
    dotenv.write_text(f"CORS_ALLOWED_ORIGINS={ONE}\n")

    master = Master(project, env, tmp_path / "gunicorn.log")
    try:
        assert wait_for(master.serving), master.text()
        first_workers = master.workers()
        assert (allowed_origin(master, ONE), allowed_origin(master, TWO), hsts(master)) == (
            ONE,
            None,
            None,
        )

        # Edit .env (a changed variable, an added one), then reload.
        dotenv.write_text(f"CORS_ALLOWED_ORIGINS={TWO}\nDJANGO_SECURE_HSTS_SECONDS=60\n")
        os.kill(master.process.pid, signal.SIGHUP)
        assert wait_for(
            lambda: len(master.workers()) == 4 and master.exited() >= set(first_workers)
        )
        assert wait_for(master.serving)
        # New workers, the variables the master started with.
        assert (allowed_origin(master, ONE), allowed_origin(master, TWO), hsts(master)) == (
            ONE,
            None,
            None,
        )
        warnings = [
            record["message"]
            for record in map(json.loads, master.text().splitlines())
            if record.get("level") == "WARNING" and "Reloaded without" in record["message"]
        ]
        assert warnings == [
            "Reloaded without these .env changes: CORS_ALLOWED_ORIGINS, "
            "DJANGO_SECURE_HSTS_SECONDS. Variables are read once, when gunicorn starts: restart "
            "it, or send USR2 and then TERM to the old master, to apply them."
        ]
        assert "60" not in warnings[0] and TWO not in warnings[0]  # names, never values

        # USR2: a new master from the original environment reads .env; TERM the old one.
        os.kill(master.process.pid, signal.SIGUSR2)
        assert wait_for(lambda: len(master.masters()) == 2 and len(master.workers()) == 6)
        master.successor = master.masters()[1]
        os.kill(master.process.pid, signal.SIGTERM)
        assert master.process.wait(timeout=30) == 0
        assert wait_for(master.serving)
        assert (allowed_origin(master, ONE), allowed_origin(master, TWO), hsts(master)) == (
            None,
            TWO,
            "max-age=60; includeSubDomains; preload",
        )
    finally:
        master.stop()
    assert "Traceback" not in master.text()


# --- DJANGO_USE_X_FORWARDED_HOST ------------------------------------------------------------------


def read_setting(name: str, **variables: str) -> subprocess.CompletedProcess:
    code = f"from django.conf import settings; print(settings.{name})"
    return manage("shell", "--no-imports", "-c", code, env=clean_environment(**variables))


def test_use_x_forwarded_host_is_off_unless_set():
    assert read_setting("USE_X_FORWARDED_HOST", DJANGO_DEBUG="1").stdout == "False\n"
    on = read_setting("USE_X_FORWARDED_HOST", DJANGO_DEBUG="1", DJANGO_USE_X_FORWARDED_HOST="1")
    assert on.stdout == "True\n"
    env = clean_environment(DJANGO_DEBUG="1", DJANGO_USE_X_FORWARDED_HOST="yep")
    bad = manage("check", env=env)
    assert bad.returncode == 1
    assert (
        "?: (auth0_django_example.E003) DJANGO_USE_X_FORWARDED_HOST must be one of 1/0, "
        "true/false, yes/no; got 'yep'."
    ) in bad.stderr.splitlines()


@pytest.mark.django_db
@pytest.mark.parametrize(("use_forwarded_host", "host"), [(False, "testserver"), (True, HOST)])
def test_absolute_urls_name_the_forwarded_host_only_when_told(
    api_client, make_token, settings, use_forwarded_host, host
):
    settings.USE_X_FORWARDED_HOST = use_forwarded_host
    settings.ALLOWED_HOSTS = ["testserver", HOST]
    answer = api_client.post(
        "/api/customers/",
        {"name": "Ada", "email": "ada@example.com"},
        format="json",
        HTTP_X_FORWARDED_HOST=HOST,
        **bearer(make_token(scope="write:customers")),
    )
    assert answer.status_code == 201
    assert answer["Location"] == f"http://{host}/api/customers/{answer.json()['id']}/"
