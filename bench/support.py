"""Pieces of `make bench`: a counting JWKS server on 127.0.0.1, token minting, timing, gunicorn
processes the bench always stops, and wrk runs on loopback."""

import base64
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

ROOT = Path(__file__).resolve().parent.parent
KID = "bench-key-1"
AUDIENCE = "https://api.bench.example/"
SUBJECT = "auth0|bench-user"


# --- Keys and tokens ------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def public_jwk(private_key) -> dict:
    numbers = private_key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": KID,
        "n": b64url_uint(numbers.n),
        "e": b64url_uint(numbers.e),
    }


def _sign_batch(pem: bytes, issuer: str, count: int, start: int, extra=None) -> list[str]:
    """`count` RS256 tokens shaped like Auth0's, differing in `jti` (a worker process's share),
    with the `extra` claims."""
    private_key = serialization.load_pem_private_key(pem, password=None)
    header = b64url(json.dumps({"alg": "RS256", "typ": "JWT", "kid": KID}).encode())
    now = int(time.time())
    tokens = []
    for n in range(start, start + count):
        claims = {
            "iss": issuer,
            "sub": SUBJECT,
            "aud": [AUDIENCE, issuer + "userinfo"],
            "iat": now,
            "exp": now + 3600,
            "azp": "bench-client-id",
            "scope": "openid profile read:messages",
            "jti": f"{n}-{uuid.uuid4().hex}",
            **(extra or {}),
        }
        signing_input = f"{header}.{b64url(json.dumps(claims).encode())}"
        signature = private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        tokens.append(f"{signing_input}.{b64url(signature)}")
    return tokens


