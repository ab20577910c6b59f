"""The package's test project served by uvicorn (one process, one event loop), for the served tests
of async views (test_async_serving.py) and of a project without DRF (test_no_drf.py).

`python -m auth0_jwt.tests.async_server [--refuse NAME]...` migrates the SQLite file named by
AUTH0_JWT_TEST_DATABASE, loads the ASGI application of DJANGO_SETTINGS_MODULE (async_settings.py or
django_views_settings.py), prints `listening on <port>` and serves on 127.0.0.1. With `--refuse`,
importing NAME (or a submodule) is refused and reported on stderr: the served process proves it
never imports it. `UvicornServer` runs it from a test.
"""

import argparse
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import NamedTuple

PROJECT_ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"listening on (\d+)")
REFUSED = "refused import of "


class RefuseImports:
    """A meta-path finder that refuses the named top-level packages, saying so on stderr."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            print(REFUSED + name, file=sys.stderr, flush=True)
            raise ImportError(f"{name} is refused in this process")
        return None


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--refuse", action="append", default=[])
    options = parser.parse_args(argv)
    if options.refuse:
        sys.meta_path.insert(0, RefuseImports(options.refuse))

    import django
    import uvicorn
    from django.core.asgi import get_asgi_application
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    application = get_asgi_application()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    print(f"listening on {listener.getsockname()[1]}", flush=True)
    config = uvicorn.Config(application, lifespan="off", log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[listener])


class Answer(NamedTuple):
    status: int
    headers: dict
    body: bytes


class UvicornServer:
    """Runs `main` in a subprocess with `settings` and `environment`; its output goes to `log`."""

    def __init__(self, settings: str, log: Path, *, refuse=(), **environment: str):
        self.log = log
        self.command = [sys.executable, "-m", "auth0_jwt.tests.async_server"]
        for name in refuse:
            self.command += ["--refuse", name]
        self.env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(PROJECT_ROOT),
            "DJANGO_SETTINGS_MODULE": settings,
            **environment,
        }
        self.process: subprocess.Popen | None = None
        self.port: int | None = None

    def __enter__(self) -> "UvicornServer":
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                self.command, cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 60
        while (match := LISTENING.search(self.log_text())) is None:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"uvicorn did not start:\n{self.log_text()}")
            time.sleep(0.05)
        self.port = int(match.group(1))
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def get(self, path: str, **headers: str) -> Answer:
        """A GET on a new connection (plain http.client: nothing to set up on the first call, so
        a timing measures the server); the answer, whatever its status."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            return Answer(response.status, dict(response.getheaders()), response.read())
        finally:
            connection.close()


if __name__ == "__main__":
    main()
