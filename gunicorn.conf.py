"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py` (or `make serve`).

Every number comes from the environment with a default that suits a small container. gunicorn
does not run Django's system checks, so `on_starting` runs them and refuses to start, one line per
problem, before any worker is forked. Workers load the app themselves (no preload), so each one
starts its own background JWKS load (auth0_django_example/wsgi.py). It also prepares the folder in
which the workers' Prometheus metrics are added up.
"""

import atexit
import os
import sys
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BASE_DIR))

# .env is read once, by the master as it starts (variables already in the environment win): the
# names it supplied are kept in DOTENV_NAMES, which also tells the settings of every worker not to
# read .env themselves. A reload (SIGHUP) re-executes this file but changes no variable, so every
# worker, whenever it starts, runs with the same ones; `on_reload` names the .env changes that
# wait for a restart. USR2 starts a new master from the original environment: it reads .env anew.
DOTENV_FILE = BASE_DIR / ".env"
DOTENV_NAMES = "AUTH0_DJANGO_EXAMPLE_DOTENV_NAMES"  # (the settings know it by this name too)


def _read_dotenv() -> dict[str, str]:
    """The variables .env sets, parsed as the settings parse them; the environment is untouched."""
    if not DOTENV_FILE.is_file():
        return {}

    class Parsed(environ.Env):
        ENVIRON: dict[str, str] = {}  # read_env writes here, not into os.environ

    Parsed.read_env(DOTENV_FILE, overwrite=True)
    return Parsed.ENVIRON


if DOTENV_NAMES not in os.environ:
    _supplied = {name: value for name, value in _read_dotenv().items() if name not in os.environ}
    os.environ.update(_supplied)
    os.environ[DOTENV_NAMES] = ",".join(sorted(_supplied))


def _whole_number(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if not raw.isdecimal() or int(raw) < minimum:  # isdigit() would let "²" reach int()
        sys.exit(f"{name} must be a whole number >= {minimum}, got {raw!r}.")
    return int(raw)


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
        sys.exit(f"{name} must be one of 1/0, true/false, yes/no, on/off; got {raw!r}.")
    return raw in ("1", "true", "yes", "on")


chdir = str(BASE_DIR)
wsgi_app = "auth0_django_example.wsgi:application"
preload_app = False

# Behind a proxy: GUNICORN_BIND=0.0.0.0:8000 (or the proxy's side of a private network).
bind = os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"
workers = _whole_number("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1)
# Sync workers by default: one request at a time per process. `make bench` (docs/performance.md)
# measured them against gthread, uvicorn (alone and as gunicorn's worker) and granian (WSGI, ASGI):
# the ASGI servers cost this synchronous app 2 to 3 times the CPU per request; granian's WSGI server
# costs less, but has no bound on a hung request, no trusted-proxy setting and no hooks for the
# checks and the metrics, all of which the served tests show here. They need a buffering proxy in
# front (slow clients), as any production deployment has. GUNICORN_THREADS > 1 selects the gthread
# worker instead (a request waiting on the database does not hold up the others in its process).
threads = _whole_number("GUNICORN_THREADS", 1)
timeout = _whole_number("GUNICORN_TIMEOUT", 30)
graceful_timeout = _whole_number("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = 5  # gthread only: sync workers close each connection after its response
# The proxies whose X-Forwarded-Proto/-For gunicorn believes (it reads this before the .env).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "").strip() or "127.0.0.1,::1"

# Access tokens may be up to 16 KiB (the verifier's own limit answers beyond that, not a bare 400).
limit_request_field_size = 24 * 1024

# Several instances may share a host; the runtime control socket is not used.
control_socket_disable = True
# Worker heartbeats in memory, as gunicorn recommends for containers.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None  # noqa: S108

# Logs: everything on stderr, through the same text/JSON formatters as Django (LOG_FORMAT).
logger_class = "auth0_django_example.gunicorn_logging.AccessLogger"
# The application writes the access log (ACCESS_LOG, access_log.py), the same under every server;
# GUNICORN_ACCESS_LOG=1 adds gunicorn's own (off by default: it would write each line twice).
accesslog = "-" if _flag("GUNICORN_ACCESS_LOG", False) else None
errorlog = "-"
# The path without its query string (which could carry a token); whatever this format says, the
# logger class also blanks credential headers and redacts tokens.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s"'


def _logconfig_dict() -> dict:
    """The settings' choice of LOG_FORMAT and LOG_LEVEL (bad values are reported at start)."""
    import logging

    from auth0_django_example.logs import logging_config

    debug = os.environ.get("DJANGO_DEBUG", "").strip().lower() in environ.Env.BOOLEAN_TRUE_STRINGS
    log_format = os.environ.get("LOG_FORMAT", "").strip().lower() or ("text" if debug else "json")
    level = os.environ.get("LOG_LEVEL", "").strip().upper() or "INFO"
    if not isinstance(logging.getLevelName(level), int):
        level = "INFO"
    return logging_config(log_format, level)


