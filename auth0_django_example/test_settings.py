"""Settings for the test suite: the real settings with test-only secrets and a test issuer.

The `jwks_server` fixture (conftest.py) points `AUTH0["JWKS_URL"]` at a real HTTP server on
127.0.0.1; nothing here reaches a real Auth0 tenant.
"""

import os
import tempfile
from pathlib import Path

from auth0_django_example.settings import *  # noqa: F403

SECRET_KEY = "test-only-secret-key-not-for-any-deployment"  # noqa: S105
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The test client speaks plain HTTP and collectstatic has not run: no HTTPS redirect, and static
# files come straight from the apps (the gunicorn tests in auth0_django_example/tests cover both).
SECURE_SSL_REDIRECT = False
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
# A test database file, not Django's in-memory default: shared-cache memory databases lock whole
# tables and fail at once ("database table is locked") where a real SQLite file waits its turn,
# so the concurrent-request tests would test the test set-up instead of the service.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": str(
            Path(tempfile.gettempdir()) / f"auth0-django-example-test-{os.getpid()}.sqlite3"
        )
    }

AUTH0 = {
    "ISSUER": "https://tenant.example.test/",
    "AUDIENCE": "https://api.example.test/",
    "JWKS_URL": "http://127.0.0.1:9/.well-known/jwks.json",  # replaced by the jwks_server fixture
    "ALGORITHMS": "RS256",
    "LEEWAY": 60,
    "JWKS_TIMEOUT": 5,  # generous: a loaded CI machine must not turn a healthy fetch into a failure
    "JWKS_CACHE_LIFETIME": 600,
    "JWKS_MIN_REFETCH_INTERVAL": 30,
    # Each test's key store starts from nothing: no key set saved by an earlier test is loaded
    # (the keyset_store and keys-outlive-workers tests turn it on).
    "JWKS_PERSISTED_MAX_AGE": 0,
    "LOCAL_ISSUER": False,
    "LOCAL_ISSUER_KEY_DIR": BASE_DIR / ".local-issuer-test-unused",  # noqa: F405
}
