"""`make bench`: what serving and authentication cost, side by side with the plain DRF peers.

1. Per-token cost (median of many iterations): the RS256 signature check alone in `cryptography`
   (the floor), PyJWT's decode, python-jose's decode, and this project's verifier on a first-seen
   token (a cache miss) and on a repeated token (a cache hit); a DPoP proof's verification beside
   the ES256 signature check alone.
2. HTTP, loaded by wrk on loopback, every service with the same number of worker processes: this
   project in its production default (gunicorn.conf.py: gunicorn sync, SQLite), in token mode
   (`AUTH0_USER=token`), on PostgreSQL, beside reference projects served as their users serve
   them (gunicorn's defaults, sync workers; code in bench/peers/): a bare DRF "hello" view in a
   `startproject` project, djangorestframework-simplejwt's `JWTStatelessUserAuthentication` and
   its `JWTAuthentication` (the user read from the database) with `JWK_URL` on the same JWKS, and
   Auth0's current Django quickstart (Authlib, plain views; bench/peers/quickstart.py, with the
   one import it needs to run). Then this project under the other servers considered: gunicorn
   with uvicorn workers, uvicorn, granian (WSGI and ASGI). And each adapter of the package
   (bench/adapters/: DRF, plain Django views, Django Ninja under gunicorn; async plain views
   under uvicorn), its protected view beside the same view unprotected. Interleaved rounds,
   medians; requests/s, p50, p99 and the workers' CPU time per request for every row; issue 19's
   targets (PEER_TARGETS) printed PASS/MISS on both requests/s and CPU per request. DPoP rides
   beside Bearer in the same run, a new proof on every request, with the replay cache in SQLite,
   Redis and PostgreSQL.
3. JWKS fetches during the whole run (served by the bench on 127.0.0.1 and counted) and the memory
   a full default token cache adds to a worker.
4. What the Prometheus metrics cost a /api/private/ request: in-process, in prometheus_client's
   multiprocess mode (bench/metrics_cost.py), and end to end beside a METRICS_ENABLED=0 service.

Everything runs on 127.0.0.1 with a key made for this run; every process the bench starts is
stopped before it exits. Options: --seconds (per wrk run), --rounds, --quick (a short smoke run),
--rows a,b,... (only those HTTP rows, their tables and the targets they decide: e.g.
`--rows public,drf_hello`).
"""

import argparse
import base64
import gc
import http.client
import json
import os
import platform
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tracemalloc
from contextlib import ExitStack
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path[:0] = [str(ROOT)]
# python-jose is installed for the comparison only, outside the service's environment.
sys.path.append(os.environ.get("BENCH_PACKAGES", str(ROOT / ".venv" / "bench-packages")))

from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, padding  # noqa: E402

from bench.support import (  # noqa: E402
    AUDIENCE,
    SUBJECT,
    JWKSServer,
    LoadResult,
    combine,
    cpu_seconds,
    free_port,
    interleaved_costs,
    memory_kib,
    mint_dpop_token,
    mint_tokens,
    new_private_key,
    public_jwk,
    run_wrk,
    sign_proofs,
    start_granian,
    start_gunicorn,
    start_redis,
    start_uvicorn,
    wait_for,
)
from scripts.postgresql import PostgreSQL  # noqa: E402

SERVICE_JWKS_PATH = "/.well-known/jwks.json"
PEER_JWKS_PATH = "/simplejwt/jwks.json"
ADAPTERS_JWKS_PATH = "/adapters/jwks.json"
MICRO_JWKS_PATH = "/in-process/jwks.json"
DJANGO_JWKS_PATH = "/in-process-django/jwks.json"
METRICS_JWKS_PATH = "/metrics-cost/jwks.json"
IN_PROCESS_VERIFIERS = 4
# gunicorn's recommended worker count (and gunicorn.conf.py's default), for every service.
WORKERS = 2 * (os.cpu_count() or 1) + 1
CONNECTIONS, ROUNDS = 8, 5
FULL_CACHE = 10_000
# Variables of the service that must come from the bench, not from the caller's shell or .env.
SERVICE_PREFIXES = ("AUTH0_", "API_IDENTIFIER", "DJANGO_", "DATABASE_", "LOG_", "GUNICORN_")
SERVICE_PREFIXES += ("WEB_CONCURRENCY", "LOCAL_ISSUER", "CORS_", "METRICS_", "PROMETHEUS_")
SERVICE_PREFIXES += ("ACCESS_LOG", "REDIS_URL")

