"""ASGI entry point of the adapters' bench project (uvicorn), for the async views."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.adapters.settings")

application = get_asgi_application()
