"""Health endpoints for load balancers and orchestrators; neither needs a token.

- `GET /healthz`, liveness: the process is up and answering. No I/O.
- `GET /readyz`, readiness: the database answers and the signing keys are loaded. Only observes the
  key store (the background loader started by wsgi.py/asgi.py does the fetching), so a probe never
  waits on the identity provider.

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
    """Readiness: 200 when the database answers and the signing keys are loaded, else 503."""
    checks = {"database": database_status(), "signing_keys": signing_keys_status()}
    missing = [name for name, state in checks.items() if state != "ok"]
    if missing:
        body = {"status": "unavailable", "missing": missing, "checks": checks}
        return JsonResponse(body, status=503, headers={**NO_STORE, "Retry-After": "5"})
    return JsonResponse({"status": "ok", "checks": checks}, headers=NO_STORE)


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
