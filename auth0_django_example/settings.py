"""Settings for the auth0-django-example service.

Every value comes from the environment (a `.env` file beside `manage.py` is read if present);
`.env.example` lists each variable. Nothing here does network or file I/O beyond reading `.env`.
"""

import os
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as cors_default_headers

from auth0_django_example.logs import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
# Under gunicorn the master has read .env once, when it started (gunicorn.conf.py, which sets this
# marker): every worker, those a reload starts included, runs with the master's variables and no
# others (docs/deploying.md).
DOTENV_READ_BY_GUNICORN = "AUTH0_DJANGO_EXAMPLE_DOTENV_NAMES"
if (BASE_DIR / ".env").is_file() and DOTENV_READ_BY_GUNICORN not in os.environ:
    # (read_env logs a warning-like line for a missing file)
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)


def env_str(name: str, default: str = "") -> str:
    """The variable, or `default` when it is unset or empty (as in a copied .env.example)."""
    return env.str(name, default="").strip() or default


# Bad values found below; the `auth0_django_example` system check reports each as one line and
# refuses to start (a traceback at settings import would not say which variable is wrong).
ENVIRONMENT_ERRORS: list[str] = []
TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def env_flag(name: str, default: bool) -> bool:
    """A yes/no variable (1/0, true/false, yes/no, on/off); `default` when unset."""
    raw = env_str(name).lower()
    if raw in TRUE_WORDS or raw in FALSE_WORDS:
        return raw in TRUE_WORDS
    if raw:
        ENVIRONMENT_ERRORS.append(f"{name} must be one of 1/0, true/false, yes/no; got {raw!r}.")
    return default


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    """A whole number >= `minimum`; `default` when unset."""
    raw = env_str(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or value < minimum:
        ENVIRONMENT_ERRORS.append(f"{name} must be a whole number >= {minimum}, got {raw!r}.")
        return default
    return value


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated list, blanks dropped."""
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------------

DEBUG = env.bool("DJANGO_DEBUG", default=False)

# A development key is only acceptable with DEBUG on; with DEBUG off the `auth0_django_example`
# system check refuses to start without DJANGO_SECRET_KEY (see checks.py).
SECRET_KEY = env_str("DJANGO_SECRET_KEY")
if not SECRET_KEY and DEBUG:
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"  # noqa: S105

ALLOWED_HOSTS = [
    host.strip()
    for host in env_str("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]" if DEBUG else "").split(
        ","
    )
    if host.strip()
]

# --- HTTPS and browser security headers (see docs/deploying.md) ---------------------------------
# Secure by default with DEBUG off; `manage.py check --deploy` is clean in the documented production
# environment. Behind a proxy that terminates TLS, set DJANGO_SECURE_PROXY_SSL_HEADER to the header
# it sets (e.g. X-Forwarded-Proto), and only if the proxy always sets or overwrites it.

SECURE_SSL_REDIRECT = env_flag("DJANGO_SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("DJANGO_SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_flag("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_flag("DJANGO_SECURE_HSTS_PRELOAD", False)
_proxy_ssl_header = env_str("DJANGO_SECURE_PROXY_SSL_HEADER")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)
# The public host name from the proxy's X-Forwarded-Host instead of Host (absolute URLs such as
# Location, and the DPoP htu check), only if the proxy always sets or overwrites that header.
USE_X_FORWARDED_HOST = env_flag("DJANGO_USE_X_FORWARDED_HOST", False)
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_flag("DJANGO_SECURE_COOKIES", not DEBUG)
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "corsheaders",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "auth0_jwt",
    "customers",
    "auth0_django_example",
]

MIDDLEWARE = [
    "auth0_django_example.request_id.RequestIdMiddleware",
    # A view that meets a database outage answers 503, not 500 (database_errors.py).
    "auth0_django_example.database_errors.DatabaseUnavailableMiddleware",
    # /healthz and /readyz, answered before host validation and the HTTPS redirect (health.py).
    "auth0_django_example.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # Sessions, the session user and messages are skipped on API_PATH_PREFIXES (middleware.py).
    "auth0_django_example.middleware.BrowserSessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "auth0_django_example.middleware.BrowserAuthenticationMiddleware",
    "auth0_django_example.middleware.BrowserMessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# Paths served to bearer-token clients only: no session, session user or messages there.
API_PATH_PREFIXES = ("/api/",)

# --- Prometheus metrics (auth0_django_example/metrics.py, docs/metrics.md) ----------------------
# GET /metrics for the addresses or networks in METRICS_ALLOWED_IPS only (others get a 404); the
# client behind a proxy in FORWARDED_ALLOW_IPS (the same variable gunicorn reads) is the nearest
# X-Forwarded-For hop that is not such a proxy.


def env_networks(name: str, default: str) -> list[str]:
    """A comma-separated list of IP addresses or CIDR networks (`*` kept as is)."""
    import ipaddress

    entries = env_list(name, default)
    for entry in entries:
        try:
            if entry != "*":
                ipaddress.ip_network(entry, strict=False)
        except ValueError:
            ENVIRONMENT_ERRORS.append(
                f"{name} must list IP addresses or networks such as 10.0.0.0/8, got {entry!r}."
            )
    return entries


METRICS_ENABLED = env_flag("METRICS_ENABLED", True)
METRICS_ALLOWED_IPS = env_networks("METRICS_ALLOWED_IPS", "127.0.0.1,::1")
FORWARDED_ALLOW_IPS = env_networks("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
if METRICS_ENABLED:
    # First: it times the whole stack, and answers /metrics before host validation.
    MIDDLEWARE.insert(0, "auth0_django_example.metrics.MetricsMiddleware")

# The access log, written by the application (access_log.py): the same line under every server,
# so gunicorn's own stays off. ACCESS_LOG=0 where the proxy in front already writes one.
ACCESS_LOG = env_flag("ACCESS_LOG", True)
if ACCESS_LOG:
    # Outermost: it times everything, /metrics, health checks and refused hosts included.
    MIDDLEWARE.insert(0, "auth0_django_example.access_log.AccessLogMiddleware")

ROOT_URLCONF = "auth0_django_example.urls"
WSGI_APPLICATION = "auth0_django_example.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------------


def database_config(url: str, default: str) -> dict:
    """Django's DATABASES entry for a PostgreSQL or SQLite URL; a bad URL is reported (without its
    value, which may hold a password) and the default is used so that the report can be made."""
    try:
        config = environ.Env.db_url_config(url)
    except (ValueError, KeyError):
        config = {}
    if config.get("ENGINE") in ("django.db.backends.postgresql", "django.db.backends.sqlite3"):
        return config
    ENVIRONMENT_ERRORS.append(
        "DATABASE_URL must look like postgres://USER:PASSWORD@HOST:5432/NAME or "
        "sqlite:////absolute/path.sqlite3; the value set is not one (it is not shown here)."
    )
    return environ.Env.db_url_config(default)


_default_database_url = f"sqlite:///{BASE_DIR / 'db.sqlite3'}"
DATABASES = {
    "default": database_config(
        env_str("DATABASE_URL", _default_database_url), _default_database_url
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions make concurrent writers wait for the lock instead of failing with
    # "database is locked" when a read transaction tries to upgrade to a write.
    # WAL lets readers go on while one worker writes (the DPoP replay cache writes on every DPoP
    # request), and synchronous=NORMAL syncs at checkpoints instead of at every commit: a power
    # cut may lose the last commits, never corrupt the file. `make bench` measured DPoP over
    # SQLite at 0.15x Bearer's requests/s with a p99 of 828 ms before, see docs/performance.md.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        }
    )
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # A dead server fails a request (503) in seconds instead of hanging it.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)
# Persistent connections (one per worker thread), checked before reuse so that a database restart
# costs one reconnect, not failed requests.
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 0 if DEBUG else 60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalization and static files --------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles")))
# `collectstatic` writes hashed, compressed copies; WhiteNoise serves them with far-future caching.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- CORS (django-cors-headers): single-page apps on other origins calling the API ---------------
# Exact origins such as https://app.example.com; none by default. Preflight OPTIONS requests are
# answered without a token; `Authorization` is among the allowed request headers.

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_URLS_REGEX = r"^/api/.*$"
CORS_ALLOW_CREDENTIALS = False  # bearer tokens, not cookies
CORS_EXPOSE_HEADERS = ["WWW-Authenticate", "Retry-After", "X-Request-ID", "DPoP-Nonce"]
# Browser clients send their DPoP proof in the `DPoP` request header (docs/dpop.md),
# and may send an Idempotency-Key with POST /api/customers/ (docs/customers.md).
CORS_ALLOW_HEADERS = (*cors_default_headers, "dpop", "idempotency-key")

# --- Logs (auth0_django_example/logs.py) ---------------------------------------------------------
# One line per event on stderr: text in development, one JSON object per line otherwise. Never a
# token or an Authorization header.

LOG_FORMAT = env_str("LOG_FORMAT", "text" if DEBUG else "json").lower()
if LOG_FORMAT not in ("text", "json"):
    ENVIRONMENT_ERRORS.append(f"LOG_FORMAT must be json or text, got {LOG_FORMAT!r}.")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
    ENVIRONMENT_ERRORS.append(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {LOG_LEVEL!r}."
    )
    LOG_LEVEL = "INFO"
LOGGING = logging_config(LOG_FORMAT, LOG_LEVEL)

# --- Django REST framework ------------------------------------------------------------------------

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth0_jwt.authentication.JSONWebTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # auth0_jwt's handler (RFC 6750 challenges), with database outages as 503 (database_errors.py).
    "EXCEPTION_HANDLER": "auth0_django_example.database_errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DEFAULT_SCHEMA_CLASS": "auth0_jwt.schema.AutoSchema",
}

# --- OpenAPI schema (/api/schema/) and Swagger UI (/api/docs/) ------------------------------------

SPECTACULAR_SETTINGS = {
    "TITLE": "auth0-django-example API",
    "DESCRIPTION": (
        "A REST API protected by Auth0 access tokens (RS256 JWTs). Send "
        "`Authorization: Bearer <token>`; each operation lists the scopes it needs, taken from "
        "the token's `scope` claim or its RBAC `permissions`."
    ),
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": r"/api/",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema and the docs page need no token (and ignore one).
    "SERVE_AUTHENTICATION": [],
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from drf-spectacular-sidecar's static files: the page works with no internet.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Auth0 access tokens --------------------------------------------------------------------------

# Your tenant's domain, as the package takes it (AUTH0["DOMAIN"]: the issuer and the JWKS URL are
# derived from it); AUTH0_ISSUER (and AUTH0_JWKS_URL) instead for an issuer that is not a domain.
AUTH0_DOMAIN = env_str("AUTH0_DOMAIN")
AUTH0_ISSUER = env_str("AUTH0_ISSUER")
# A tenant with custom domains (Auth0 "Multiple Custom Domains"): every domain its tokens may come
# from, comma-separated, instead of AUTH0_DOMAIN; each is accepted as the issuer https://<domain>/.
AUTH0_DOMAINS = env_list("AUTH0_DOMAINS")
for _single in ("AUTH0_DOMAIN", "AUTH0_ISSUER", "AUTH0_JWKS_URL"):
    if AUTH0_DOMAINS and env_str(_single):
        ENVIRONMENT_ERRORS.append(
            f"AUTH0_DOMAINS and {_single} are both set: AUTH0_DOMAINS lists every domain of the "
            f"tenant (the first one included, each with its own keys); unset {_single}."
        )
if AUTH0_DOMAINS:  # (the conflict is reported once, above)
    AUTH0_DOMAIN = AUTH0_ISSUER = ""

# With neither AUTH0_DOMAIN(S) nor AUTH0_ISSUER the service is its own issuer, for development only
# (DEBUG on); the `auth0_jwt` system checks refuse this combination with DEBUG off.
AUTH0_LOCAL_ISSUER = not AUTH0_DOMAIN and not AUTH0_ISSUER and not AUTH0_DOMAINS
LOCAL_AUDIENCE = "https://auth0-django-example.local/api"
if AUTH0_LOCAL_ISSUER:
    AUTH0_ISSUER = env_str("LOCAL_ISSUER_URL", "http://127.0.0.1:8000/")
    # Domains the local issuer signs for instead (mint_token --issuer-domain picks one).
    AUTH0_DOMAINS = env_list("LOCAL_ISSUER_DOMAINS")


def organizations_setting(raw: str):
    """AUTH0_ORGANIZATIONS: unset (organizations not required), `required`, or a comma-separated
    list of organization ids (org_...) and names."""
    if raw.lower() == "required":
        return "required"
    return [item.strip() for item in raw.split(",") if item.strip()] or None


AUTH0 = {
    # The API's identifier in the Auth0 dashboard; the tutorial called it API_IDENTIFIER.
    "AUDIENCE": env_str("AUTH0_API_IDENTIFIER")
    or env_str("API_IDENTIFIER", LOCAL_AUDIENCE if AUTH0_LOCAL_ISSUER else ""),
    # Numbers stay strings here; auth0_jwt.conf parses them and the system checks report bad values.
    "ALGORITHMS": env_str("AUTH0_ALGORITHMS", "RS256"),
    "LEEWAY": env_str("AUTH0_LEEWAY", "60"),
    "JWKS_TIMEOUT": env_str("AUTH0_JWKS_TIMEOUT", "5"),
    "JWKS_CACHE_LIFETIME": env_str("AUTH0_JWKS_CACHE_LIFETIME", "600"),
    "JWKS_MIN_REFETCH_INTERVAL": env_str("AUTH0_JWKS_MIN_REFETCH_INTERVAL", "30"),
    # A worker that cannot fetch the JWKS at start uses the one saved in the database by another
    # process, if it was fetched at most this many seconds ago; 0 turns it off.
    "JWKS_PERSISTED_MAX_AGE": env_str("AUTH0_JWKS_PERSISTED_MAX_AGE", "3600"),
    # Verified tokens kept per process so a re-used token is not verified again; 0 turns it off.
    "TOKEN_CACHE_SIZE": env_str("AUTH0_TOKEN_CACHE_SIZE", "10000"),
    "LOCAL_ISSUER": AUTH0_LOCAL_ISSUER,
    "LOCAL_ISSUER_KEY_DIR": Path(env_str("LOCAL_ISSUER_KEY_DIR", str(BASE_DIR / ".local-issuer"))),
    # DPoP (RFC 9449, docs/dpop.md): off, allowed (Bearer or DPoP) or required (DPoP only).
    "DPOP": env_str("AUTH0_DPOP", "allowed"),
    "DPOP_ALGORITHMS": env_str("AUTH0_DPOP_ALGORITHMS", "ES256"),
    "DPOP_IAT_LEEWAY": env_str("AUTH0_DPOP_IAT_LEEWAY", "30"),
    "DPOP_MAX_AGE": env_str("AUTH0_DPOP_MAX_AGE", "300"),
    "DPOP_MAX_PROOF_LENGTH": env_str("AUTH0_DPOP_MAX_PROOF_LENGTH", "4096"),
    # Server nonces (RFC 9449 section 9): on makes every proof carry a nonce the API hands out.
    "DPOP_NONCE": env_str("AUTH0_DPOP_NONCE", "off"),
    # The DPoP replay cache every worker and instance shares: Redis when set, else the database.
    "REDIS_URL": env_str("REDIS_URL"),
    # Who request.user is: "database" (a Django user per subject, read on every request, so a
    # deactivated user is refused at once) or "token" (built from the token, no database read).
    "USER": env_str("AUTH0_USER", "database"),
    # Auth0 Organizations (docs/tenancy.md): None, "required", or ids and names.
    "ORGANIZATIONS": organizations_setting(env_str("AUTH0_ORGANIZATIONS")),
    # Each issuer's JWKS URL read from its /.well-known/openid-configuration (on/off).
    "DISCOVERY": env_str("AUTH0_DISCOVERY", "off"),
}
if AUTH0_DOMAINS:
    AUTH0["DOMAINS"] = AUTH0_DOMAINS
elif AUTH0_ISSUER:  # an explicit issuer (or the local one) wins over AUTH0_DOMAIN, as before
    AUTH0["ISSUER"] = AUTH0_ISSUER
else:
    AUTH0["DOMAIN"] = AUTH0_DOMAIN
if not AUTH0_DOMAINS and env_str("AUTH0_JWKS_URL"):
    AUTH0["JWKS_URL"] = env_str("AUTH0_JWKS_URL")
