"""The README's quick start stays exactly right: its curl lines, as written, against the service
as `make run` serves it (runserver, development mode, the local development issuer, no .env), each
answering what its comment says. Only the port differs (a free one instead of 8000), and the
interpreter is this one (the `.venv/bin/python` the README names, where `make test` runs)."""

import re
import shutil
import socket
import subprocess
import sys
import time

import pytest

from auth0_django_example.tests.support import PROJECT_DIR, clean_environment, http_get, manage

README = PROJECT_DIR / "README.md"
DOCUMENTED_URL = "http://127.0.0.1:8000/"


def quick_start_curl_lines(page=README) -> list[tuple[str, str]]:
    """The quick start's curl commands (continuation lines joined) with their comments."""
    text = page.read_text()
    section = text[text.index("# Quick start") :]
    end = section.find("\n## ", 1)
    section = section if end == -1 else section[:end]
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", section, re.S):
        for command in block.replace("\\\n", " ").splitlines():
            if command.startswith("curl "):
                command, _, comment = command.partition("  #")
                lines.append((" ".join(command.split()), comment.strip()))
    return lines


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def development_server(tmp_path):
    """`make run`'s server: migrate, then runserver, in development mode with the local issuer."""
    env = clean_environment(
        DJANGO_DEBUG="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        LOCAL_ISSUER_KEY_DIR=str(tmp_path / "local-issuer"),
    )
    migrated = manage("migrate", "--noinput", env=env)
    assert migrated.returncode == 0, migrated.stderr
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and manage.py
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=PROJECT_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:  # a bounded wait for the server to listen, not for time to pass
            try:
                http_get(port, "/api/public/", timeout=2)
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "runserver died"
                time.sleep(0.1)
        yield port, env
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_readme_has_the_five_curl_lines():
    assert [comment.split(",")[0] for _command, comment in quick_start_curl_lines()] == [
        "", "401", "200", "200", "403"
    ]  # fmt: skip


def test_the_docs_quick_start_has_the_same_lines():
    assert quick_start_curl_lines(PROJECT_DIR / "docs" / "getting-started.md") == (
        quick_start_curl_lines()
    )


def test_the_quick_start_curl_lines_answer_as_their_comments_say(development_server):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    port, env = development_server
    for command, comment in quick_start_curl_lines():
        assert DOCUMENTED_URL in command, command
        command = command.replace(DOCUMENTED_URL, f"http://127.0.0.1:{port}/").replace(
            ".venv/bin/python", sys.executable
        )
        result = subprocess.run(  # noqa: S603 - the README's own command line
            ["bash", "-c", command + " -s -w '\\n%{http_code}'"],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        output, _, status = result.stdout.rpartition("\n")
        expected_status, _, expected_text = comment.partition(", ")
        assert status == (expected_status or "200"), (command, result.stdout, result.stderr)
        assert expected_text in output.replace("\r", ""), (command, output)
        if not expected_status:
            assert '"message":"Hello from a public endpoint!' in output