# Services: how each is started (see start_services).
SERVICES = {
    "ours": "this project, production default (gunicorn sync, SQLite)",
    "ours_token": "this project, production default, `AUTH0_USER=token`",
    "ours_postgres": "this project, production default, PostgreSQL 15",
    "ours_redis": "this project, production default, `REDIS_URL` set",
    "ours_no_metrics": "this project, production default, `METRICS_ENABLED=0`",
    # Its twin with the metrics on, serving the same rows only, so that the two compare alike.
    "ours_metrics": "this project, production default (twin of the `METRICS_ENABLED=0` row)",
    # The servers considered (same app, same settings, each with its own access log off).
    "ours_gunicorn_uvicorn": "this project, gunicorn + uvicorn workers (ASGI)",
    "ours_uvicorn": "this project, uvicorn (ASGI)",
    "ours_granian": "this project, granian (WSGI)",
    "ours_granian_asgi": "this project, granian (ASGI)",
    "drf_hello": "bare DRF `startproject`, gunicorn sync",
    "simplejwt": "simplejwt `JWTStatelessUserAuthentication`, gunicorn sync",
    "simplejwt_db": "simplejwt `JWTAuthentication` (user from the database), gunicorn sync",
    "quickstart": "Auth0's Django quickstart (Authlib 1.9, one import fixed), gunicorn sync",
    "adapters_wsgi": "the package alone in a `startproject` project, gunicorn sync",
    "adapters_asgi": "the package alone in a `startproject` project, uvicorn",
}
# The package's adapters (bench/adapters/): (name, the service, its path prefix).
ADAPTERS = (
    ("DRF `JSONWebTokenAuthentication`", "adapters_wsgi", "/drf/"),
    ("plain views `@requires_auth`, sync (WSGI)", "adapters_wsgi", "/plain/"),
    ("Django Ninja `Auth0Bearer`, sync operation (WSGI)", "adapters_wsgi", "/ninja/"),
    ("plain views `@requires_auth`, async (ASGI)", "adapters_asgi", "/async/"),
)
# The servers measured on the same app: (label, service, rows' name prefix).
SERVERS = (
    ("gunicorn sync (the default)", "ours", ""),
    ("gunicorn + uvicorn workers (ASGI)", "ours_gunicorn_uvicorn", "gunicorn_uvicorn_"),
    ("uvicorn (ASGI)", "ours_uvicorn", "uvicorn_"),
    ("granian (WSGI)", "ours_granian", "granian_"),
    ("granian (ASGI)", "ours_granian_asgi", "granian_asgi_"),
)
# Rows: (service, path, tokens: None | "repeated" | "fresh" | "dpop"), in the order each round
# runs them: the two sides of each target's ratio back to back.
HTTP_ROWS = {
    "public": ("ours", "/api/public/", None),
    "drf_hello": ("drf_hello", "/api/public/", None),
    "private": ("ours", "/api/private/", "repeated"),
    "simplejwt_db": ("simplejwt_db", "/api/private/", "repeated"),
    "quickstart_private": ("quickstart", "/api/private/", "repeated"),
    "private_token": ("ours_token", "/api/private/", "repeated"),
    "simplejwt": ("simplejwt", "/api/private/", "repeated"),
    "quickstart_public": ("quickstart", "/api/public/", None),
    "private_fresh": ("ours", "/api/private/", "fresh"),
    "private_dpop": ("ours", "/api/private/", "dpop"),
    "private_dpop_redis": ("ours_redis", "/api/private/", "dpop"),
    "private_postgres": ("ours_postgres", "/api/private/", "repeated"),
    "private_dpop_postgres": ("ours_postgres", "/api/private/", "dpop"),
    "private_no_metrics": ("ours_no_metrics", "/api/private/", "repeated"),
    "private_metrics": ("ours_metrics", "/api/private/", "repeated"),
    **{
        f"{prefix}{kind}": (service, f"/api/{kind}/", tokens)
        for _, service, prefix in SERVERS[1:]
        for kind, tokens in (("public", None), ("private", "repeated"))
    },
    **{
        f"adapter_{prefix.strip('/')}_{kind}": (service, f"{prefix}{kind}/", tokens)
        for _, service, prefix in ADAPTERS
        for kind, tokens in (("public", None), ("private", "repeated"))
    },
}
REPORT_ORDER = ("public", "private", "private_token", "private_fresh", "private_dpop")
REPORT_ORDER += ("private_dpop_redis", "private_postgres", "private_dpop_postgres")
REPORT_ORDER += ("drf_hello", "simplejwt_db", "simplejwt", "quickstart_public")
REPORT_ORDER += ("quickstart_private",)
ROW_LABELS = {
    "private_dpop": "`/api/private/` over DPoP: one bound token, a new proof on every request"
    " (replay cache: the database, here SQLite)",
    "private_dpop_redis": "`/api/private/` over DPoP, as above (replay cache: Redis)",
    "private_dpop_postgres": "`/api/private/` over DPoP, as above (replay cache: PostgreSQL)",
    "public": "`/api/public/`",
    "private": "`/api/private/`, one repeated token",
    "private_token": "`/api/private/`, one repeated token (token user, no database)",
    "private_postgres": "`/api/private/`, one repeated token",
    "private_no_metrics": "`/api/private/`, one repeated token",
    "private_metrics": "`/api/private/`, one repeated token",
    "private_fresh": "`/api/private/`, a new token on every request (cache miss)",
    "drf_hello": 'DRF "hello" view (`AllowAny`)',
    "simplejwt": "private view, one repeated token (verified every time)",
    "simplejwt_db": "private view, one repeated token (verified every time, user read)",
    "quickstart_public": "`/api/public/` (plain view)",
    "quickstart_private": "`/api/private/` (`@require_auth`), one repeated token",
    **{
        f"{prefix}{kind}": f"`/api/{kind}/`" + (", one repeated token" if kind == "private" else "")
        for _, _, prefix in SERVERS[1:]
        for kind in ("public", "private")
    },
    **{
        f"adapter_{prefix.strip('/')}_{kind}": f"`{prefix}{kind}/`"
        + (", one repeated token" if kind == "private" else "")
        for _, _, prefix in ADAPTERS
        for kind in ("public", "private")
    },
}
# Issue 19's targets, each on requests/s and on worker CPU per request: (ours, the peer, at least).
PEER_TARGETS = (
    ("public", "drf_hello", 1.2),
    ("private", "simplejwt_db", 1.2),
    ("private", "quickstart_private", 1.0),
    ("private_token", "simplejwt", 1.2),
    ("private_token", "quickstart_private", 1.2),
)
TARGETS = {
    "hit": 0.25,  # cache hit / floor, at most
    "first_seen": 1.2,  # first-seen token / PyJWT decode, at most
    "dpop_postgres": 0.5,  # DPoP on PostgreSQL / Bearer on PostgreSQL requests/s, at least
    "access_log_us": 10.0,  # the access log line, CPU µs per request, at most
    "fetches_per_worker": 1,  # JWKS fetches per worker in the whole run, at most
    "cache_mb": 20.0,  # a full default cache, MB added to a worker, under
    "metrics_cost": 0.05,  # the metrics' CPU / a /api/private/ request's, at most
}


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- 1. Per-token cost ----------------------------------------------------------------------------


def measure_tokens(private_key, issuer: str, jwks_url: str, tokens: list[str], quick: bool):
    """Median seconds per token for each way of checking it, and the in-process cache memory."""
    import jwt
    from jose import jwk as jose_jwk
    from jose import jwt as jose_jwt

    from auth0_jwt.conf import load_auth0_settings
    from auth0_jwt.runtime import build_token_verifier

    rounds = 10 if quick else 40
    token = tokens[0]
    public_key = private_key.public_key()
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    pyjwt_options = {"require": ["exp", "iss", "aud", "sub"]}
    jose_key = jose_jwk.construct(public_jwk(private_key), "RS256")  # built once, as ours are
    # In-process and without Django's database: no saved key set (JWKS_PERSISTED_MAX_AGE 0).
    config = load_auth0_settings(
        {"ISSUER": issuer, "AUDIENCE": AUDIENCE, "JWKS_URL": jwks_url, "JWKS_PERSISTED_MAX_AGE": 0}
    )
    verifier = build_token_verifier(config)
    uncached = build_token_verifier(replace(config, token_cache_size=0))
    # Every row but the cache hit walks the same list of tokens, each token once: the first-seen
    # row cannot repeat a token, and the others then pay for the same fresh data.
    walk = tokens[1 : 2 + (rounds + 1) * 100]
    signed = [signing_input_and_signature(t) for t in walk]
    floor_walk, pyjwt_walk, jose_walk, first_seen_walk, uncached_walk = (
        iter(signed),
        iter(walk),
        iter(walk),
        iter(walk),
        iter(walk),
    )

    def floor():
        message, signature = next(floor_walk)
        public_key.verify(signature, message, pkcs1, sha256)

    def pyjwt():
        return jwt.decode(
            next(pyjwt_walk),
            public_key,
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=issuer,
            leeway=60,
            options=pyjwt_options,
        )

    def jose():
        return jose_jwt.decode(
            next(jose_walk), jose_key, algorithms=["RS256"], audience=AUDIENCE, issuer=issuer
        )

    def first_seen():
        return verifier.verify(next(first_seen_walk))

    def without_cache():
        return uncached.verify(next(uncached_walk))

    def repeated():
        return verifier.verify(token)

    # Each way must accept the tokens it is timed on (here: the first of its walk).
    assert floor() is None
    assert pyjwt()["sub"] == jose()["sub"] == first_seen().subject == without_cache().subject
    assert repeated().subject == SUBJECT
    assert token in verifier.token_cache
    costs = interleaved_costs(
        {
            "floor": (floor, 100),
            "pyjwt": (pyjwt, 100),
            "jose": (jose, 100),
            "first_seen": (first_seen, 100),
            "without_cache": (without_cache, 100),
            "hit": (repeated, 1000),
        },
        rounds=rounds,
    )
    for name, cost in costs.items():
        log(f"{name}: {cost * 1e6:.2f} us")
    costs["rounds"] = rounds
    costs["token_length"] = len(token)

    # What a full default cache holds, allocated as a server would (new strings per request).
    encoded = [t.encode() for t in tokens[:FULL_CACHE]]
    verifier.token_cache.clear()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for raw in encoded:
        verifier.verify(raw.decode())
    gc.collect()
    costs["cache_bytes"] = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert len(verifier.token_cache) == FULL_CACHE
    log(f"in-process cache of {FULL_CACHE} tokens: {costs['cache_bytes'] / 1e6:.1f} MB")
    return costs


