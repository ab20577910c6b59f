"""The app's configuration: registers the system checks, and starts the signing-key load in server
processes.

When does a process serve? Not when `ready()` runs: `manage.py migrate`, `check` or `mint_token`
set Django up exactly as a server does, and a gunicorn master that preloads the app runs `ready()`
before forking its workers (a thread started there does not survive the fork, and a lock it holds
would stay held in every child). So the key load starts on the first request a real WSGI or ASGI
handler receives, in the process that will serve the next ones: runserver's reloaded child,
gunicorn, uwsgi, granian or daphne workers alike. It runs in a background thread and never blocks
that request or any other; a request that needs the keys before they arrive fetches them itself
(the key store lets one fetch run at a time). The test client's requests do not count.
"""

import logging
import threading
from typing import Any

from django.apps import AppConfig
from django.core.signals import request_started
from django.db.models.signals import post_migrate

logger = logging.getLogger(__name__)

_started = False
_start_lock = threading.Lock()
loader_thread: threading.Thread | None = None  # the background load of this process, once started


def start_loading_signing_keys() -> bool:
    """Start the background key load once per process; True if this call started it.

    Never raises: a misconfiguration is reported by the system checks, and a key store that cannot
    be built now is built (and its errors answered) on the first token request instead.
    """
    global _started, loader_thread
    with _start_lock:
        if _started:
            return False
        _started = True
    try:
        from auth0_jwt.runtime import get_token_verifier

        loader_thread = get_token_verifier().key_store.load_in_background()
    except Exception as exc:  # noqa: BLE001 - start-up work must never crash a server
        logger.warning("Signing keys will be loaded on the first token request instead: %s", exc)
        return False
    return True


def is_server_handler(handler_class: object) -> bool:
    """True for Django's WSGI and ASGI handlers (what servers call), False for the test client's."""
    from django.core.handlers.asgi import ASGIHandler
    from django.core.handlers.wsgi import WSGIHandler

    return isinstance(handler_class, type) and issubclass(handler_class, WSGIHandler | ASGIHandler)


def start_on_first_served_request(sender: object, **kwargs: Any) -> None:
    """`request_started` receiver: the first request a server handles starts the key load."""
    if not is_server_handler(sender):
        return
    request_started.disconnect(dispatch_uid=START_UID)
    start_loading_signing_keys()


START_UID = "auth0_jwt.start_loading_signing_keys"


class Auth0JWTConfig(AppConfig):
    name = "auth0_jwt"
    verbose_name = "Auth0 JWT authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from auth0_jwt import checks  # noqa: F401 - registers the system checks

        if not _started:
            request_started.connect(start_on_first_served_request, dispatch_uid=START_UID)
        post_migrate.connect(mark_flushed_replay_store_new, sender=self, dispatch_uid=FLUSH_UID)


def mark_flushed_replay_store_new(
    sender: AppConfig, *, using: str, plan: object = None, **kwargs: Any
) -> None:
    """`post_migrate` receiver: after `manage.py flush` (sent without a `plan`: Django treats a
    flushed database as migrated from scratch) the empty DPoP replay table is a new one, not one
    that lost its proofs (replay.py); `migrate` itself creates the marker in a migration."""
    from django.db import router

    from auth0_jwt.models import UsedDPoPProof
    from auth0_jwt.replay import establish_database_epoch

    if plan is None and router.allow_migrate_model(using, UsedDPoPProof):
        establish_database_epoch(using)


FLUSH_UID = "auth0_jwt.mark_flushed_replay_store_new"
