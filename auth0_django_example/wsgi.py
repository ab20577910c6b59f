"""WSGI entry point for runserver and gunicorn."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auth0_django_example.settings")

application = get_wsgi_application()

from auth0_django_example.startup import start_loading_signing_keys  # noqa: E402

start_loading_signing_keys()
