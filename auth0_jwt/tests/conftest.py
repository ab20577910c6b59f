"""Fixtures for the local development issuer's tests."""

import pytest

LOCAL_ISSUER = "http://127.0.0.1:8000/"
LOCAL_AUDIENCE = "https://auth0-django-example.local/api"


@pytest.fixture
def key_dir(tmp_path):
    """Where the local issuer keeps its key in this test."""
    return tmp_path / "local-issuer"


@pytest.fixture
def local_mode(settings, key_dir):
    """The service configured as `make run` with no .env has it: its own issuer, DEBUG on."""
    settings.DEBUG = True
    settings.AUTH0 = {
        **settings.AUTH0,
        "ISSUER": LOCAL_ISSUER,
        "AUDIENCE": LOCAL_AUDIENCE,
        "JWKS_URL": f"{LOCAL_ISSUER}.well-known/jwks.json",
        "LOCAL_ISSUER": True,
        "LOCAL_ISSUER_KEY_DIR": key_dir,
    }
    return settings
