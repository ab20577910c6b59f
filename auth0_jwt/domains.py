"""Tenant domains and the issuers they stand for: `tenant.us.auth0.com` is the issuer
`https://tenant.us.auth0.com/`, whose keys are at `/.well-known/jwks.json` and whose OpenID
configuration is at `/.well-known/openid-configuration`. Imports nothing but the standard library
(the settings module uses it).
"""

from typing import Any
from urllib.parse import urlsplit

# More issuers than this is a mistake (a tenant has a handful of custom domains): the rest of a
# resolver's list is ignored, so that metric series and key stores stay bounded.
MAX_ISSUERS = 100
DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/.well-known/jwks.json"


def parse_domain(raw: Any) -> str:
    """A tenant domain as a bare host name, in lower case (`https://` and a trailing `/`
    tolerated; a port is allowed); ValueError when it is not one."""
    if not isinstance(raw, str):
        raise ValueError(raw)
    domain = raw.strip().removeprefix("https://").rstrip("/").lower()
    try:
        parts = urlsplit(f"https://{domain}/")
        valid = bool(parts.hostname) and parts.path == "/" and not (parts.query or parts.fragment)
        valid = valid and not parts.username and (parts.port is None or parts.port > 0)
    except ValueError:  # a port that is not a number, an unbalanced [
        valid = False
    if not valid or "://" in domain or domain.endswith("."):
        raise ValueError(raw)
    return domain


def issuer_for_domain(domain: str) -> str:
    """The `iss` of a domain's tokens, as Auth0 writes it."""
    return f"https://{domain}/"


def jwks_url_for_issuer(issuer: str) -> str:
    return issuer.rstrip("/") + JWKS_PATH


def discovery_url_for_issuer(issuer: str) -> str:
    return issuer.rstrip("/") + DISCOVERY_PATH
