"""Chaos: two gunicorn instances under mixed load while their dependencies fail one by one. Run with
`make chaos` (not part of `make test`).

Everything runs on 127.0.0.1, bounded in time (CHAOS_SECONDS, default 60, of load) and in
clients: a PostgreSQL server of its own (Debian's, on a free loopback port, a throwaway data
folder), a redis-server without persistence, a JWKS server made here that can answer 500, and
two gunicorn instances (gunicorn.conf.py, production settings, 2 workers each) sharing PostgreSQL
and Redis (the DPoP replay cache), behind one public host name as a load balancer would present
them. A third, one-worker instance is a separate deployment (its own database on the same server)
whose DPoP replay cache is the database, so that both replay stores are reset under load.

The load: Bearer and DPoP reads, customer creates with an Idempotency-Key (retried on 503 or no
answer, and some sent twice on purpose), bad tokens (forged, expired, other audience, alg none,
garbage), and replays of accepted DPoP proofs. The faults, one at a time (seconds into the load):

     3  the identity provider answers 500, for 10 s      16  Redis restarts, without persistence
     5  SIGHUP to instance A's master (a reload)          20  the DPoP table is restored empty
                                                          28  pg_ctl restart -m fast
                                                          38  SIGKILL to one worker of instance B

The checks (exit 1 if one fails): no 500 (nor any 5xx but 503); no bad token accepted; no replay
accepted, before or after either replay store's reset; every valid token answered 200 through the
reload during the identity provider's outage; valid requests answered only as the fault of the
moment explains (503 while PostgreSQL or Redis restarts, 401 telling DPoP clients to sign a new
proof for the iat leeway after a replay store's reset); no customer created twice by a retried
create; DPoP accepted again once the leeway has passed; at most one request without an answer (the
one the killed worker was serving). Then one summary line.
"""

import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from pathlib import Path

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import RSAAlgorithm

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from auth0_jwt.dpop import jwk_thumbprint  # noqa: E402 - the project's own, Django-free
from auth0_jwt.local_issuer import create_dpop_proof, dpop_public_jwk  # noqa: E402
from scripts.postgresql import PostgreSQL, PostgreSQLError  # noqa: E402

HOST = "127.0.0.1"
PUBLIC_HOST = "api.chaos.test"  # what the load balancer in front of the instances is called
ISSUER = "https://chaos.example.test/"
AUDIENCE = "https://api.chaos.test/"
KID = "chaos-key"
PRIVATE_URL = f"https://{PUBLIC_HOST}/api/private/"
SCOPES = "read:messages read:customers write:customers"

SECONDS = float(os.environ.get("CHAOS_SECONDS", "60"))
READERS = 4
DPOP_LEEWAY = 30  # AUTH0_DPOP_IAT_LEEWAY: how long DPoP is refused after a replay store's reset
DPOP_LIFETIME = 330  # AUTH0_DPOP_MAX_AGE + the leeway: how long an accepted proof is remembered
REQUEST_TIMEOUT = 10.0
# When each fault happens, in seconds into a 60-second run (scaled for other lengths).
SCHEDULE = {
    "idp_down": 3,
    "reload": 5,
    "idp_up": 13,
    "redis_restart": 16,
    "table_restore": 20,
    "postgres_restart": 28,
    "worker_kill": 38,
}
REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."
RESET_PREFIX = "The DPoP replay cache was reset, so proofs issued before "
DATABASE_DOWN = "The service's database is unavailable. Try again shortly."
REPLAY_CACHE_DOWN = (
    "DPoP proofs cannot be checked right now: the replay cache is unavailable. Try again shortly."
)


def at(event: str) -> float:
    return SCHEDULE[event] * SECONDS / 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise SystemExit(f"chaos: {what} within {timeout:g} s; giving up")


# --- The identity provider ------------------------------------------------------------------------


class IdentityProvider:
    """A JWKS endpoint that answers 500 while `down`; it counts the fetches it answers."""

    def __init__(self, jwk: dict):
        self.document = json.dumps({"keys": [jwk]}).encode()
        self.down = False
        self.fetches = 0
        idp = self

        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                idp.fetches += 1
                status, body = (500, b'{"error": "internal"}') if idp.down else (200, idp.document)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

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


# --- PostgreSQL and Redis -------------------------------------------------------------------------


