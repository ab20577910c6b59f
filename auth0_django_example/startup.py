"""Start-up work for server processes (runserver, gunicorn): load signing keys in the background.

wsgi.py and asgi.py call this as soon as the application is built, so a worker starts fetching
before its first request. Projects that use the `auth0_jwt` package without these files get the
same load from the package itself, started by the first request a server handles (see
auth0_jwt/apps.py). Either way it happens once per process, never at settings import, never
blocking and never fatal: with the identity provider down or slow the server still starts and
serves `/api/public/`; token-protected endpoints answer 503 until the keys arrive, and the loader
keeps retrying.
"""

from auth0_jwt.apps import start_loading_signing_keys

__all__ = ["start_loading_signing_keys"]
