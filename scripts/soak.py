"""Soak: gunicorn under concurrent clients while the identity provider flips between healthy and
failing. Run with `make soak` (not part of `make test`).

Everything runs on 127.0.0.1 for a bounded time: a JWKS server made here (with a key made here),
gunicorn with gunicorn.conf.py and production settings on a throwaway SQLite file, and client
threads sending valid tokens, forged tokens, unknown kids and no token. The JWKS server
alternates healthy and failing periods (HTTP 500, slower than the timeout, invalid JSON, no keys).

It prints requests served, non-2xx answers to valid tokens, 5xx answers, bad tokens accepted and
JWKS fetches, and exits 1 when a bound is broken: any non-2xx to a valid token, any 5xx, any bad
token accepted, or more JWKS fetches than the rate limits allow.

Options come from the environment: SOAK_SECONDS (30), SOAK_CLIENTS (16), WEB_CONCURRENCY (2).
"""

import http.client
import json
import math
import os
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

PROJECT_DIR = Path(__file__).resolve().parent.parent
ISSUER = "https://soak.example.test/"
AUDIENCE = "https://api.soak.example.test/"
KID = "soak-key"
HOST = "127.0.0.1"

SECONDS = float(os.environ.get("SOAK_SECONDS", "30"))
CLIENTS = int(os.environ.get("SOAK_CLIENTS", "16"))
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "2"))
JWKS_TIMEOUT = 1.0
CACHE_LIFETIME = 3.0
REFETCH_INTERVAL = 1.0
FLIP_EVERY = 2.0
FAILURES = ("http-500", "slow", "invalid-json", "no-keys")


# --- The identity provider ------------------------------------------------------------------------


class IdentityProvider:
    """A JWKS endpoint whose mode the soak flips; it counts the fetches it answers."""

    def __init__(self, jwk: dict):
        self.document = json.dumps({"keys": [jwk]}).encode()
        self.mode = "healthy"
        self.fetches = 0
        self.lock = threading.Lock()
        idp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                with idp.lock:
                    idp.fetches += 1
                    mode = idp.mode
                status, body = 200, idp.document
                if mode == "http-500":
                    status, body = 500, b'{"error": "internal"}'
                elif mode == "slow":
                    time.sleep(JWKS_TIMEOUT * 2)
                elif mode == "invalid-json":
                    body = b'{"keys": [{'
                elif mode == "no-keys":
                    body = b'{"keys": []}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the fetcher gave up (slow mode)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.httpd.server_address[1]}/.well-known/jwks.json"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- Tokens ---------------------------------------------------------------------------------------


def token(key, *, kid=KID, sub="auth0|soak-0", **claims) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600}
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="RS256", headers={"kid": kid})


# --- gunicorn -------------------------------------------------------------------------------------