def measure_dpop_proofs(token: str, client_key, quick: bool) -> dict:
    """Median seconds per DPoP proof: the ES256 signature check alone in `cryptography` (the
    floor) and this project's whole proof verification, each on proofs it has not seen."""
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    from auth0_jwt.dpop import DPoPVerifier
    from auth0_jwt.local_issuer import create_dpop_proof

    rounds = 10 if quick else 40
    url = "http://127.0.0.1:8000/api/private/"
    proofs = [
        create_dpop_proof(client_key, method="GET", url=url, access_token=token)
        for _ in range((rounds + 1) * 100 + 1)
    ]
    public_key, ecdsa = client_key.public_key(), ec.ECDSA(hashes.SHA256())
    signed = []
    for proof in proofs:
        message, raw = signing_input_and_signature(proof)
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        signed.append((message, encode_dss_signature(r, s)))
    verifier = DPoPVerifier()
    floor_walk, proof_walk = iter(signed), iter(proofs)

    def floor():
        message, signature = next(floor_walk)
        public_key.verify(signature, message, ecdsa)

    def verify():
        return verifier.verify(next(proof_walk), method="GET", url=url, access_token=token)

    assert floor() is None
    assert verify().claims["htu"] == url
    costs = interleaved_costs({"floor": (floor, 100), "proof": (verify, 100)}, rounds=rounds)
    log(f"DPoP: ES256 floor {costs['floor'] * 1e6:.2f} us, proof {costs['proof'] * 1e6:.2f} us")
    costs["rounds"] = rounds
    costs["proof_length"] = len(proofs[0])
    return costs


def signing_input_and_signature(token: str) -> tuple[bytes, bytes]:
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode(), base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))


# --- 2. HTTP under gunicorn -----------------------------------------------------------------------


