"""Typed, validated view of the `AUTH0` setting, built lazily and rebuilt when it changes."""

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

# Asymmetric algorithms only: HMAC ("HS*") with a public JWKS would let anyone forge tokens.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
MAX_JWKS_TIMEOUT = 5.0
DEFAULT_TOKEN_CACHE_SIZE = 10_000
MAX_TOKEN_CACHE_SIZE = 1_000_000
# DPoP (RFC 9449; dpop.py): off, allowed (Bearer or DPoP) or required (DPoP only).
DPOP_MODES = ("off", "allowed", "required")
DEFAULT_DPOP_ALGORITHMS = ("ES256",)
DEFAULT_DPOP_IAT_LEEWAY = 30  # Auth0's API SDK: iat at most 30 s ahead, at most 300 s old
DEFAULT_DPOP_MAX_AGE = 300
DEFAULT_DPOP_MAX_PROOF_LENGTH = 4096
REDIS_URL_SCHEMES = ("redis", "rediss", "unix")
# Django settings whose change (tests' override_settings) rebuilds what is built from them.
RELOADING_SETTINGS = ("AUTH0", "DEBUG")


@dataclass(frozen=True)
class Auth0Settings:
    """What the key store, the verifier and the local issuer need to know."""

    issuer: str
    audience: str
    jwks_url: str
    algorithms: tuple[str, ...]
    leeway: int
    jwks_timeout: float
    jwks_cache_lifetime: float
    jwks_min_refetch_interval: float
    local_issuer: bool
    local_issuer_key_dir: Path
    token_cache_size: int = DEFAULT_TOKEN_CACHE_SIZE
    dpop_mode: str = "allowed"
    dpop_algorithms: tuple[str, ...] = DEFAULT_DPOP_ALGORITHMS
    dpop_iat_leeway: int = DEFAULT_DPOP_IAT_LEEWAY
    dpop_max_age: int = DEFAULT_DPOP_MAX_AGE
    dpop_max_proof_length: int = DEFAULT_DPOP_MAX_PROOF_LENGTH
    redis_url: str = ""  # the DPoP replay store: Redis when set, else the database


def _number(raw, name, *, minimum, maximum=math.inf, kind=float):
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}.") from None
    if not (minimum <= value <= maximum) or (isinstance(value, float) and math.isnan(value)):
        bound = f"between {minimum} and {maximum}" if maximum != math.inf else f">= {minimum}"
        raise ImproperlyConfigured(f"{name} must be {bound}, got {raw!r}.")
    return value


def _algorithms(raw, name="AUTH0_ALGORITHMS"):
    names = raw.replace(",", " ").split() if isinstance(raw, str) else list(raw)
    unsupported = sorted(set(names) - SUPPORTED_ALGORITHMS)
    if not names or unsupported:
        raise ImproperlyConfigured(
            f"{name} must list asymmetric JWS algorithms from "
            f"{', '.join(sorted(SUPPORTED_ALGORITHMS))}; got {raw!r}."
        )
    return tuple(dict.fromkeys(names))


def _url(raw, name):
    parts = urlsplit(raw or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {raw!r}.")
    return raw


def _choice(raw, name, choices):
    value = str(raw).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {raw!r}.")
    return value


def _redis_url(raw):
    raw = (raw or "").strip()
    if raw and urlsplit(raw).scheme not in REDIS_URL_SCHEMES:
        raise ImproperlyConfigured(
            "REDIS_URL must be a redis://, rediss:// or unix:// URL (it is not shown here)."
        )
    return raw


def load_auth0_settings(raw: dict) -> Auth0Settings:
    """Parse the raw `AUTH0` dict; raise ImproperlyConfigured with one clear sentence if wrong."""
    local = bool(raw.get("LOCAL_ISSUER", False))
    audience = (raw.get("AUDIENCE") or "").strip()
    if not audience:
        raise ImproperlyConfigured(
            "AUTH0_API_IDENTIFIER is not set: set it to your API's identifier (its audience) "
            "from the Auth0 dashboard."
        )
    return Auth0Settings(
        issuer=_url(raw.get("ISSUER"), "AUTH0_ISSUER"),
        audience=audience,
        jwks_url=_url(raw.get("JWKS_URL"), "AUTH0_JWKS_URL"),
        algorithms=_algorithms(raw.get("ALGORITHMS", "RS256")),
        leeway=_number(raw.get("LEEWAY", 60), "AUTH0_LEEWAY", minimum=0, maximum=600, kind=int),
        jwks_timeout=_number(
            raw.get("JWKS_TIMEOUT", 5), "AUTH0_JWKS_TIMEOUT", minimum=0.1, maximum=MAX_JWKS_TIMEOUT
        ),
        jwks_cache_lifetime=_number(
            raw.get("JWKS_CACHE_LIFETIME", 600), "AUTH0_JWKS_CACHE_LIFETIME", minimum=1
        ),
        jwks_min_refetch_interval=_number(
            raw.get("JWKS_MIN_REFETCH_INTERVAL", 30), "AUTH0_JWKS_MIN_REFETCH_INTERVAL", minimum=0
        ),
        local_issuer=local,
        local_issuer_key_dir=Path(raw.get("LOCAL_ISSUER_KEY_DIR") or ".local-issuer"),
        token_cache_size=_number(
            raw.get("TOKEN_CACHE_SIZE", DEFAULT_TOKEN_CACHE_SIZE),
            "AUTH0_TOKEN_CACHE_SIZE",
            minimum=0,
            maximum=MAX_TOKEN_CACHE_SIZE,
            kind=int,
        ),
        dpop_mode=_choice(raw.get("DPOP", "allowed"), "AUTH0_DPOP", DPOP_MODES),
        dpop_algorithms=_algorithms(
            raw.get("DPOP_ALGORITHMS", DEFAULT_DPOP_ALGORITHMS), "AUTH0_DPOP_ALGORITHMS"
        ),
        dpop_iat_leeway=_number(
            raw.get("DPOP_IAT_LEEWAY", DEFAULT_DPOP_IAT_LEEWAY),
            "AUTH0_DPOP_IAT_LEEWAY",
            minimum=0,
            maximum=300,
            kind=int,
        ),
        dpop_max_age=_number(
            raw.get("DPOP_MAX_AGE", DEFAULT_DPOP_MAX_AGE),
            "AUTH0_DPOP_MAX_AGE",
            minimum=1,
            maximum=3600,
            kind=int,
        ),
        dpop_max_proof_length=_number(
            raw.get("DPOP_MAX_PROOF_LENGTH", DEFAULT_DPOP_MAX_PROOF_LENGTH),
            "AUTH0_DPOP_MAX_PROOF_LENGTH",
            minimum=512,
            maximum=16384,
            kind=int,
        ),
        redis_url=_redis_url(raw.get("REDIS_URL")),
    )


@functools.cache
def get_auth0_settings() -> Auth0Settings:
    """The validated `AUTH0` setting (cached; rebuilt when `AUTH0` or `DEBUG` changes).

    The process-wide verifier listens to the same signal itself (verifier.py), so this module
    imports neither the verifier nor the token cache.
    """
    return load_auth0_settings(getattr(settings, "AUTH0", {}))


@receiver(setting_changed)
def reset_on_setting_change(*, setting, **kwargs):
    if setting in RELOADING_SETTINGS:
        get_auth0_settings.cache_clear()