def _pem(private_key) -> bytes:
    """The key as unencrypted PKCS8 PEM, to hand to a worker process."""
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _in_processes(batch, count: int, processes: int, *arguments) -> list:
    """`count` items made by `batch(*arguments, share, start)` in `processes` processes, each
    making its share (items start .. start + share - 1), in order."""
    share = -(-count // processes)
    with ProcessPoolExecutor(max_workers=processes) as pool:
        parts = pool.map(
            batch,
            *([argument] * processes for argument in arguments),
            [min(share, count - n * share) for n in range(processes)],
            [n * share for n in range(processes)],
        )
        return [item for part in parts for item in part]


def mint_tokens(private_key, issuer: str, count: int, processes: int = 2) -> list[str]:
    """`count` distinct valid tokens, signed in `processes` processes."""
    return _in_processes(_sign_batch, count, processes, _pem(private_key), issuer)


def mint_dpop_token(private_key, issuer: str, client_key) -> str:
    """One token bound (`cnf.jkt`) to the DPoP client's P-256 key."""
    from auth0_jwt.dpop import jwk_thumbprint
    from auth0_jwt.local_issuer import dpop_public_jwk

    binding = {"cnf": {"jkt": jwk_thumbprint(dpop_public_jwk(client_key))}}
    return _sign_batch(_pem(private_key), issuer, 1, 0, binding)[0]


def _proof_batch(pem: bytes, token: str, url: str, count: int, start: int) -> list[str]:
    """`count` proofs (`start` is unused: each proof has a random jti of its own)."""
    from auth0_jwt.local_issuer import create_dpop_proof

    client_key = serialization.load_pem_private_key(pem, password=None)
    return [
        create_dpop_proof(client_key, method="GET", url=url, access_token=token)
        for _ in range(count)
    ]


def sign_proofs(client_key, token: str, url: str, count: int, processes: int = 2) -> list[str]:
    """`count` DPoP proofs for GET `url` with `token`, each with its own jti, iat now."""
    return _in_processes(_proof_batch, count, processes, _pem(client_key), token, url)


def new_private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- The JWKS server ------------------------------------------------------------------------------


class JWKSServer:
    """Serves one JWKS on 127.0.0.1 at every path and counts the requests per path."""

    def __init__(self, jwks: dict):
        body = json.dumps(jwks).encode()
        self.hits: dict[str, int] = {}
        lock = threading.Lock()
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                with lock:
                    hits[self.path] = hits.get(self.path, 0) + 1
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


# --- Timing ---------------------------------------------------------------------------------------


def interleaved_costs(operations: dict, *, rounds: int) -> dict[str, float]:
    """Median CPU seconds per call of each operation; `operations` maps a name to (call, batch).

    Each round runs one batch of every operation in turn, so that a busy moment on a shared
    machine weighs on all of them alike; one warm-up round is not counted. The thread's CPU time
    is measured, not the wall clock, so time spent waiting for a core does not count.
    """
    samples: dict[str, list[float]] = {name: [] for name in operations}
    for round_number in range(rounds + 1):
        for name, (call, batch) in operations.items():
            began = time.thread_time_ns()
            for _ in range(batch):
                call()
            if round_number:
                samples[name].append((time.thread_time_ns() - began) / batch / 1e9)
    return {name: statistics.median(costs) for name, costs in samples.items()}


# --- Processes ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in KiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, rest = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            values[name] = int(rest.split()[0])
    return values


@dataclass
class Server:
    """A server (gunicorn or granian) started by the bench, in its own session; `stop()` always
    ends it and its workers."""

    process: subprocess.Popen
    port: int
    workers: int
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return children_of(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        try:  # anything left in the session the bench created (workers of a killed master)
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait(timeout=10)


def start_gunicorn(
    python: str,
    env: dict,
    *,
    workers: int,
    log_path: Path,
    threads: int | None = None,
    app: str = "auth0_django_example.wsgi:application",
    config: Path | None = ROOT / "gunicorn.conf.py",
    ready_path: str = "/api/public/",
    worker_class: str | None = None,
):
    """Start gunicorn on a free loopback port with `config` (the project's gunicorn.conf.py by
    default; None for gunicorn's own defaults), the bench's bind and workers, and `threads` (None:
    whatever the config and environment say; 1: sync workers; more: gthread) or `worker_class`
    (e.g. uvicorn's worker, with an ASGI `app`); return once `ready_path` answers."""
    port = free_port()
    command = [python, "-m", "gunicorn"]
    if config is not None:
        command += ["--config", str(config)]
    command += ["--bind", f"127.0.0.1:{port}", "--workers", str(workers)]
    if threads is not None:
        worker_class = "gthread" if threads > 1 else "sync"
        command += ["--threads", str(threads)]
    if worker_class is not None:
        command += ["--worker-class", worker_class]
    command.append(app)
    return _start_server(
        command, env, port=port, workers=workers, log_path=log_path, ready_path=ready_path
    )


def start_redis(log_path: Path) -> "Server":
    """Debian's redis-server on a free loopback port, without persistence: the DPoP replay cache
    of the REDIS_URL row (`make bench` installs the package when it is missing)."""
    import redis

    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed: `make bench` installs Debian's package")
    port = free_port()
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the process, closed below
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
         "--appendonly", "no", "--dir", str(log_path.parent)],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    log.close()
    server = Server(process=process, port=port, workers=0, log_path=log_path)
    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1, socket_connect_timeout=1)
    deadline = time.monotonic() + 20
    try:
        while True:
            try:
                if client.ping():
                    return server
            except redis.RedisError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError(f"redis-server did not start: {log_path}") from None
                time.sleep(0.05)
    except BaseException:
        server.stop()
        raise
    finally:
        client.close()