def service_env(issuer: str, jwks_url: str, database_url: str, **extra) -> dict:
    """The environment of the service under test: production mode, the bench's issuer and JWKS."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}
    dotenv = ROOT / ".env"
    if dotenv.is_file():  # an empty value counts as unset, and the environment wins over .env
        for line in dotenv.read_text().splitlines():
            name = line.split("=", 1)[0].strip()
            if "=" in line and name and not name.startswith("#"):
                env[name.removeprefix("export ").strip()] = ""
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "auth0_django_example.settings",
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
            # Plain HTTP on loopback; in production TLS ends in front of gunicorn.
            "DJANGO_SECURE_SSL_REDIRECT": "0",
            "DATABASE_URL": database_url,
            "AUTH0_ISSUER": issuer,
            "AUTH0_JWKS_URL": jwks_url,
            "AUTH0_API_IDENTIFIER": AUDIENCE,
            **extra,
        }
    )
    return env


def write_tokens(path: Path, tokens: list[str]) -> Path:
    path.write_text("\n".join(tokens) + "\n")
    path.chmod(0o600)
    return path


def default_threads(env: dict) -> int:
    """The threads per worker gunicorn.conf.py chooses by default (1: sync workers)."""
    code = "import runpy; print(runpy.run_path('gunicorn.conf.py')['threads'])"
    completed = subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return int(completed.stdout.strip().splitlines()[-1])


def peer_env(kind: str, issuer: str, jwks_url: str, database: Path) -> dict:
    """The environment of a reference project (bench/peers/; simplejwt only in `kind` simplejwt,
    the quickstart's views in `kind` quickstart), or of the adapters' project (`kind` adapters,
    bench/adapters/)."""
    project = "adapters" if kind == "adapters" else "peers"
    env = {k: v for k, v in os.environ.items() if not k.startswith(SERVICE_PREFIXES)}
    bench_packages = os.environ.get("BENCH_PACKAGES", str(ROOT / ".venv" / "bench-packages"))
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": f"bench.{project}.settings",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "BENCH_PEER": kind,
            "BENCH_PEER_DATABASE": str(database),
            "BENCH_PEER_JWKS_URL": jwks_url,
            "BENCH_PEER_ISSUER": issuer,
            "BENCH_PEER_AUDIENCE": AUDIENCE,
            "PYTHONPATH": os.pathsep.join([str(ROOT), bench_packages]),
        }
    )
    return env


def prepare_peers(issuer: str, jwks_base_url: str, workdir: Path) -> dict:
    """The environments of the reference projects and of the adapters' project, their databases
    migrated where they read users."""
    peers = {
        kind: peer_env(kind, issuer, jwks_base_url + PEER_JWKS_PATH, workdir / "peer.sqlite3")
        for kind in ("hello", "simplejwt", "quickstart")
    }
    # The projects that read (and create) users: a database of their own, migrated; the
    # simplejwt one with the user its tokens name (simplejwt creates none).
    peers["adapters"] = peer_env(
        "adapters", issuer, jwks_base_url + ADAPTERS_JWKS_PATH, workdir / "adapters.sqlite3"
    )
    peers["simplejwt_db"] = peer_env(
        "simplejwt_db", issuer, jwks_base_url + PEER_JWKS_PATH, workdir / "users.sqlite3"
    )
    for kind in ("adapters", "simplejwt_db"):
        subprocess.run(  # noqa: S603 - a fixed command line
            [sys.executable, "-m", "django", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=peers[kind],
            check=True,
            timeout=120,
        )
    subprocess.run(  # noqa: S603 - a fixed command line
        [sys.executable, "-m", "django", "shell", "-c",
         "from django.contrib.auth.models import User;"
         f" User.objects.create_user(username={SUBJECT!r})"],
        cwd=ROOT, env=peers["simplejwt_db"], check=True, timeout=120, capture_output=True,
    )  # fmt: skip
    return peers


def start_services(env: dict, peers: dict, workdir: Path, servers: list, wanted=None) -> dict:
    """The services of HTTP_ROWS (those in `wanted`, if given), running side by side (each
    stopped by the caller)."""
    python = sys.executable
    bench_packages = os.environ.get("BENCH_PACKAGES", str(ROOT / ".venv" / "bench-packages"))
    # granian, and uvloop and httptools (uvicorn[standard]) come from the bench's packages.
    env = {**env, "PYTHONPATH": os.pathsep.join([str(ROOT), bench_packages])}
    asgi_app = "auth0_django_example.asgi:application"
    wanted = set(wanted or SERVICES)

    def ours(log, extra=None, **options):
        return start_gunicorn(python, {**env, **(extra or {})}, workers=WORKERS, log_path=log)

    def peer(kind, app="bench.peers.wsgi:application", ready_path="/api/public/"):
        return lambda log: start_gunicorn(
            python, peers[kind], workers=WORKERS, threads=1, log_path=log, config=None,
            app=app, ready_path=ready_path,
        )  # fmt: skip

    starters = {
        "ours": ours,
        "ours_token": lambda log: ours(log, {"AUTH0_USER": "token"}),
        "ours_no_metrics": lambda log: ours(log, {"METRICS_ENABLED": "0"}),
        "ours_metrics": ours,
        "ours_gunicorn_uvicorn": lambda log: start_gunicorn(
            python,
            env,
            workers=WORKERS,
            log_path=log,
            app=asgi_app,
            worker_class="uvicorn.workers.UvicornWorker",
        ),  # fmt: skip
        "ours_uvicorn": lambda log: start_uvicorn(
            python, env, workers=WORKERS, log_path=log, app=asgi_app, ready_path="/api/public/"
        ),
        "ours_granian": lambda log: start_granian(python, env, workers=WORKERS, log_path=log),
        "ours_granian_asgi": lambda log: start_granian(
            python, env, workers=WORKERS, log_path=log, app=asgi_app, interface="asgi"
        ),
        "drf_hello": peer("hello"),
        "simplejwt": peer("simplejwt"),
        "simplejwt_db": peer("simplejwt_db"),
        "quickstart": peer("quickstart"),
        "adapters_wsgi": peer(
            "adapters", app="bench.adapters.wsgi:application", ready_path="/plain/public/"
        ),
        "adapters_asgi": lambda log: start_uvicorn(
            python,
            peers["adapters"],
            workers=WORKERS,
            log_path=log,
            app="bench.adapters.asgi:application",
            ready_path="/async/public/",
        ),  # fmt: skip
    }
    if "ours_redis" in wanted:
        replay_cache = start_redis(workdir / "redis.log")
        servers.append(replay_cache)
        redis_url = f"redis://127.0.0.1:{replay_cache.port}/0"
        starters["ours_redis"] = lambda log: ours(log, {"REDIS_URL": redis_url})
    if "ours_postgres" in wanted:
        postgresql = PostgreSQL(port=free_port(), prefix="bench-postgres-")
        servers.append(postgresql)
        postgresql.start("bench")
        postgres_env = {**env, "DATABASE_URL": postgresql.url("bench")}
        subprocess.run(  # noqa: S603 - a fixed command line
            [python, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT, env=postgres_env, check=True, timeout=300,
        )  # fmt: skip
        starters["ours_postgres"] = lambda log: ours(log, {"DATABASE_URL": postgresql.url("bench")})
    started = {}
    for name in SERVICES:
        if name in wanted:
            started[name] = starters[name](workdir / f"{name}.log")
            servers.append(started[name])
    return started


def rows_of_round(round_number: int, rows: list[str]) -> list[str]:
    """`rows` in order, but the metrics twins swap places every other round: their difference
    is small, and whichever runs second in a round is otherwise always the one to pay for it."""
    rows = list(rows)
    if round_number % 2 and {"private_no_metrics", "private_metrics"} <= set(rows):
        first, second = rows.index("private_no_metrics"), rows.index("private_metrics")
        rows[first], rows[second] = rows[second], rows[first]
    return rows


def ratio(runs: dict, top: str, bottom: str, measure=lambda r: r.requests_per_second) -> float:
    """`top` over `bottom`, taken within each round, then the median of the rounds: a busy moment
    on the shared machine then counts against both sides of one ratio."""
    return statistics.median(
        measure(a) / measure(b) for a, b in zip(runs[top], runs[bottom], strict=True)
    )


def cpu_per_request(result: LoadResult) -> float:
    return result.cpu_seconds / max(result.requests, 1)


def measure_http(
    env: dict,
    peers: dict,
    workdir: Path,
    tokens: list[str],
    seconds: float,
    dpop: dict,
    rows: list[str],
    rounds: int,
):
    """wrk against each of `rows` (names of HTTP_ROWS), in `rounds` rounds that take the rows in
    turn; the new-token runs never re-send a token, the DPoP runs never re-send a proof (`dpop`:
    the bound token and the client key). Returns the runs of every round, the worker processes
    seen per service, the load average before and after, and how the services were run."""

    def proofs_file(url: str, count: int) -> Path:
        """`count` fresh proofs for GET `url` (signed now, so well inside their 300 s)."""
        proofs = sign_proofs(dpop["client_key"], dpop["token"], url, count)
        return write_tokens(workdir / "proofs.txt", proofs)

    dpop_env = {"BENCH_DPOP_TOKEN": dpop["token"]}
    repeated = write_tokens(workdir / "repeated.txt", tokens[:1])
    share = (len(tokens) - 1) // rounds
    rotating = [
        write_tokens(workdir / f"rotating-{n}.txt", tokens[1 + n * share : 1 + (n + 1) * share])
        for n in range(rounds)
    ]
    servers: list = []
    load = {"before": os.getloadavg()}
    try:
        services = start_services(
            env, peers, workdir, servers, {HTTP_ROWS[name][0] for name in rows}
        )
        for name in rows:  # the first token: keys loaded, user made
            service, path, kind = HTTP_ROWS[name]
            if kind:
                wait_for(services[service], path, timeout=30, token=tokens[0])
        workers = {name: server.worker_pids() for name, server in services.items()}
        log(f"{len(services)} services up, {WORKERS} workers each; warming up")
        for name in rows:
            service, path, kind = HTTP_ROWS[name]
            url = services[service].url + path
            if kind == "dpop":
                run_wrk(
                    url,
                    seconds=1,
                    connections=CONNECTIONS,
                    tokens_file=proofs_file(url, 4000),
                    mode="rotate",
                    script="dpop.lua",
                    extra_env=dpop_env,
                )
                continue
            tokens_file = repeated if kind else None
            run_wrk(url, seconds=1, connections=CONNECTIONS, tokens_file=tokens_file)
        runs: dict[str, list[LoadResult]] = {name: [] for name in rows}
        bearer_rps = 2000.0  # proofs to sign for a DPoP run: more than a Bearer run could use
        for round_number in range(rounds):
            for name in rows_of_round(round_number, rows):
                service, path, kind = HTTP_ROWS[name]
                tokens_file = {None: None, "repeated": repeated}.get(kind, rotating[round_number])
                options = {"mode": "rotate" if kind == "fresh" else "repeat"}
                if kind == "dpop":  # more proofs than the run could use, each sent once
                    previous = [run.requests_per_second for run in runs[name]] or [bearer_rps]
                    count = int(max(previous) * seconds * 1.5) + 500
                    tokens_file = proofs_file(services[service].url + path, count)
                    options = {"mode": "rotate", "script": "dpop.lua", "extra_env": dpop_env}
                pids = workers[service]
                cpu_before = cpu_seconds(pids)
                result = run_wrk(
                    services[service].url + path,
                    seconds=seconds,
                    connections=CONNECTIONS,
                    tokens_file=tokens_file,
                    **options,
                )
                result.cpu_seconds = cpu_seconds(pids) - cpu_before
                runs[name].append(result)
                log(f"round {round_number + 1}, {name}: {result.requests_per_second:.0f} req/s")
        for name, server in services.items():
            if server.worker_pids() != workers[name]:
                raise RuntimeError(f"a worker of {name} was replaced during the run")
    finally:
        for server in servers:
            server.stop()
    load["after"] = os.getloadavg()
    return runs, {"workers": workers, "load": load, "threads": default_threads(env)}


# --- 3. Memory of a worker with a full cache ------------------------------------------------------


def fill_cache(url: str, tokens: list[str], *, threads: int = 4) -> int:
    """Send each token once to /api/private/ over keep-alive connections; return the failures."""
    host, port = url.removeprefix("http://").split(":")
    failures = []

    def client(share):
        connection = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            for token in share:
                connection.request(
                    "GET", "/api/private/", headers={"Authorization": "Bearer " + token}
                )
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failures.append(response.status)
        finally:
            connection.close()

    workers = [threading.Thread(target=client, args=(tokens[n::threads],)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=600)
    return len(failures)


def measure_memory(env: dict, workdir: Path, tokens: list[str], cache_size: int, workers_seen):
    """RSS of a single worker (production default) before and after it has seen FULL_CACHE
    distinct tokens."""
    env = {**env, "AUTH0_TOKEN_CACHE_SIZE": str(cache_size)}
    repeated = write_tokens(workdir / "repeated.txt", tokens[:1])
    server = start_gunicorn(
        sys.executable, env, workers=1, log_path=workdir / "gunicorn-memory.log"
    )
    try:
        (pid,) = server.worker_pids()
        workers_seen.add(pid)
        wait_for(server, "/api/private/", timeout=30, token=tokens[0])
        run_wrk(server.url + "/api/public/", seconds=2, connections=CONNECTIONS)
        run_wrk(
            server.url + "/api/private/", seconds=2, connections=CONNECTIONS, tokens_file=repeated
        )
        before = memory_kib(pid)
        failures = fill_cache(server.url, tokens[1 : 1 + FULL_CACHE])
        after = memory_kib(pid)
    finally:
        server.stop()
    if failures:
        raise RuntimeError(f"{failures} of the cache-filling requests failed")
    log(f"worker RSS with cache size {cache_size}: {before['VmRSS']} -> {after['VmRSS']} KiB")
    return {"before": before, "after": after}


# --- 4. The authentication's own cost, in-process ------------------------------------------------


def measure_request(env: dict, token: str, quick: bool) -> dict[str, float]:
    """CPU µs of DRF's authenticate() on a repeated token, and of the user read inside it, in
    this process on the bench's database (its own JWKS path, counted apart)."""
    os.environ.update(env, LOG_LEVEL="WARNING")
    import django

    django.setup()
    from django.test import RequestFactory
    from rest_framework.request import Request

    from auth0_jwt.authentication import JSONWebTokenAuthentication
    from auth0_jwt.user_lookup import find_user_for_subject

    factory, authentication = RequestFactory(), JSONWebTokenAuthentication()
    header = "Bearer " + token

    def request_only():
        return Request(factory.get("/api/private/", HTTP_AUTHORIZATION=header))

    def authenticate():
        return authentication.authenticate(request_only())

    def user_read():
        return find_user_for_subject(SUBJECT)

    # The access log line (access_log.py) as a worker writes it: the production JSON format, the
    # handler's stream swapped for /dev/null (the write call is paid, not the disk).
    import logging

    from django.http import JsonResponse

    from auth0_django_example.access_log import AccessLogMiddleware
    from auth0_django_example.logs import ACCESS_LOGGER

    answer = JsonResponse({"message": "Hello from a private endpoint!"})
    served = factory.get("/api/private/", HTTP_AUTHORIZATION=header, HTTP_USER_AGENT="wrk/4.2")
    served.request_id = "0" * 32
    logged = AccessLogMiddleware(lambda request: answer)
    access_logger = logging.getLogger(ACCESS_LOGGER)
    access_logger.setLevel(logging.INFO)
    devnull = open(os.devnull, "w")  # noqa: SIM115 - closed below
    streams = [
        (handler, handler.setStream(devnull))
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler)
    ]

    def unlogged():
        return answer if served else None

    def access_logged():
        return logged(served)

    assert authenticate()[0].pk == user_read().pk
    try:
        costs = interleaved_costs(
            {
                "request": (request_only, 50),
                "authenticate": (authenticate, 50),
                "user": (user_read, 50),
                "unlogged": (unlogged, 200),
                "access_logged": (access_logged, 200),
            },
            rounds=10 if quick else 30,
        )
    finally:
        for handler, stream in streams:
            handler.setStream(stream)
        devnull.close()
        access_logger.setLevel(logging.NOTSET)
    return {
        "authenticate": (costs["authenticate"] - costs["request"]) * 1e6,
        "user_read": costs["user"] * 1e6,
        "access_log": (costs["access_logged"] - costs["unlogged"]) * 1e6,
    }


