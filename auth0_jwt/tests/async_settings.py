"""Settings of the served async tests (async_server.py): the package's test settings with the plain
views' URLs (django_urls.py), a SQLite file and the JWKS URL from the environment."""

import os

from auth0_jwt.tests.settings import *  # noqa: F403

ROOT_URLCONF = "auth0_jwt.tests.django_urls"
DATABASES["default"]["NAME"] = os.environ["AUTH0_JWT_TEST_DATABASE"]  # noqa: F405
AUTH0 = {**AUTH0, "JWKS_URL": os.environ["AUTH0_JWT_TEST_JWKS_URL"]}  # noqa: F405