def start_granian(
    python: str,
    env: dict,
    *,
    workers: int,
    log_path: Path,
    app: str = "auth0_django_example.wsgi:application",
    ready_path: str = "/api/public/",
    interface: str = "wsgi",
):
    """Start granian (from the bench environment) on a free loopback port: its WSGI server, or
    its ASGI one (`interface="asgi"` with an ASGI `app`), its own access log off."""
    port = free_port()
    command = [python, "-m", "granian", "--interface", interface, "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers), "--no-ws", app]
    return _start_server(
        command, env, port=port, workers=workers, log_path=log_path, ready_path=ready_path
    )


def start_uvicorn(
    python: str,
    env: dict,
    *,
    workers: int,
    log_path: Path,
    app: str,
    ready_path: str,
):
    """Start uvicorn (ASGI) with `workers` processes on a free loopback port, its access log off
    (as the WSGI peers under gunicorn's defaults have none)."""
    port = free_port()
    command = [python, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--no-access-log", "--lifespan", "off", app]
    return _start_server(
        command, env, port=port, workers=workers, log_path=log_path, ready_path=ready_path
    )


def _start_server(command, env, *, port, workers, log_path, ready_path):
    log = log_path.open("ab")
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        command,
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log.close()
    server = Server(process=process, port=port, workers=workers, log_path=log_path)
    try:
        wait_for(server, ready_path, timeout=60)
        deadline = time.monotonic() + 30
        while len(server.worker_pids()) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start all its workers")
            time.sleep(0.1)
    except BaseException:
        server.stop()
        raise
    return server


def wait_for(server: Server, path: str, *, timeout: float, token: str | None = None) -> None:
    """Poll `path` until it answers 200 (bounded by `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    last = "no answer"
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            tail = server.log_path.read_text(errors="replace").splitlines()[-15:]
            raise RuntimeError("the server exited; its log ends:\n" + "\n".join(tail))
        try:
            request = urllib.request.Request(server.url + path, headers=headers)  # noqa: S310
            with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
                if response.status == 200:
                    return
        except urllib.error.HTTPError as exc:
            last = f"HTTP {exc.code}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    raise RuntimeError(f"{path} did not answer 200 within {timeout:g} s ({last})")


# --- wrk ------------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    requests_per_second: float
    p50: float  # seconds
    p99: float
    requests: int
    errors: int
    tokens_wrapped: bool
    cpu_seconds: float = 0.0  # CPU time the server's workers spent during the run


def combine(results: list[LoadResult]) -> LoadResult:
    """Several runs of one endpoint as one: median requests/s, p50 and p99; totals."""
    return LoadResult(
        requests_per_second=statistics.median(r.requests_per_second for r in results),
        p50=statistics.median(r.p50 for r in results),
        p99=statistics.median(r.p99 for r in results),
        requests=sum(r.requests for r in results),
        errors=sum(r.errors for r in results),
        tokens_wrapped=any(r.tokens_wrapped for r in results),
        cpu_seconds=sum(r.cpu_seconds for r in results),
    )


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time of the processes, in seconds."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _duration(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not match:
        raise ValueError(f"unexpected wrk duration {text!r}")
    return float(match[1]) * _UNITS[match[2]]


def parse_wrk(output: str) -> LoadResult:
    """Requests/s, p50, p99, request and error counts from `wrk --latency` output."""
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])
    p50 = _duration(re.search(r"^\s+50%\s+(\S+)", output, re.M)[1])
    p99 = _duration(re.search(r"^\s+99%\s+(\S+)", output, re.M)[1])
    requests = int(re.search(r"(\d+) requests in", output)[1])
    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        errors += int(match[1])
    if match := re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    ):
        errors += sum(int(n) for n in match.groups())
    return LoadResult(rps, p50, p99, requests, errors, "tokens wrapped" in output)


def run_wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    tokens_file: Path | None = None,
    mode: str = "repeat",
    script: str = "tokens.lua",
    extra_env: dict | None = None,
) -> LoadResult:
    """One wrk run against a loopback URL (bounded by `seconds`); `script` (in bench/) sends the
    lines of `tokens_file`."""
    if not url.startswith("http://127.0.0.1:"):
        raise ValueError("the bench only loads loopback addresses")
    env = {**os.environ, "BENCH_WRK_THREADS": "1", "BENCH_TOKENS_MODE": mode, **(extra_env or {})}
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    if tokens_file is not None:
        env["BENCH_TOKENS_FILE"] = str(tokens_file)
        command += ["-s", str(ROOT / "bench" / script)]
    completed = subprocess.run(  # noqa: S603 - a fixed command line
        [*command, url],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"wrk failed: {completed.stderr.strip() or completed.stdout.strip()}")
    return parse_wrk(completed.stdout)