def measure_metrics_cost(env: dict, token: str, workdir: Path, quick: bool) -> dict:
    """CPU µs the Prometheus metrics add to one /api/private/ request (bench/metrics_cost.py, in
    a process of its own in prometheus_client's multiprocess mode, as a gunicorn worker)."""
    directory = workdir / "prometheus-metrics-cost"
    directory.mkdir()
    completed = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(BENCH_DIR / "metrics_cost.py")],
        cwd=ROOT,
        env={
            **env,
            "PROMETHEUS_MULTIPROC_DIR": str(directory),
            "BENCH_TOKEN": token,
            "BENCH_QUICK": "1" if quick else "0",
            "LOG_LEVEL": "WARNING",
        },
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    cost = json.loads(completed.stdout.strip().splitlines()[-1])
    log(f"metrics: {cost['total_us']:.1f} µs of a {cost['request_us']:.0f} µs private request")
    return cost


# --- Report ---------------------------------------------------------------------------------------


def token_report(costs: dict, dpop: dict) -> list[str]:
    """Section 1: the per-token and per-proof tables."""
    floor = costs["floor"]
    lines = [
        f"Per-token cost, one 2048-bit RSA key, {costs['token_length']}-character RS256 tokens:"
        f" CPU time, median of {costs['rounds']} rounds, each running a batch of every check in"
        " turn (100 tokens, the same list for every row; cache hit: 1,000 times one token)",
        "",
        "| check | µs per token | × floor |",
        "|---|---:|---:|",
    ]
    rows = [
        ("`cryptography` RS256 signature verify (the floor)", "floor"),
        ("PyJWT `jwt.decode` (aud, iss, exp, required claims)", "pyjwt"),
        ("python-jose `jwt.decode` (key object built once)", "jose"),
        ("this project, first-seen token (cache miss)", "first_seen"),
        ("this project, cache turned off (`AUTH0_TOKEN_CACHE_SIZE=0`)", "without_cache"),
        ("this project, repeated token (cache hit)", "hit"),
    ]
    for label, name in rows:
        lines.append(f"| {label} | {costs[name] * 1e6:.2f} | {costs[name] / floor:.2f} |")
    lines += [
        "",
        f"DPoP proof verification, one P-256 client key, {dpop['proof_length']}-character ES256"
        f" proofs, each verified once: CPU time, median of {dpop['rounds']} rounds (100 proofs"
        " per batch)",
        "",
        "| check | µs per proof | × ES256 floor |",
        "|---|---:|---:|",
        f"| `cryptography` ES256 signature verify (the floor) | {dpop['floor'] * 1e6:.2f} | 1.00 |",
        "| this project, `DPoPVerifier.verify` (typ, alg, jwk, signature, htm, htu, iat, ath;"
        f" replay cache not included) | {dpop['proof'] * 1e6:.2f} |"
        f" {dpop['proof'] / dpop['floor']:.2f} |",
        "",
    ]
    return lines


