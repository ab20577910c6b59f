"""Helpers for the tests that run the service as separate processes (manage.py, gunicorn): a clean
production environment, an HTTP client that never follows redirects, a gunicorn server on a port
the OS picks, and a TCP relay that can cut a database off and bring it back.

Everything listens and connects on 127.0.0.1 only; every wait is bounded.
"""

import http.client
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from conftest import AUDIENCE, ISSUER

PROJECT_DIR = Path(settings.BASE_DIR)
PYTHON = sys.executable
HOST = "api.example.test"
# What the TLS-terminating proxy in front adds to every request it forwards.
PROXIED = {"Host": HOST, "X-Forwarded-Proto": "https"}


def _documented_variables(path: Path) -> dict[str, str]:
    """NAME=value lines of an env file (comments and blanks skipped)."""
    variables = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            name, value = line.split("=", 1)
            variables[name.strip()] = value.strip()
    return variables


def documented_production_environment() -> dict[str, str]:
    """.env.production.example as the README documents it, with a freshly generated secret key."""
    variables = _documented_variables(PROJECT_DIR / ".env.production.example")
    variables["DJANGO_SECRET_KEY"] = secrets.token_urlsafe(50)
    return variables


def production_environment(**overrides: str) -> dict[str, str]:
    """The documented production environment served as HOST and pointed at the test issuer (JSON
    logs), `overrides` on top, in an otherwise clean environment."""
    variables = documented_production_environment()
    variables.update(
        DJANGO_ALLOWED_HOSTS=HOST,
        AUTH0_DOMAIN="",
        AUTH0_ISSUER=ISSUER,
        AUTH0_API_IDENTIFIER=AUDIENCE,
        LOG_FORMAT="json",
    )
    variables.update(overrides)
    return clean_environment(**variables)


def clean_environment(**variables: str) -> dict[str, str]:
    """This process's environment with every project variable blanked (so that neither the test
    settings nor a developer's .env leak in), then `variables` on top."""
    environment = dict(os.environ)
    for name in _documented_variables(PROJECT_DIR / ".env.example"):
        environment[name] = ""
    for name in _documented_variables(PROJECT_DIR / ".env.production.example"):
        environment[name] = ""
    environment.update(
        DJANGO_SETTINGS_MODULE="auth0_django_example.settings",
        PYTHONDONTWRITEBYTECODE="1",
        PYTHONUNBUFFERED="1",
    )
    environment.update(variables)
    return environment


def manage(*arguments: str, env: dict[str, str], timeout: float = 120):
    """Run `manage.py` in a separate process (so the settings are read afresh from `env`)."""
    return subprocess.run(
        [PYTHON, "manage.py", *arguments],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# --- HTTP -----------------------------------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self):
        return json.loads(self.body)


def http_get(port: int, path: str, *, method: str = "GET", headers=None, timeout=10) -> Answer:
    """One request to 127.0.0.1:`port`; redirects are returned, not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.headers, response.read())
    finally:
        connection.close()


# --- gunicorn -------------------------------------------------------------------------------------

LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


class GunicornServer:
    """`gunicorn -c gunicorn.conf.py` on 127.0.0.1 with a port the OS picks; logs go to a file."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.log_path = log_path
        self.env = {**env, "GUNICORN_BIND": "127.0.0.1:0"}
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self, *, timeout: float = 30) -> "GunicornServer":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and config
                [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                cwd=PROJECT_DIR,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING.search(self.log_text())
            if match:
                self.port = int(match.group(1))
                return self
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited at start:\n{self.log_text()}")
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"gunicorn did not start within {timeout} s:\n{self.log_text()}")

    def wait_until_ready(self, *, timeout: float = 30, headers=None) -> None:
        """Poll /readyz until it answers 200 (bounded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.get("/readyz", headers=headers).status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"gunicorn was not ready within {timeout} s:\n{self.log_text()}")

    def get(self, path: str, **kwargs) -> Answer:
        return http_get(self.port, path, **kwargs)

    def stop(self, *, timeout: float = 30) -> int | None:
        """Graceful stop (SIGTERM to the master, which stops its workers); the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_records(self) -> list[dict]:
        """The log as JSON objects (LOG_FORMAT=json); a line that is not JSON fails the test."""
        records = []
        for line in self.log_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                raise AssertionError(f"a log line is not JSON: {line!r}") from None
        return records


# --- A database that can be cut off ---------------------------------------------------------------


class TCPRelay:
    """Forwards 127.0.0.1:`port` to `target`. `cut()` drops every open connection and closes new
    ones at once, as a crashed or unreachable database would; `restore()` ends the outage."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connected = True
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.connected:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets.update((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    def _pump(self, source: socket.socket, destination: socket.socket):
        try:
            while data := source.recv(65536):
                destination.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, destination)

    def _drop(self, *sockets: socket.socket):
        for sock in sockets:
            with self.lock:
                self.sockets.discard(sock)
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def cut(self):
        self.connected = False
        with self.lock:
            sockets = list(self.sockets)
        self._drop(*sockets)

    def restore(self):
        self.connected = True

    def close(self):
        self.closed = True
        self.cut()
        self.listener.close()
