"""WSGI entry point of the adapters' bench project (gunicorn, sync workers)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.adapters.settings")

application = get_wsgi_application()
