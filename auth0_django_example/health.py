"""Health endpoints for load balancers and orchestrators; neither needs a token.

- `GET /healthz`, liveness: the process is up and answering. No I/O.
- `GET /readyz`, readiness: the database answers and the signing keys are loaded. Only observes the
  key store (the background loader started by wsgi.py/asgi.py does the fetching), so a probe never
  waits on the identity provider. With DPoP on and Redis as its replay cache (`REDIS_URL`), Redis
  is pinged too and reported as `replay_cache`; it makes the instance unready only when
  `AUTH0_DPOP=required`, where no authenticated request can be served without it. With DPoP
  allowed, Bearer tokens and public endpoints do not need Redis, and every instance shares the one
  Redis: failing readiness would take them all out of the load balancer over an outage that costs
  only DPoP requests a 503, so the body says "degraded" and the status stays 200.

Both are answered by a middleware placed before host validation and the HTTPS redirect, so a load
balancer can probe each instance by its address over plain HTTP. The bodies name what is missing
and never carry configuration or error details; those go to the log.
"""

import logging

from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connection
from django.http import HttpResponseNotAllowed, JsonResponse

logger = logging.getLogger(__name__)

NO_STORE = {"Cache-Control": "no-store"}


def healthz(request):
    """Liveness: 200 while the process can answer at all."""
    return JsonResponse({"status": "ok"}, headers=NO_STORE)


def readyz(request):
    """Readiness: 200 when the database answers and the signing keys are loaded (and, with
    `AUTH0_DPOP=required`, Redis answers), else 503."""
    checks = {"database": database_status(), "signing_keys": signing_keys_status()}
    required = list(checks)
    replay_cache = replay_cache_status()
    if replay_cache is not None:
        state, needed = replay_cache
        checks["replay_cache"] = state
        if needed:
            required.append("replay_cache")
    missing = [name for name in required if checks[name] != "ok"]
    if missing:
        body = {"status": "unavailable", "missing": missing, "checks": checks}
        return JsonResponse(body, status=503, headers={**NO_STORE, "Retry-After": "5"})
    status = "ok" if all(state == "ok" for state in checks.values()) else "degraded"
    return JsonResponse({"status": status, "checks": checks}, headers=NO_STORE)


def database_status() -> str:
    """ "ok" when a trivial query on the default database succeeds, else "unavailable"."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.warning("Not ready: the database is unavailable (%s: %s)", type(exc).__name__, exc)
        return "unavailable"
    return "ok"


def signing_keys_status() -> str:
    """ "ok" when the key store holds a key set (possibly stale), else "not loaded"."""
    from auth0_jwt.runtime import get_token_verifier

    try:
        key_store = get_token_verifier().key_store
    except ImproperlyConfigured as exc:
        logger.warning("Not ready: the token verifier is misconfigured (%s)", exc)
        return "not configured"
    if key_store.key_set is None:
        logger.warning("Not ready: signing keys not loaded (%s)", key_store.last_error or "pending")
        return "not loaded"
    return "ok"


def replay_cache_status() -> tuple[str, bool] | None:
    """ "ok" or "unavailable" for Redis as the DPoP replay cache, with whether readiness needs it
    (DPoP required); None when DPoP is off, the settings are broken, or the cache is the database
    (checked above)."""
    from auth0_jwt.conf import get_auth0_settings
    from auth0_jwt.replay import get_replay_store

    try:
        config = get_auth0_settings()
    except ImproperlyConfigured:
        return None  # signing_keys_status reports it
    if config.dpop_mode == "off" or not config.redis_url:
        return None
    is_available = getattr(get_replay_store(), "is_available", None)
    if is_available is None:  # a store a test put in place
        return None
    if is_available():
        return "ok", config.dpop_mode == "required"
    logger.warning("Redis, the DPoP replay cache, does not answer")
    return "unavailable", config.dpop_mode == "required"


HEALTH_VIEWS = {"/healthz": healthz, "/readyz": readyz}


class HealthCheckMiddleware:
    """Answers the health paths before any other middleware can refuse or redirect the request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = HEALTH_VIEWS.get(request.path_info)
        if view is None:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        return view(request)
