"""Fixtures of the attack and fault suite."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auth0_jwt.verifier import build_token_verifier, get_token_verifier, reset_token_verifier

# The shared assertions report like pytest's own (with the differing values).
pytest.register_assert_rewrite("auth0_jwt.tests.attacks.support")


@pytest.fixture
def configure(settings, clock):
    """Change the `AUTH0` setting for one test; the rebuilt key store keeps the fake clock."""

    def apply(**overrides):
        settings.AUTH0 = {**settings.AUTH0, **overrides}
        reset_token_verifier(build_token_verifier(clock=clock))
        return get_token_verifier()

    return apply


@pytest.fixture(scope="session")
def ec_key():
    """A P-256 key, for ES256 attacks."""
    return ec.generate_private_key(ec.SECP256R1())
