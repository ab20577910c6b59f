"""Testing the views a project protects with auth0_jwt: real tokens minted offline, verified by
the real verifier, with no Auth0 tenant, no network and no files.

- `Auth0TestIssuer`: an Auth0 tenant in memory; a context manager, a class or method decorator,
  or `enable()`/`disable()` (unittest and Django's `TestCase`).
- `DPoPKey`: a DPoP client's key, which binds tokens and signs proofs.
- The pytest plugin (`auth0_jwt.testing.plugin`, loaded by the `pytest11` entry point of the
  installed distribution): the `auth0_issuer`, `auth0_token`, `auth0_dpop_key` fixtures and the
  test clients that carry a token.
"""

from auth0_jwt.testing.dpop import DPoPKey
from auth0_jwt.testing.issuer import (
    DEFAULT_AUDIENCE,
    DEFAULT_EXPIRES_IN,
    DEFAULT_ISSUER,
    DEFAULT_SUBJECT,
    KID,
    Auth0TestIssuer,
)

__all__ = [
    "DEFAULT_AUDIENCE",
    "DEFAULT_EXPIRES_IN",
    "DEFAULT_ISSUER",
    "DEFAULT_SUBJECT",
    "KID",
    "Auth0TestIssuer",
    "DPoPKey",
]
