"""Settings for the package's own test suite: a minimal project with `auth0_jwt` and nothing of the
example service (no `auth0_django_example`, no `customers`).

The test matrix (noxfile.py) runs auth0_jwt/tests with these settings on every supported Django:
`pytest --ds=auth0_jwt.tests.settings auth0_jwt/tests`. The `jwks_server` fixture (conftest.py)
points `AUTH0["JWKS_URL"]` at a real HTTP server on 127.0.0.1.
"""

import importlib.util
import os
import tempfile
from pathlib import Path

import django

SECRET_KEY = "test-only-secret-key-not-for-any-deployment"  # noqa: S105
DEBUG = False
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "auth0_jwt",
]
MIDDLEWARE = ["django.middleware.common.CommonMiddleware"]
ROOT_URLCONF = "auth0_jwt.tests.urls"
STATIC_URL = "static/"  # the live_server fixture serves static files
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": ":memory:",
        # A file, not shared-cache memory: concurrent-request tests need SQLite's real locking.
        "TEST": {
            "NAME": str(Path(tempfile.gettempdir()) / f"auth0-jwt-test-{os.getpid()}.sqlite3")
        },
        "OPTIONS": {"timeout": 20},
    }
}
# IMMEDIATE transactions make concurrent writers wait for the lock instead of failing with
# "database is locked" when a read transaction upgrades to a write: an option from Django 5.1 on,
# a tests-only backend subclass before it.
if django.VERSION >= (5, 1):
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
else:
    DATABASES["default"]["ENGINE"] = "auth0_jwt.tests.sqlite_immediate"

# The documented integration, plus the opt-in RFC 6750 exception handler.
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["auth0_jwt.authentication.JSONWebTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "auth0_jwt.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

# The opt-in OpenAPI extension, where the `openapi` extra (drf-spectacular) is installed.
if importlib.util.find_spec("drf_spectacular") is not None:
    INSTALLED_APPS.append("drf_spectacular")
    REST_FRAMEWORK["DEFAULT_SCHEMA_CLASS"] = "auth0_jwt.schema.AutoSchema"

AUTH0 = {
    "ISSUER": "https://tenant.example.test/",
    "AUDIENCE": "https://api.example.test/",
    "JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",  # replaced by the jwks_server fixture
    "JWKS_TIMEOUT": 5,  # generous: a loaded CI machine must not turn a healthy fetch into a failure
    "JWKS_PERSISTED_MAX_AGE": 0,  # each test's key store starts from nothing (test_keyset_store.py)
    "LOCAL_ISSUER_KEY_DIR": Path(tempfile.gettempdir()) / "auth0-jwt-tests-unused-key-dir",
}
