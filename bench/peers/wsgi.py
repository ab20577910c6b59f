"""WSGI entry point of the bench's reference projects."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.peers.settings")

application = get_wsgi_application()