def environment(idp: IdentityProvider, workdir: Path) -> dict[str, str]:
    """Production settings (DEBUG off) pointed at the local IdP and a throwaway database."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "AUTH0_", "DATABASE_", "GUNICORN_", "LOCAL_ISSUER"))
    }
    static_root = workdir / "static"
    static_root.mkdir()
    env.update(
        DJANGO_SETTINGS_MODULE="auth0_django_example.settings",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
        DJANGO_ALLOWED_HOSTS=HOST,
        DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
        DJANGO_STATIC_ROOT=str(static_root),
        AUTH0_ISSUER=ISSUER,
        AUTH0_API_IDENTIFIER=AUDIENCE,
        AUTH0_JWKS_URL=idp.url,
        AUTH0_JWKS_TIMEOUT=str(JWKS_TIMEOUT),
        AUTH0_JWKS_CACHE_LIFETIME=str(CACHE_LIFETIME),
        AUTH0_JWKS_MIN_REFETCH_INTERVAL=str(REFETCH_INTERVAL),
        DATABASE_URL=f"sqlite:///{workdir / 'db.sqlite3'}",
        GUNICORN_BIND=f"{HOST}:{free_port()}",
        WEB_CONCURRENCY=str(WORKERS),
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def request(port: int, path: str, bearer: str | None) -> int:
    """One GET through the 'TLS proxy' (X-Forwarded-Proto); the status, or 0 if it failed."""
    headers = {"X-Forwarded-Proto": "https"}
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    connection = http.client.HTTPConnection(HOST, port, timeout=15)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        connection.close()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"soak: {what} within {timeout:g} s; giving up")


# --- The soak -------------------------------------------------------------------------------------


def main() -> int:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = {**RSAAlgorithm.to_jwk(key.public_key(), as_dict=True), "kid": KID, "use": "sig"}
    idp = IdentityProvider({**jwk, "alg": "RS256"})
    workdir = Path(tempfile.mkdtemp(prefix="soak-"))
    env = environment(idp, workdir)
    port = int(env["GUNICORN_BIND"].rsplit(":", 1)[1])
    gunicorn = None
    try:
        # gunicorn refuses to start without collected static files (auth0_django_example.E004).
        for command in ("migrate", "collectstatic"):
            prepared = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
                [sys.executable, "manage.py", command, "--noinput", "--verbosity", "0"],
                cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=120, check=False,
            )  # fmt: skip
            if prepared.returncode != 0:
                print(prepared.stderr, file=sys.stderr)
                return 1
        log = open(workdir / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
        gunicorn = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
            cwd=PROJECT_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

        valid = [token(key, sub=f"auth0|soak-{n}") for n in range(4)]
        scoped = token(key, sub="auth0|soak-0", scope="read:messages")
        wait_until(lambda: request(port, "/api/public/", None) == 200, 30, "gunicorn did not start")
        # Every worker loads the keys at start; the users of the valid tokens are created now.
        wait_until(
            lambda: all(request(port, "/api/private/", t) == 200 for t in valid * WORKERS),
            30,
            "valid tokens were not accepted",
        )
        fetches_before = idp.fetches

        counts: Counter = Counter()  # the bounds
        answers: Counter = Counter()  # (kind of request, status)
        lock = threading.Lock()
        stop_at = time.monotonic() + SECONDS

        def client(seed: int):
            chooser = random.Random(seed)  # noqa: S311 - a traffic mix, not security
            while time.monotonic() < stop_at:
                kind = chooser.choices(
                    ["valid", "scoped", "forged", "unknown-kid", "none"], [5, 2, 1, 1, 1]
                )[0]
                if kind == "valid":
                    status = request(port, "/api/private/", chooser.choice(valid))
                elif kind == "scoped":
                    status = request(port, "/api/private-scoped/", scoped)
                elif kind == "forged":
                    status = request(port, "/api/private/", token(forger, sub="auth0|admin"))
                elif kind == "unknown-kid":
                    status = request(port, "/api/private/", token(forger, kid=str(uuid.uuid4())))
                else:
                    status = request(port, "/api/private/", None)
                with lock:
                    counts["requests"] += 1
                    answers[f"{kind} {status}"] += 1
                    if status >= 500 or status == 0:
                        counts["5xx or no answer"] += 1
                    if kind in ("valid", "scoped") and not 200 <= status < 300:
                        counts["valid non-2xx"] += 1
                    if kind not in ("valid", "scoped") and 200 <= status < 300:
                        counts["bad token accepted"] += 1

        def flipper():
            modes = iter(FAILURES * math.ceil(SECONDS / FLIP_EVERY))
            while time.monotonic() < stop_at:
                time.sleep(FLIP_EVERY)
                with idp.lock:
                    idp.mode = next(modes, "healthy") if idp.mode == "healthy" else "healthy"
                with lock:
                    answers[f"idp periods {idp.mode}"] += 1

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        threads.append(threading.Thread(target=flipper))
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=SECONDS + 60)
        elapsed = time.monotonic() - started
        fetches = idp.fetches - fetches_before
        # Per worker: unknown-kid refetches are limited among themselves (one per refetch
        # interval) and do not wait for the scheduled refreshes (one per cache lifetime), so the
        # two add up; plus slack for the in-flight ones at either end.
        fetch_bound = WORKERS * (
            math.ceil(SECONDS / REFETCH_INTERVAL) + math.ceil(SECONDS / CACHE_LIFETIME) + 3
        )
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=30)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
                gunicorn.wait(timeout=30)
            log.close()
        idp.close()

    served = counts["requests"]
    broken = {
        "valid non-2xx": counts["valid non-2xx"],
        "5xx or no answer": counts["5xx or no answer"],
        "bad token accepted": counts["bad token accepted"],
    }
    print(f"soak: {SECONDS:g} s, {CLIENTS} clients, {WORKERS} gunicorn workers")
    print(f"requests served:            {served} ({served / elapsed:.0f}/s)")
    print(f"non-2xx to valid tokens:    {broken['valid non-2xx']} (must be 0)")
    print(f"5xx or no answer:           {broken['5xx or no answer']} (must be 0)")
    print(f"bad tokens accepted:        {broken['bad token accepted']} (must be 0)")
    print(f"JWKS fetches:               {fetches} (at most {fetch_bound})")
    print(
        "answers:                    " + ", ".join(f"{k}: {n}" for k, n in sorted(answers.items()))
    )
    failed = any(broken.values()) or fetches > fetch_bound or served == 0
    if failed:
        print(f"soak: FAILED (gunicorn log kept in {workdir / 'gunicorn.log'})")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print("soak: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