class Redis:
    """Debian's redis-server on a free loopback port, no persistence (RDB and AOF off)."""

    def __init__(self, workdir: Path):
        self.binary = shutil.which("redis-server")
        if self.binary is None:
            raise SystemExit("chaos: redis-server is not installed (make redis-server)")
        self.folder = workdir / "redis"
        self.folder.mkdir()
        self.port = free_port()
        self.process = None

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> "Redis":
        self.process = subprocess.Popen(  # noqa: S603 - Debian's binary, fixed arguments
            [self.binary, "--bind", HOST, "--port", str(self.port), "--save", "",
             "--appendonly", "no", "--dir", str(self.folder), "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis.from_url(self.url, socket_timeout=1, socket_connect_timeout=1)

        def answers():
            try:
                return client.ping()
            except redis.RedisError:
                return False

        wait_until(answers, 20, "redis-server did not start")
        client.close()
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self.start()


# --- The instances --------------------------------------------------------------------------------


def _documented(path: Path) -> list[str]:
    names = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            names.append(line.split("=", 1)[0].strip())
    return names


def environment(**variables: str) -> dict[str, str]:
    """This process's environment with every project variable blanked (a developer's .env must
    not leak in), then `variables`."""
    env = dict(os.environ)
    for name in _documented(PROJECT_DIR / ".env.example"):
        env[name] = ""
    for name in _documented(PROJECT_DIR / ".env.production.example"):
        env[name] = ""
    env.update(
        DJANGO_SETTINGS_MODULE="auth0_django_example.settings", PYTHONUNBUFFERED="1", **variables
    )
    return env


class Instance:
    """`gunicorn -c gunicorn.conf.py` on a free port; JSON logs to a file."""

    def __init__(self, name: str, env: dict[str, str], workdir: Path):
        self.name = name
        self.port = free_port()
        self.env = {**env, "GUNICORN_BIND": f"{HOST}:{self.port}"}
        self.log_path = workdir / f"{name}.log"
        self.process = None

    def start(self) -> "Instance":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and config
                [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        return self

    def wait_ready(self) -> None:
        def ready():
            if self.process.poll() is not None:
                raise SystemExit(f"chaos: instance {self.name} exited:\n{self.log_text()}")
            return send(self.port, "GET", "/readyz")[0] == 200

        wait_until(ready, 60, f"instance {self.name} was not ready")

    def workers(self) -> list[int]:
        """The worker processes of this master, from /proc."""
        pids = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == self.process.pid:
                pids.append(int(stat.parent.name))
        return sorted(pids)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def send(port: int, method: str, path: str, headers=None, body: bytes | None = None):
    """One request through the 'TLS proxy' in front (public host, X-Forwarded-Proto); the status,
    the headers and the body, or status 0 if no answer came."""
    headers = {"Host": PUBLIC_HOST, "X-Forwarded-Proto": "https", **(headers or {})}
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    except (OSError, http.client.HTTPException):
        return 0, None, b""
    finally:
        connection.close()


def detail(body: bytes) -> str:
    try:
        value = json.loads(body)
    except ValueError:
        return ""
    return value.get("detail", "") if isinstance(value, dict) else ""


# --- The run --------------------------------------------------------------------------------------


class Run:
    """What happened: every answer by kind, the fault times, and what broke a check."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started = time.monotonic()
        self.events: dict[str, float] = {}
        self.answers: Counter = Counter()
        self.broken: Counter = Counter()
        self.examples: list[str] = []
        self.counts: Counter = Counter()

    def now(self) -> float:
        return time.monotonic() - self.started

    def event(self, name: str) -> None:
        with self.lock:
            self.events[name] = self.now()

    def within(self, name: str, before: float, after: float) -> bool:
        """Whether now is from `before` seconds before event `name` to `after` seconds after."""
        when = self.events.get(name)
        return when is not None and when - before <= self.now() <= when + after

    def record(self, kind: str, status: int, problem: tuple[str, str] | None = None) -> None:
        """One answer; `problem` is (the check it breaks, what happened)."""
        with self.lock:
            self.answers[f"{kind} {status}"] += 1
            self.counts["requests"] += 1
            if status == 0:
                self.broken["no answer"] += 1
            elif status >= 500 and status != 503:
                problem = ("5xx", f"{kind} answered {status}")
            if problem:
                check, what = problem
                self.broken[check] += 1
                if len(self.examples) < 12:
                    self.examples.append(f"{self.now():5.1f} s  {what}")

    def count(self, name: str, amount: int = 1) -> None:
        with self.lock:
            self.counts[name] += amount


class Tokens:
    """The test tenant's tokens: valid ones (Bearer and DPoP-bound) and bad ones."""

    def __init__(self):
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.jwk = {**RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True), "kid": KID}
        self.jwk.update(use="sig", alg="RS256")
        self.bearer = [self.mint(sub=f"auth0|chaos-reader-{n}") for n in range(READERS)]
        self.creator = self.mint(sub="auth0|chaos-creator")
        self.dpop_keys = {group: ec.generate_private_key(ec.SECP256R1()) for group in ("AB", "C")}
        self.dpop = {
            group: self.mint(
                sub=f"auth0|chaos-dpop-{group}",
                cnf={"jkt": jwk_thumbprint(dpop_public_jwk(key))},
            )
            for group, key in self.dpop_keys.items()
        }
        none_header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
        payload = jwt.utils.base64url_encode(json.dumps(self.claims("auth0|admin")).encode())
        self.bad = {
            "forged": self.mint(sub="auth0|admin", key=self.forger),
            "expired": self.mint(sub="auth0|chaos-reader-0", exp=int(time.time()) - 120),
            "other audience": self.mint(aud="https://other.example.test/"),
            "alg none": f"{none_header}.{payload.decode()}.",
            "garbage": "not.a.token",
        }

    def claims(self, sub: str) -> dict:
        now = int(time.time())
        return {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600}

    def mint(self, *, sub="auth0|chaos", key=None, **claims) -> str:
        payload = {**self.claims(sub), "scope": SCOPES, **claims}
        return jwt.encode(payload, key or self.key, algorithm="RS256", headers={"kid": KID})

    def proof(self, group: str) -> str:
        return create_dpop_proof(
            self.dpop_keys[group], method="GET", url=PRIVATE_URL, access_token=self.dpop[group]
        )


class Load:
    """The clients: readers (Bearer, DPoP, bad tokens), a creator and a replayer."""

    def __init__(self, run: Run, tokens: Tokens, instances: dict[str, Instance]):
        self.run, self.tokens, self.instances = run, tokens, instances
        self.stop_at = SECONDS
        # Accepted DPoP proofs per replay store: (when, proof).
        self.accepted = {"AB": deque(maxlen=400), "C": deque(maxlen=400)}
        self.last_dpop_ok = {"AB": -1.0, "C": -1.0}
        self.created: dict[str, str] = {}  # Idempotency-Key -> email, once answered 201
        self.replay_threads: list[threading.Thread] = []

    def running(self) -> bool:
        return self.run.now() < self.stop_at

    # -- What a valid request may be answered, given the faults of the moment --

    def explained(self, status: int, text: str, *, store: str | None) -> bool:
        run = self.run
        if status == 503 and text == DATABASE_DOWN:
            return run.within("postgres_restart", 1, 20)
        if status == 503 and text == REPLAY_CACHE_DOWN:
            reset = "redis_restart" if store == "AB" else "postgres_restart"
            return run.within(reset, 1, 20)
        if status == 401 and text.startswith(RESET_PREFIX):
            reset = "redis_restart" if store == "AB" else "table_restore"
            return run.within(reset, 0, DPOP_LEEWAY + 10)
        return False

    def valid_read(self, kind: str, instance: str, path: str, headers, *, store=None) -> int:
        status, _, body = send(self.instances[instance].port, "GET", path, headers)
        text = detail(body)
        problem = None
        if status == 200:
            if store is not None:
                self.last_dpop_ok[store] = self.run.now()
        elif status != 0 and not self.explained(status, text, store=store):
            problem = ("unexplained", f"valid {kind} to {instance}: {status} {text!r}")
        outage = at("idp_up") - at("reload")
        if instance == "A" and kind in ("bearer", "list") and self.run.within("reload", 0, outage):
            self.run.count("reload window requests")
            if status != 200:
                problem = ("reload", f"valid {kind} to A in the reload: {status} {text!r}")
        self.run.record(f"{kind} {instance}", status, problem)
        return status

    def reader(self, seed: int) -> None:
        choose = random.Random(seed)  # noqa: S311 - a traffic mix, not security
        while self.running():
            kind = choose.choices(["bearer", "list", "dpop", "dpop-C", "bad", "none"],
                                  [4, 2, 3, 1, 2, 1])[0]  # fmt: skip
            instance = choose.choice("AB")
            if kind == "bearer":
                token = choose.choice(self.tokens.bearer)
                self.valid_read("bearer", instance, "/api/private/", auth(token))
            elif kind == "list":
                token = choose.choice(self.tokens.bearer)
                self.valid_read("list", instance, "/api/customers/?page_size=5", auth(token))
            elif kind in ("dpop", "dpop-C"):
                group, instance = ("AB", instance) if kind == "dpop" else ("C", "C")
                proof = self.tokens.proof(group)
                headers = {"Authorization": f"DPoP {self.tokens.dpop[group]}", "DPoP": proof}
                if self.valid_read("dpop", instance, "/api/private/", headers, store=group) == 200:
                    self.accepted[group].append((self.run.now(), proof))
            elif kind == "bad":
                name = choose.choice(sorted(self.tokens.bad))
                status, _, _ = send(self.instances[instance].port, "GET", "/api/private/",
                                    auth(self.tokens.bad[name]))  # fmt: skip
                problem = None
                if 200 <= status < 300:
                    problem = ("bad accepted", f"bad token accepted: {name}")
                elif status not in (0, 400, 401):
                    problem = ("unexplained", f"bad token ({name}) answered {status}")
                self.run.record("bad token", status, problem)
            else:
                status, _, _ = send(self.instances[instance].port, "GET", "/api/private/")
                problem = None if status in (0, 401) else ("unexplained", f"no token: {status}")
                self.run.record("no token", status, problem)

    def creator(self) -> None:
        n = 0
        while self.running():
            n += 1
            key = f"chaos-create-{n}-{uuid.uuid4().hex[:8]}"
            email = f"chaos-{n}@example.test"
            body = json.dumps({"name": f"Chaos customer {n}", "email": email}).encode()
            self.create(key, email, body, twice=(n % 4 == 0))
            time.sleep(0.05)

    def create(self, key: str, email: str, body: bytes, *, twice: bool) -> None:
        headers = {**auth(self.tokens.creator), "Content-Type": "application/json",
                   "Idempotency-Key": key}  # fmt: skip
        for attempt in range(12):
            instance = random.choice("AB")  # noqa: S311 - a load balancer's choice
            status, answer_headers, answer = send(
                self.instances[instance].port, "POST", "/api/customers/", headers, body
            )
            replayed = answer_headers is not None and answer_headers.get("Idempotent-Replayed")
            problem = None
            if status == 201:
                self.created[key] = email
                self.run.count("creates answered 201")
                if attempt:
                    self.run.count("creates retried")
                if replayed:
                    self.run.count("creates replayed")
                if twice:  # the client lost the answer and sends the same request again
                    twice = False
                    continue
                self.run.record("create", status)
                return
            if status in (0, 409, 503):
                if status == 503 and not self.explained(status, detail(answer), store=None):
                    problem = ("unexplained", f"create: 503 {detail(answer)!r}")
                self.run.record("create", status, problem)
                time.sleep(0.5)
                continue
            self.run.record("create", status, ("create", f"create: {status} {answer[:200]!r}"))
            return
        self.run.record("create", -1, ("create", f"create gave up after 12 tries: {key}"))

    def replayer(self) -> None:
        """Every second, an accepted proof sent again, to the other instance of its store."""
        while self.running():
            time.sleep(1)
            for group in ("AB", "C"):
                old = [proof for when, proof in self.accepted[group] if when < self.run.now() - 0.5]
                if old:
                    self.replay(group, random.choice(old), "replay")  # noqa: S311

    def replay_all_accepted(self, group: str) -> threading.Thread:
        """After a store's reset: every proof it accepted in the last DPOP_LIFETIME seconds (all
        it forgot), once the store answers again; in a thread of its own."""
        proofs = [proof for when, proof in self.accepted[group]]

        def run():
            for proof in proofs:
                self.replay(group, proof, "replay after a reset", retry=True)

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def replay(self, group: str, proof: str, kind: str, *, retry=False) -> None:
        instance = random.choice("AB") if group == "AB" else "C"  # noqa: S311
        headers = {"Authorization": f"DPoP {self.tokens.dpop[group]}", "DPoP": proof}
        for _ in range(40 if retry else 1):
            status, _, body = send(self.instances[instance].port, "GET", "/api/private/", headers)
            if status not in (0, 503):
                break
            time.sleep(0.25)
        text = detail(body)
        problem = None
        if 200 <= status < 300:
            problem = ("replay accepted", f"{kind} accepted by {instance}")
        elif status == 401 and (text == REPLAYED or text.startswith(RESET_PREFIX)):
            self.run.count(f"{kind} refused")
        elif status not in (0, 503):
            problem = ("unexplained", f"{kind} answered {status} {text!r}")
        self.run.record(kind, status, problem)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def faults(run: Run, load: Load, idp, redis_server, postgres, instances) -> None:
    """The faults, one at a time, at their times."""
    for name in sorted(SCHEDULE, key=SCHEDULE.get):
        delay = at(name) - run.now()
        if delay > 0:
            time.sleep(delay)
        run.event(name)
        if name == "idp_down":
            idp.down = True
        elif name == "reload":
            instances["A"].process.send_signal(signal.SIGHUP)
        elif name == "idp_up":
            idp.down = False
        elif name == "redis_restart":
            redis_server.restart()
            load.replay_threads.append(load.replay_all_accepted("AB"))
        elif name == "table_restore":
            import psycopg

            with psycopg.connect(postgres.url("chaos_dbstore"), autocommit=True) as connection:
                connection.execute("TRUNCATE auth0_jwt_useddpopproof")  # a restore, empty
            load.replay_threads.append(load.replay_all_accepted("C"))
        elif name == "postgres_restart":
            postgres.restart()
        elif name == "worker_kill":
            workers = instances["B"].workers()
            if workers:
                os.kill(workers[0], signal.SIGKILL)
            run.count("workers killed", len(workers[:1]))


def main() -> int:
    workdir = Path(tempfile.mkdtemp(prefix="chaos-"))
    tokens = Tokens()
    idp = IdentityProvider(tokens.jwk)
    postgres = PostgreSQL(port=free_port(), prefix="chaos-postgres-", fsync=False)
    redis_server = Redis(workdir)
    instances: dict[str, Instance] = {}
    run = None
    try:
        postgres.start("chaos", "chaos_dbstore")
        redis_server.start()
        static_root = workdir / "static"
        common = dict(
            DJANGO_DEBUG="0",
            DJANGO_SECRET_KEY=secrets.token_urlsafe(50),
            DJANGO_ALLOWED_HOSTS=PUBLIC_HOST,
            DJANGO_SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto",
            DJANGO_STATIC_ROOT=str(static_root),
            AUTH0_ISSUER=ISSUER,
            AUTH0_API_IDENTIFIER=AUDIENCE,
            AUTH0_JWKS_URL=idp.url,
            AUTH0_JWKS_TIMEOUT="1",
            AUTH0_DPOP_IAT_LEEWAY=str(DPOP_LEEWAY),
            LOG_FORMAT="json",
            GUNICORN_ACCESS_LOG="0",
        )
        shared = environment(
            **common, DATABASE_URL=postgres.url("chaos"), REDIS_URL=redis_server.url,
            WEB_CONCURRENCY="2",
        )  # fmt: skip
        separate = environment(
            **common, DATABASE_URL=postgres.url("chaos_dbstore"), WEB_CONCURRENCY="1"
        )
        for env, commands in ((shared, ("migrate", "collectstatic")), (separate, ("migrate",))):
            for command in commands:
                done = subprocess.run(  # noqa: S603 - our own interpreter and manage.py
                    [sys.executable, "manage.py", command, "--noinput", "--verbosity", "0"],
                    cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=300,
                    check=False,
                )  # fmt: skip
                if done.returncode != 0:
                    print(done.stderr, file=sys.stderr)
                    return 1
        instances = {
            "A": Instance("A", shared, workdir),
            "B": Instance("B", shared, workdir),
            "C": Instance("C", separate, workdir),
        }
        for instance in instances.values():
            instance.start()
        for instance in instances.values():
            instance.wait_ready()
        # Every worker holds the keys and every token's user exists before the clock starts.
        for instance in instances.values():
            for _ in range(8):
                for token in (*tokens.bearer, tokens.creator):
                    send(instance.port, "GET", "/api/private/", auth(token))
        fetches_before = idp.fetches

        run = Run()
        load = Load(run, tokens, instances)
        threads = [threading.Thread(target=load.reader, args=(n,)) for n in range(READERS)]
        threads += [threading.Thread(target=load.creator), threading.Thread(target=load.replayer)]
        for thread in threads:
            thread.start()
        faults(run, load, idp, redis_server, postgres, instances)
        for thread in threads + load.replay_threads:
            thread.join(timeout=SECONDS + 120)
        elapsed = run.now()
        fetches = idp.fetches - fetches_before

        import psycopg

        with psycopg.connect(postgres.url("chaos")) as connection:
            stored = connection.execute(
                "SELECT c.email FROM customers_customer c JOIN auth_user u ON u.id = c.owner_id "
                "WHERE u.username = %s",
                ["auth0.chaos-creator"],
            ).fetchall()
        saved_starts = instances["A"].log_text().count("Serving the JWKS saved ")
    finally:
        for instance in instances.values():
            instance.stop()
        redis_server.stop()
        postgres.stop()
        idp.close()

    emails = [email for (email,) in stored]
    duplicates = len(emails) - len(set(emails))
    answered = set(load.created.values())
    # A create whose every answer was lost may be stored without a 201 reaching the client, but
    # no email may be stored twice, nor a 201 be missing from the database.
    missing = answered - set(emails)
    recovered = {
        group: load.last_dpop_ok[group] > run.events[event] + DPOP_LEEWAY
        for group, event in (("AB", "redis_restart"), ("C", "table_restore"))
    }
    need_recovery = elapsed > max(run.events.values()) + DPOP_LEEWAY + 5
    broken = run.broken
    checks = {
        "500s (or any 5xx but 503)": broken["5xx"],
        "bad tokens accepted": broken["bad accepted"],
        "replays accepted (any time, or after a store's reset)": broken["replay accepted"],
        "non-200 to valid tokens in the reload during the IdP outage": broken["reload"],
        "answers to valid requests no fault explains": broken["unexplained"],
        "customers stored twice": duplicates,
        "201s not in the database": len(missing),
        "creates refused or given up": broken["create"],
        "requests without an answer, beyond the killed worker's one": max(
            0, broken["no answer"] - 1
        ),
        "stores whose DPoP was not accepted again after the leeway": sum(
            1 for ok in recovered.values() if need_recovery and not ok
        ),
        "reloaded workers of A not started from the saved key set": max(0, 2 - saved_starts),
    }
    counts = run.counts
    print(f"chaos: {elapsed:.0f} s of load; instances A and B (2 workers each, Redis), C (1, DB)")
    print("faults: " + ", ".join(f"{name} at {when:.1f} s" for name, when in run.events.items()))
    for name, value in checks.items():
        print(f"  {name + ':':64} {value} (must be 0)")
    rows = {
        "requests": f"{counts['requests']} ({counts['requests'] / elapsed:.0f}/s)",
        "valid requests to A in the reload during the outage": counts["reload window requests"],
        "replays refused (any time / after a reset)": (
            f"{counts['replay refused']} / {counts['replay after a reset refused']}"
        ),
        "creates answered 201 / retried / replayed by Idempotency-Key": (
            f"{len(answered)} / {counts['creates retried']} / {counts['creates replayed']}"
        ),
        "requests without an answer": broken["no answer"],
        "JWKS fetches during the load": fetches,
    }
    for name, value in rows.items():
        print(f"  {name + ':':64} {value}")
    print("answers: " + ", ".join(f"{k}: {n}" for k, n in sorted(run.answers.items())))
    for example in run.examples:
        print("  " + example)
    failed = any(checks.values()) or counts["requests"] == 0
    summary = (
        f"{counts['requests']} requests in {elapsed:.0f} s; {broken['5xx']} 500s; "
        f"{broken['bad accepted']} bad tokens accepted; {broken['replay accepted']} replays "
        f"accepted ({counts['replay after a reset refused']} refused after the two resets); "
        f"{counts['reload window requests']} valid requests through the reload during the IdP "
        f"outage, {broken['reload']} not 200; {len(answered)} creates "
        f"({counts['creates replayed']} replayed), {duplicates} stored twice"
    )
    if failed:
        print(f"chaos: FAILED: {summary} (logs kept in {workdir})")
        return 1
    shutil.rmtree(workdir, ignore_errors=True)
    print(f"chaos: passed: {summary}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except PostgreSQLError as exc:  # not installed, or initdb/pg_ctl failed: say so in one line
        sys.exit(f"chaos: {exc}")