def http_report(runs: dict, served: dict, seconds: float) -> tuple[list[str], list[tuple]]:
    """Section 2: the HTTP tables of the rows run, and the targets they decide (passed, text)."""
    http = {name: combine(results) for name, results in runs.items() if results}
    rounds = len(next(iter(runs.values())))
    before, after = served["load"]["before"], served["load"]["after"]
    lines = [
        f"HTTP on loopback: every service with {WORKERS} worker processes; wrk 1 thread,"
        f" {CONNECTIONS} connections; {rounds} rounds of {seconds:g} s runs, each round taking"
        " every row in turn. requests/s, p50 and p99: median of the rounds; × ratios: taken"
        " within each round, median of the rounds; worker CPU: the workers' CPU time (user +"
        " system) per request. Load average (1, 5, 15 min) before the HTTP runs"
        f" {before[0]:.2f} {before[1]:.2f} {before[2]:.2f}, after {after[0]:.2f} {after[1]:.2f}"
        f" {after[2]:.2f} (other work on the machine: the rounds' interleaving and medians are"
        " the defence)",
        "",
        "| service | endpoint | requests/s | p50 ms | p99 ms | worker CPU µs/request |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for name in dict.fromkeys(REPORT_ORDER + tuple(HTTP_ROWS)):
        if name not in http:
            continue
        service, result = HTTP_ROWS[name][0], http[name]
        lines.append(
            f"| {SERVICES[service]} | {ROW_LABELS[name]} | {result.requests_per_second:.0f} |"
            f" {result.p50 * 1e3:.2f} | {result.p99 * 1e3:.2f} |"
            f" {cpu_per_request(result) * 1e6:.0f} |"
        )
    cpu = {name: cpu_per_request(result) for name, result in http.items()}
    checks = []
    if {"public", "private"} <= set(http):
        by_server = [
            (label, prefix) for label, _, prefix in SERVERS
            if {f"{prefix}public", f"{prefix}private"} <= set(http)
        ]  # fmt: skip
        lines += [
            "",
            "The servers considered, on the same app and settings (the application writes the"
            " access log under each; the servers' own are off), same run:",
            "",
            "| server | public req/s | public p99 ms | public CPU µs | private req/s |"
            " private p99 ms | private CPU µs | × gunicorn sync, req/s public / private |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for label, prefix in by_server:
            public, private = http[f"{prefix}public"], http[f"{prefix}private"]
            lines.append(
                f"| {label} | {public.requests_per_second:.0f} | {public.p99 * 1e3:.2f} |"
                f" {cpu[f'{prefix}public'] * 1e6:.0f} | {private.requests_per_second:.0f} |"
                f" {private.p99 * 1e3:.2f} | {cpu[f'{prefix}private'] * 1e6:.0f} |"
                f" {ratio(runs, f'{prefix}public', 'public'):.2f} /"
                f" {ratio(runs, f'{prefix}private', 'private'):.2f} |"
            )
    lines.append("")
    for bearer, dpop_row, store in (
        ("private", "private_dpop", "the database, SQLite"),
        ("private", "private_dpop_redis", "Redis"),
        ("private_postgres", "private_dpop_postgres", "the database, PostgreSQL"),
    ):
        if {bearer, dpop_row} <= set(http):
            lines.append(
                f"DPoP, replay cache {store}: {ratio(runs, dpop_row, bearer):.2f}x the requests/s"
                f" of Bearer on the same service; p99 {http[dpop_row].p99 * 1e3:.1f} ms; worker"
                f" CPU {cpu[dpop_row] * 1e6:.0f} µs against {cpu[bearer] * 1e6:.0f} µs"
            )
    if {"private_postgres", "private_dpop_postgres"} <= set(http):
        dpop_ratio = ratio(runs, "private_dpop_postgres", "private_postgres")
        checks.append((
            dpop_ratio >= TARGETS["dpop_postgres"],
            f"DPoP on PostgreSQL >= {TARGETS['dpop_postgres']}x Bearer's requests/s on"
            f" PostgreSQL: {dpop_ratio:.2f}x",
        ))  # fmt: skip
    adapters = [a for a in ADAPTERS if f"adapter_{a[2].strip('/')}_public" in http]
    if adapters:
        lines += [
            "",
            "The package's adapters (bench/adapters/: one `startproject` project, the package"
            " alone), each view with and without the token check, bodies alike; same run, one"
            " repeated token:",
            "",
            "| adapter | requests/s public | requests/s private | × | p99 ms public | private |"
            " worker CPU µs/request public | private | the token check |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
    for label, _, prefix in adapters:
        name = f"adapter_{prefix.strip('/')}"
        public, private = http[f"{name}_public"], http[f"{name}_private"]
        public_cpu, private_cpu = cpu[f"{name}_public"] * 1e6, cpu[f"{name}_private"] * 1e6
        lines.append(
            f"| {label} | {public.requests_per_second:.0f} | {private.requests_per_second:.0f} |"
            f" {ratio(runs, f'{name}_private', f'{name}_public'):.2f} |"
            f" {public.p99 * 1e3:.2f} | {private.p99 * 1e3:.2f} |"
            f" {public_cpu:.0f} | {private_cpu:.0f} | {private_cpu - public_cpu:+.0f} |"
        )
    for ours, peer, least in PEER_TARGETS:
        if not {ours, peer} <= set(http):
            continue
        by_rps = ratio(runs, ours, peer)
        by_cpu = ratio(runs, peer, ours, cpu_per_request)
        checks.append((
            by_rps >= least and by_cpu >= least,
            f"{ROW_LABELS[ours]} ({SERVICES[HTTP_ROWS[ours][0]]}) >= {least}x"
            f" {SERVICES[HTTP_ROWS[peer][0]]}, {ROW_LABELS[peer]}: requests/s {by_rps:.2f}x,"
            f" by worker CPU per request {by_cpu:.2f}x ({cpu[ours] * 1e6:.0f} µs against"
            f" {cpu[peer] * 1e6:.0f} µs)",
        ))  # fmt: skip
    p99_pairs = [(ours, peer) for ours, peer, _ in PEER_TARGETS if {ours, peer} <= set(http)]
    for ours, peer in dict.fromkeys(p99_pairs):
        p99 = ratio(runs, ours, peer, lambda r: r.p99)
        checks.append((
            p99 <= 1.0,
            f"p99 of {ROW_LABELS[ours]} ({http[ours].p99 * 1e3:.2f} ms) <= {peer}'s"
            f" ({http[peer].p99 * 1e3:.2f} ms): {p99:.2f}x (median of the rounds' ratios)",
        ))  # fmt: skip
    if {"adapter_async_public", "adapter_async_private"} <= set(http):
        public, private = http["adapter_async_public"], http["adapter_async_private"]
        checks.append((
            None,
            "async plain view under uvicorn, protected against unprotected (no number set):"
            f" {ratio(runs, 'adapter_async_private', 'adapter_async_public'):.2f}x the"
            f" requests/s, {cpu['adapter_async_private'] * 1e6:.0f} µs against"
            f" {cpu['adapter_async_public'] * 1e6:.0f} µs worker CPU, p99"
            f" {private.p99 * 1e3:.1f} ms against {public.p99 * 1e3:.1f} ms",
        ))  # fmt: skip
    for name, result in http.items():
        if result.tokens_wrapped:
            lines.append(f"NOTE  {name}: the run used up its tokens or proofs and re-sent some")
    problems = [name for name, result in http.items() if result.errors]
    if problems:
        lines.append(f"NOTE  non-2xx answers or socket errors in: {', '.join(problems)}")
    return lines, checks


def report(results: dict, seconds: float) -> str:
    costs, memory, runs = results["costs"], results["memory"], results["runs"]
    http = {name: combine(result) for name, result in runs.items()}
    floor = costs["floor"]
    lines = [
        f"auth0-django-example benchmark: {os.cpu_count()} cores,"
        f" Python {platform.python_version()}, PyJWT {version('PyJWT')},"
        f" python-jose {version_of_jose()}, cryptography {version('cryptography')},"
        f" gunicorn {version('gunicorn')}, uvicorn {version('uvicorn')}, granian"
        f" {version_of_granian()}",
        "",
        *token_report(costs, results["dpop"]),
    ]
    http_lines, http_checks = http_report(runs, results["served"], seconds)
    lines += http_lines
    cpu = {name: cpu_per_request(result) for name, result in http.items()}
    cost = results["metrics_cost"]
    # What the metrics add (timed in-process, precisely) over what the request costs a worker.
    metrics_cost = cost["total_us"] / (cpu["private_no_metrics"] * 1e6)
    lines += [
        "",
        "Prometheus metrics (on by default; prometheus_client's multiprocess mode, as under"
        " gunicorn), per /api/private/ request with one repeated token: CPU time in-process"
        f" {cost['total_us']:.1f} µs ({cost['http_us']:.1f} µs the HTTP request metrics,"
        f" {cost['token_counters_us']:.1f} µs the token counters; the Django handler's"
        f" {cost['request_us']:.0f} µs is {cost['share']:.1%}), {metrics_cost:.1%} of the"
        f" {cpu['private_no_metrics'] * 1e6:.0f} µs a gunicorn worker spends per"
        " request with METRICS_ENABLED=0. End to end, twin services side by side: worker CPU"
        f" per request {cpu['private_metrics'] * 1e6:.0f} µs with the metrics,"
        f" {cpu['private_no_metrics'] * 1e6:.0f} µs without, requests/s"
        f" {ratio(runs, 'private_metrics', 'private_no_metrics'):.2f}x",
    ]
    request = results["request"]
    on, off = memory["on"], memory["off"]
    grown_on = (on["after"]["VmRSS"] - on["before"]["VmRSS"]) * 1024 / 1e6
    grown_off = (off["after"]["VmRSS"] - off["before"]["VmRSS"]) * 1024 / 1e6
    traced = costs["cache_bytes"] / 1e6
    cache_mb = max(grown_on - grown_off, traced)
    fetches, workers = results["fetches"], results["workers"]
    per_worker = fetches / workers
    lines += [
        "",
        f"In-process, per authenticated request: DRF authenticate() {request['authenticate']:.0f}"
        f" µs, of which reading the user {request['user_read']:.0f} µs (CPU time, cache hit);"
        f" the access log line {request['access_log']:.1f} µs (JSON, written to /dev/null)",
        f"JWKS fetches during the whole run: {fetches} by the {workers} workers of this project"
        f" started ({per_worker:.2f} per worker); {results['in_process_fetches']} by the bench's"
        f" own {IN_PROCESS_VERIFIERS} in-process verifiers; {results['peer_fetches']} by"
        " simplejwt's workers (PyJWKClient)",
        f"Worker memory after {FULL_CACHE:,} distinct tokens: RSS +{grown_on:.1f} MB with the"
        f" default cache (peak {on['after']['VmHWM'] * 1024 / 1e6:.0f} MB), +{grown_off:.1f} MB"
        f" with AUTH0_TOKEN_CACHE_SIZE=0; the cache's contents (tracemalloc): {traced:.1f} MB",
        "",
        "Targets (issue 19: each peer ratio on requests/s and on worker CPU per request; the"
        " peers under gunicorn sync with its defaults, as their users serve them):",
    ]
    extra = (costs["first_seen"] - costs["pyjwt"]) * 1e6
    checks = [
        *http_checks,
        (
            costs["hit"] / floor <= TARGETS["hit"],
            f"cache hit <= {TARGETS['hit']}x the floor: {costs['hit'] / floor:.3f}x",
        ),
        (
            costs["first_seen"] / costs["pyjwt"] <= TARGETS["first_seen"],
            f"first-seen token <= {TARGETS['first_seen']}x PyJWT decode:"
            f" {costs['first_seen'] / costs['pyjwt']:.2f}x (around PyJWT's decode the verifier"
            f" adds {extra:.0f} µs: its strict shape, header and claim-type checks, the sub and"
            " scope checks, and keeping the token; with the cache off it is"
            f" {costs['without_cache'] / costs['pyjwt']:.2f}x)",
        ),
        (
            request["access_log"] <= TARGETS["access_log_us"],
            f"the access log line <= {TARGETS['access_log_us']:g} µs per request:"
            f" {request['access_log']:.1f} µs",
        ),
        (
            per_worker <= TARGETS["fetches_per_worker"],
            f"at most {TARGETS['fetches_per_worker']} JWKS fetch per worker: {per_worker:.2f}",
        ),
        (
            metrics_cost <= TARGETS["metrics_cost"],
            f"metrics cost <= {TARGETS['metrics_cost']:.0%} of a /api/private/ request's worker"
            f" CPU: {metrics_cost:.1%}",
        ),
        (
            cache_mb < TARGETS["cache_mb"],
            f"a full default cache adds < {TARGETS['cache_mb']:g} MB to a worker:"
            f" {cache_mb:.1f} MB",
        ),
    ]
    lines += format_checks(checks)
    return "\n".join(lines)


def format_checks(checks: list[tuple]) -> list[str]:
    """One line per target: PASS, MISS, or ROW for a measured row that has no number to meet."""
    verdicts = {True: "PASS", False: "MISS", None: "ROW "}
    return [f"  {verdicts[passed]}  {text}" for passed, text in checks]


def version_of_granian() -> str:
    try:
        return version("granian")
    except Exception:  # noqa: BLE001 - outside the bench packages' path
        return "?"


def version_of_jose() -> str:
    import jose

    return getattr(jose, "__version__", "?")


# --- Main -----------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3, help="length of each wrk run")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="interleaved HTTP rounds")
    parser.add_argument(
        "--rows",
        help="only these HTTP rows (comma-separated names of HTTP_ROWS, e.g. public,drf_hello):"
        " their table and the targets they decide, nothing else",
    )
    args = parser.parse_args()
    seconds = 1 if args.quick else min(max(args.seconds, 1), 30)
    rounds = max(args.rounds, 1)
    rows = list(HTTP_ROWS)
    if args.rows:
        rows = [name.strip() for name in args.rows.split(",") if name.strip()]
        unknown = [name for name in rows if name not in HTTP_ROWS]
        if unknown:
            parser.error(f"unknown rows: {', '.join(unknown)} (see HTTP_ROWS in bench/run.py)")
    # SIGTERM (e.g. from a CI time limit) unwinds like Ctrl-C, so the servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    started = time.monotonic()
    private_key = new_private_key()
    with ExitStack() as stack:
        jwks = stack.enter_context(JWKSServer({"keys": [public_jwk(private_key)]}))
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auth0-bench-")))
        issuer = jwks.base_url + "/"
        count = FULL_CACHE + 2_000 if args.quick else 24_000
        if args.rows:  # no cache to fill: enough new tokens for the new-token rows
            count = 3_000 if args.quick else 12_000
        log(f"minting {count} RS256 tokens")
        tokens = mint_tokens(private_key, issuer, count)

        client_key = ec.generate_private_key(ec.SECP256R1())  # the DPoP client's key pair
        dpop = {"client_key": client_key, "token": mint_dpop_token(private_key, issuer, client_key)}
        if not args.rows:
            costs = measure_tokens(
                private_key, issuer, jwks.base_url + MICRO_JWKS_PATH, tokens, args.quick
            )
            dpop_costs = measure_dpop_proofs(dpop["token"], client_key, args.quick)

        database = workdir / "bench.sqlite3"
        env = service_env(
            issuer,
            jwks.base_url + SERVICE_JWKS_PATH,
            f"sqlite:///{database}",
            DJANGO_STATIC_ROOT=str(workdir / "static"),
        )
        for command in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
            subprocess.run(  # noqa: S603 - a fixed command line
                [sys.executable, "manage.py", *command, "-v", "0"],
                cwd=ROOT,
                env=env,
                check=True,
                timeout=120,
            )
        peers = prepare_peers(issuer, jwks.base_url, workdir)
        runs, served = measure_http(env, peers, workdir, tokens, seconds, dpop, rows, rounds)
        if args.rows:
            http_lines, checks = http_report(runs, served, seconds)
            print("\n".join([*http_lines, "", "Targets these rows decide:"]))
            print("\n".join(format_checks(checks)))
            print(f"\n(bench took {time.monotonic() - started:.0f} s)")
            return 0
        workers_seen = {
            pid
            for name, pids in served["workers"].items()
            if name.startswith("ours")
            for pid in pids
        }
        memory = {
            "on": measure_memory(env, workdir, tokens, FULL_CACHE, workers_seen),
            "off": measure_memory(env, workdir, tokens, 0, workers_seen),
        }
        request = measure_request(
            {**env, "AUTH0_JWKS_URL": jwks.base_url + DJANGO_JWKS_PATH}, tokens[0], args.quick
        )
        metrics_cost = measure_metrics_cost(
            {**env, "AUTH0_JWKS_URL": jwks.base_url + METRICS_JWKS_PATH},
            tokens[0],
            workdir,
            args.quick,
        )
        text = report(
            {
                "costs": costs,
                "dpop": dpop_costs,
                "runs": runs,
                "served": served,
                "peer_fetches": jwks.hits.get(PEER_JWKS_PATH, 0),
                "memory": memory,
                "request": request,
                "metrics_cost": metrics_cost,
                "fetches": jwks.hits.get(SERVICE_JWKS_PATH, 0),
                "workers": len(workers_seen),
                "in_process_fetches": sum(
                    jwks.hits.get(path, 0)
                    for path in (MICRO_JWKS_PATH, DJANGO_JWKS_PATH, METRICS_JWKS_PATH)
                ),
            },
            seconds,
        )
    print(text)
    print(f"\n(bench took {time.monotonic() - started:.0f} s; reproduce with: make bench)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
