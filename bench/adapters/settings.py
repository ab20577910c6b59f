"""The adapters' bench project: one `startproject` project (production: DEBUG off) that serves, for
each way of writing views the package supports, the same view with and without a token check, so
that `make bench` can give the authentication's cost per request, adapter by adapter: DRF, plain
Django views (sync under WSGI, async under ASGI) and Django Ninja.

Not part of the service; it uses the `auth0_jwt` package alone, configured as its README says.
"""

import os

# `startproject`'s settings with DRF, as the reference projects have them (bench/peers/settings.py).
from bench.peers.settings import *  # noqa: F403
from bench.peers.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "auth0_jwt"]
ROOT_URLCONF = "bench.adapters.urls"
WSGI_APPLICATION = "bench.adapters.wsgi.application"

# The package, as its README configures it (the bench's issuer and JWKS instead of a tenant's).
AUTH0 = {
    "ISSUER": os.environ["BENCH_PEER_ISSUER"],
    "JWKS_URL": os.environ["BENCH_PEER_JWKS_URL"],
    "AUDIENCE": os.environ["BENCH_PEER_AUDIENCE"],
}
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth0_jwt.authentication.JSONWebTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "auth0_jwt.exceptions.exception_handler",
}
