"""Start-up work for server processes (runserver, gunicorn): load signing keys in the background.

Never at settings import, never blocking, never fatal: with the identity provider down or slow the
server still starts and serves `/api/public/`; token-protected endpoints answer 503 until the keys
arrive, and the loader keeps retrying.
"""

import logging

logger = logging.getLogger(__name__)


def start_loading_signing_keys() -> None:
    try:
        from auth0_jwt.verifier import get_token_verifier

        get_token_verifier().key_store.load_in_background()
    except Exception:  # noqa: BLE001 - a misconfiguration is reported by the system checks
        logger.exception("Signing keys will be loaded on the first request instead")