logconfig_dict = _logconfig_dict()


# Prometheus metrics (auth0_django_example/metrics.py), in prometheus_client's multiprocess mode:
# each worker writes its values to files in PROMETHEUS_MULTIPROC_DIR and /metrics adds them up.
# prometheus_client reads the variable when first imported, so the master sets it in on_starting,
# before the system checks set Django up: to the folder given (emptied: one per instance), or to a
# new private one, removed at exit. METRICS_ENABLED=0 leaves prometheus_client in-process.
metrics_enabled = _flag("METRICS_ENABLED", True)


def _remove_metrics_directory(directory: str, master_pid: int) -> None:
    """At the master's exit, however it exits (a refusal included); never at a worker's."""
    if os.getpid() == master_pid:
        import shutil

        shutil.rmtree(directory, ignore_errors=True)


PRIVATE_METRICS_DIRECTORY = "AUTH0_DJANGO_EXAMPLE_PRIVATE_METRICS_DIR"


def _prepare_metrics_directory(server) -> None:
    if not metrics_enabled:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        return
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    try:
        if directory:
            os.makedirs(directory, exist_ok=True)
            for stale in Path(directory).glob("*.db"):  # the counts of a previous run
                stale.unlink()
        else:
            import tempfile

            directory = tempfile.mkdtemp(prefix="auth0-django-example-metrics-", dir=worker_tmp_dir)
            atexit.register(_remove_metrics_directory, directory, os.getpid())
            os.environ[PRIVATE_METRICS_DIRECTORY] = directory  # not for a USR2 successor (pre_exec)
    except OSError as exc:
        sys.exit(f"PROMETHEUS_MULTIPROC_DIR {directory!r} cannot be used: {exc.strerror}.")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    server.log.info("Prometheus multiprocess directory: %s", directory)


def _forget_process(pid: int) -> None:
    """Drop the live gauges (auth0_jwt_signing_keys) of a process that no longer serves."""
    if metrics_enabled:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def on_starting(server):
    """Refuse to start, one line per problem, when Django's system checks report errors."""
    _prepare_metrics_directory(server)
    from auth0_django_example.checks import startup_errors

    errors = startup_errors()
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        sys.exit(f"Refusing to start: {len(errors)} configuration error(s) above.")
    _forget_process(os.getpid())  # the checks imported the instruments here: the master serves none


def on_reload(server):
    """A reload brings new code, not new variables: name each .env change it leaves unapplied
    (names only: values may be secrets)."""
    supplied = set(filter(None, os.environ.get(DOTENV_NAMES, "").split(",")))
    dotenv = _read_dotenv()
    unapplied = sorted(
        {
            name
            for name, value in dotenv.items()
            if (name in supplied or name not in os.environ) and os.environ.get(name) != value
        }
        | (supplied - set(dotenv))
    )
    if unapplied:
        server.log.warning(
            "Reloaded without these .env changes: %s. Variables are read once, when gunicorn "
            "starts: restart it, or send USR2 and then TERM to the old master, to apply them.",
            ", ".join(unapplied),
        )


def pre_exec(server):
    """USR2: the new master starts from the environment this one was started with (after a
    reload gunicorn would hand it this master's own), so it reads .env anew and makes its own
    metrics folder; this one removes its folder when it exits."""
    environment = server.cfg.env_orig
    for name in filter(None, os.environ.get(DOTENV_NAMES, "").split(",")):
        environment.pop(name, None)
    environment.pop(DOTENV_NAMES, None)
    private = environment.pop(PRIVATE_METRICS_DIRECTORY, None)
    if private is not None and environment.get("PROMETHEUS_MULTIPROC_DIR") == private:
        del environment["PROMETHEUS_MULTIPROC_DIR"]


def child_exit(server, worker):
    """A worker that exited (or was killed) no longer counts in the live gauges."""
    _forget_process(worker.pid)
