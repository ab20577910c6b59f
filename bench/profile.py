"""Where a worker's time goes: py-spy on every worker of one bench service while wrk loads a row.

    make profile PROFILE_ROWS="public private private_token drf_hello"

For each row (names of bench/run.py's HTTP_ROWS) it starts that row's service alone, loads the row
with wrk for --seconds while `py-spy record --subprocesses --nonblocking` samples the server's
processes, and prints the samples grouped by the package of the innermost frame that belongs to a
known package (self time), and the share of the samples under a few named functions (inclusive
time): the server's own HTTP handling, each middleware of the project, the authentication, the
user read, the access log line. py-spy is a tool of the bench, not of the service: `make profile`
installs it (requirements-bench.txt) into .venv/bench-packages and names it in PY_SPY.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT)]
sys.path.append(os.environ.get("BENCH_PACKAGES", str(ROOT / ".venv" / "bench-packages")))

from bench import run  # noqa: E402
from bench.support import (  # noqa: E402
    JWKSServer,
    mint_tokens,
    new_private_key,
    public_jwk,
    run_wrk,
    wait_for,
)

# Self time: the innermost frame whose file names one of these (first match wins), else "other".
PACKAGES = (
    ("auth0_jwt/", "auth0_jwt (the package)"),
    ("auth0_django_example/access_log", "the access log (access_log.py)"),
    ("auth0_django_example/", "the project's other modules"),
    ("customers/", "the project's other modules"),
    ("rest_framework_simplejwt/", "simplejwt"),
    ("rest_framework/", "DRF"),
    ("jwt/", "PyJWT"),
    ("authlib/", "Authlib / joserfc"),
    ("joserfc/", "Authlib / joserfc"),
    ("cryptography/", "cryptography"),
    ("prometheus_client/", "prometheus_client"),
    ("corsheaders/", "django-cors-headers"),
    ("whitenoise/", "whitenoise"),
    ("django/db/", "Django ORM and database"),
    ("sqlite3/", "Django ORM and database"),
    ("psycopg", "Django ORM and database"),
    ("django/", "Django (request handling, middleware, HTTP)"),
    ("gunicorn/", "the server (gunicorn)"),
    ("granian/", "the server (granian)"),
    ("uvicorn/", "the server (uvicorn)"),
    ("asgiref/", "asgiref (sync/async bridges)"),
    ("asyncio/", "asyncio"),
    ("logging/", "logging (stdlib)"),
    ("json/", "json (stdlib)"),
    ("socket", "sockets (stdlib)"),
    ("selectors", "sockets (stdlib)"),
    ("threading", "threading (stdlib)"),
    ("urllib/", "urllib (stdlib)"),
)
# Inclusive time: the share of samples with one of these in their stack.
FUNCTIONS = (
    ("the server outside Django's handler", None),
    ("Django's WSGI/ASGI handler, all of it", ("WSGIHandler.__call__", "ASGIHandler.__call__")),
    ("the access log line (access_log.py)", ("access_log.py",)),
    ("Prometheus metrics middleware", ("metrics.py",)),
    ("request ids (request_id.py)", ("request_id.py",)),
    ("health-check middleware", ("health.py",)),
    ("the project's browser middleware (middleware.py)", ("auth0_django_example/middleware.py",)),
    ("authentication: the package's authenticate()", ("auth0_jwt/authentication.py",)),
    ("the user read (auth0_jwt/users.py, user_lookup.py)", ("users.py", "user_lookup.py")),
    ("DRF's view dispatch", ("rest_framework/views.py",)),
    ("DRF's content negotiation", ("perform_content_negotiation",)),
    ("URL resolving", ("resolve_request",)),
    ("Authlib's ResourceProtector (the quickstart's check)", ("authlib/",)),
    ("the response's JSON rendering", ("renderers.py",)),
    ("simplejwt's authenticate()", ("rest_framework_simplejwt/authentication.py",)),
    ("the database (django/db)", ("django/db/",)),
)


def summarize(raw: Path) -> tuple[int, Counter, Counter]:
    """Samples in all, self time by package, inclusive time by named function."""
    total, by_package, by_function = 0, Counter(), Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        count = int(count)
        frames = stack.split(";")
        if any(f.startswith("process ") or f.startswith("thread ") for f in frames[:1]):
            frames = [f for f in frames if not f.startswith(("process ", "thread "))]
        if not frames or not any("/" in f for f in frames):
            continue
        total += count
        package = "other"
        for frame in reversed(frames):
            match = next((label for key, label in PACKAGES if key in frame), None)
            if match:
                package = match
                break
        by_package[package] += count
        in_handler = any("Handler.__call__" in f for f in frames)
        for label, needles in FUNCTIONS:
            if needles is None:
                hit = not in_handler
            else:
                hit = any(needle in f for needle in needles for f in frames)
            if hit:
                by_function[label] += count
    return total, by_package, by_function


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows", nargs="+", help="names of bench/run.py's HTTP_ROWS")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--keep", type=Path, help="a folder to keep py-spy's raw stacks in")
    args = parser.parse_args()
    py_spy = os.environ.get("PY_SPY", "py-spy")
    private_key = new_private_key()
    with (
        JWKSServer({"keys": [public_jwk(private_key)]}) as jwks,
        tempfile.TemporaryDirectory(prefix="auth0-bench-profile-") as folder,
    ):
        workdir = Path(folder)
        issuer = jwks.base_url + "/"
        tokens = mint_tokens(private_key, issuer, 2)
        env = run.service_env(
            issuer,
            jwks.base_url + run.SERVICE_JWKS_PATH,
            f"sqlite:///{workdir / 'bench.sqlite3'}",
            DJANGO_STATIC_ROOT=str(workdir / "static"),
        )
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(  # noqa: S603 - a fixed command line
                [sys.executable, "manage.py", *command, "-v", "0"],
                cwd=ROOT, env=env, check=True, timeout=120,
            )  # fmt: skip
        peers = run.prepare_peers(issuer, jwks.base_url, workdir)
        repeated = run.write_tokens(workdir / "repeated.txt", tokens[:1])
        for name in args.rows:
            service, path, kind = run.HTTP_ROWS[name]
            if kind not in (None, "repeated"):
                raise SystemExit(f"{name}: only rows without tokens or with one repeated token")
            servers: list = []
            try:
                started = run.start_services(env, peers, workdir, servers, {service})
                server = started[service]
                if kind:
                    wait_for(server, path, timeout=30, token=tokens[0])
                tokens_file = repeated if kind else None
                run_wrk(server.url + path, seconds=2, connections=run.CONNECTIONS,
                        tokens_file=tokens_file)  # fmt: skip
                raw = workdir / f"{name}.txt"
                spy = subprocess.Popen(  # noqa: S603 - the bench's own tool
                    [py_spy, "record", "--pid", str(server.process.pid), "--subprocesses",
                     "--nonblocking", "--rate", str(args.rate), "--duration",
                     str(int(args.seconds)), "--format", "raw", "--output", str(raw)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )  # fmt: skip
                result = run_wrk(
                    server.url + path, seconds=args.seconds, connections=run.CONNECTIONS,
                    tokens_file=tokens_file,
                )  # fmt: skip
                spy.wait(timeout=args.seconds + 60)
            finally:
                for started_server in servers:
                    started_server.stop()
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                (args.keep / raw.name).write_bytes(raw.read_bytes())
            total, by_package, by_function = summarize(raw)
            print(
                f"\n{name}: {run.SERVICES[service]}, {path}; {result.requests_per_second:.0f}"
                f" req/s under py-spy; {total} samples of the workers (on CPU and waiting alike;"
                " the share of each)"
            )
            print("  self time, by the innermost frame's package:")
            for package, count in by_package.most_common():
                print(f"    {count / total:6.1%}  {package}")
            print("  inclusive time, samples with this in their stack:")
            for label, _ in FUNCTIONS:
                if by_function[label]:
                    print(f"    {by_function[label] / total:6.1%}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
