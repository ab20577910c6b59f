"""Typed, validated view of the `AUTH0` setting, built lazily and rebuilt when it changes.

Only `DOMAIN` (or `ISSUER`) and `AUDIENCE` are required: `ISSUER` defaults to `https://DOMAIN/`
and `JWKS_URL` to `ISSUER` + `.well-known/jwks.json`, each overridable; every other key has a
default. A tenant with several custom domains lists them in `DOMAINS` instead (each accepted as
the issuer `https://{domain}/`), or names a resolver that returns them (`DOMAINS_RESOLVER`).
A bad or missing value is an `ImproperlyConfigured` naming the key as it is written in settings
(`AUTH0["LEEWAY"]`), one sentence per problem; the system checks report each one.
"""

import functools
import math
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, ParamSpec, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

# Asymmetric algorithms only: HMAC ("HS*") with a public JWKS would let anyone forge tokens.
SUPPORTED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)
MAX_JWKS_TIMEOUT = 5.0
DEFAULT_TOKEN_CACHE_SIZE = 10_000
MAX_TOKEN_CACHE_SIZE = 1_000_000
# The saved key set (keyset_store.py) a worker may start from while the JWKS cannot be fetched:
# at most this many seconds after it was fetched; 0 turns saving and loading off.
DEFAULT_JWKS_PERSISTED_MAX_AGE = 3600
MAX_JWKS_PERSISTED_MAX_AGE = 86400
# DPoP (RFC 9449; dpop.py): off, allowed (Bearer or DPoP) or required (DPoP only).
DPOP_MODES = ("off", "allowed", "required")
# Who `request.user` is: a Django user read (and created just in time) from the database, or a
# user built from the token alone (token_user.py), for services that keep no users.
USER_MODES = ("database", "token")
DEFAULT_DPOP_ALGORITHMS = ("ES256",)
DEFAULT_DPOP_IAT_LEEWAY = 30  # Auth0's API SDK: iat at most 30 s ahead, at most 300 s old
DEFAULT_DPOP_MAX_AGE = 300
DEFAULT_DPOP_MAX_PROOF_LENGTH = 4096
REDIS_URL_SCHEMES = ("redis", "rediss", "unix")
# Django settings whose change (tests' override_settings) rebuilds what is built from them.
RELOADING_SETTINGS = ("AUTH0", "DEBUG")

# Every key the `AUTH0` dict accepts (load_auth0_settings reads these and no other); any other key
# is a system-check warning naming the closest of these (checks.py). The configuration reference
# in the docs is checked against this tuple.
SETTING_KEYS = (
    "DOMAIN",
    "DOMAINS",
    "DOMAINS_RESOLVER",
    "DISCOVERY",
    "ISSUER",
    "JWKS_URL",
    "AUDIENCE",
    "ALGORITHMS",
    "LEEWAY",
    "JWKS_TIMEOUT",
    "JWKS_CACHE_LIFETIME",
    "JWKS_MIN_REFETCH_INTERVAL",
    "JWKS_PERSISTED_MAX_AGE",
    "TOKEN_CACHE_SIZE",
    "USER",
    "ORGANIZATIONS",
    "DPOP",
    "DPOP_ALGORITHMS",
    "DPOP_IAT_LEEWAY",
    "DPOP_MAX_AGE",
    "DPOP_MAX_PROOF_LENGTH",
    "DPOP_NONCE",
    "REDIS_URL",
    "LOCAL_ISSUER",
    "LOCAL_ISSUER_KEY_DIR",
)


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
    jwks_persisted_max_age: float = DEFAULT_JWKS_PERSISTED_MAX_AGE  # 0: no saved key set
    dpop_mode: str = "allowed"
    dpop_algorithms: tuple[str, ...] = DEFAULT_DPOP_ALGORITHMS
    dpop_iat_leeway: int = DEFAULT_DPOP_IAT_LEEWAY
    dpop_max_age: int = DEFAULT_DPOP_MAX_AGE
    dpop_max_proof_length: int = DEFAULT_DPOP_MAX_PROOF_LENGTH
    redis_url: str = ""  # the DPoP replay store: Redis when set, else the database
    dpop_nonce: bool = False  # server nonces (RFC 9449 section 9), see dpop.py
    user_mode: str = "database"  # USER_MODES
    # Every accepted issuer, `issuer` first: one, or one per domain of `DOMAINS` (issuers.py).
    issuers: tuple[str, ...] = ()
    domains_resolver: str = ""  # the dotted path of a callable returning the domains
    discovery: bool = False  # find each issuer's JWKS through its OpenID configuration
    # Organizations (organizations.py): None, "required", or a tuple of ids and names.
    organizations: str | tuple[str, ...] | None = None

    @property
    def multiple_issuers(self) -> bool:
        """Whether tokens are routed by their `iss` among several issuers (or resolved ones)."""
        return bool(self.domains_resolver) or len(self.issuers) > 1


def setting_name(key: str) -> str:
    """How a key of the `AUTH0` dict is named in messages: as it is written in settings."""
    return f'AUTH0["{key}"]'


class Auth0SettingsError(ImproperlyConfigured):
    """Everything wrong with the `AUTH0` setting, one sentence per problem."""

    def __init__(self, messages: list[str]):
        self.messages = list(messages)
        super().__init__(" ".join(self.messages))


P = ParamSpec("P")


class _Problems:
    """Runs each field's parser, keeping its message instead of stopping at the first one."""

    def __init__(self) -> None:
        self.messages: list[str] = []

    def __call__(self, parse: Callable[P, Any], *args: P.args, **kwargs: P.kwargs) -> Any:
        """`parse(*args, **kwargs)`, or None with its message kept."""
        try:
            return parse(*args, **kwargs)
        except ImproperlyConfigured as exc:
            self.messages.append(str(exc))
            return None


def _domain(raw: Any, key: str = "DOMAIN") -> str:
    """The tenant's domain as a bare host name (`https://` and a trailing `/` tolerated)."""
    from auth0_jwt.domains import parse_domain  # (this module imports no other of the package)

    try:
        return parse_domain(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f'{setting_name(key)} must be a host name such as "tenant.us.auth0.com", got {raw!r}.'
        ) from None


def _domains(raw: Any) -> tuple[str, ...]:
    """`DOMAINS`: a list of domains (or one comma-separated string), each as `DOMAIN` takes it."""
    name = setting_name("DOMAINS")
    if isinstance(raw, str):
        raw = [item for item in raw.split(",") if item.strip()]
    if not isinstance(raw, (list, tuple)) or not raw:
        raise ImproperlyConfigured(
            f'{name} must be a list of host names such as ["tenant.us.auth0.com", '
            f'"login.example.com"], got {raw!r}.'
        )
    from auth0_jwt.domains import MAX_ISSUERS

    domains = tuple(dict.fromkeys(_domain(item, "DOMAINS") for item in raw))
    if len(domains) > MAX_ISSUERS:
        raise ImproperlyConfigured(f"{name} lists {len(domains)} domains; at most {MAX_ISSUERS}.")
    return domains


def _resolver(raw: Any) -> str:
    """`DOMAINS_RESOLVER`: the dotted path of a callable that returns the current domains."""
    name = setting_name("DOMAINS_RESOLVER")
    if not isinstance(raw, str) or "." not in raw.strip():
        raise ImproperlyConfigured(
            f"{name} must be the dotted path of a function returning the domains, such as "
            f'"myproject.tenancy.auth0_domains", got {raw!r}.'
        )
    path = raw.strip()
    try:
        resolver = import_string(path)
    except ImportError as exc:
        raise ImproperlyConfigured(f"{name} cannot be imported: {exc}.") from None
    if not callable(resolver):
        raise ImproperlyConfigured(f"{name} ({path}) is not callable.")
    return path


def _organizations(raw: Any) -> str | tuple[str, ...] | None:
    """`ORGANIZATIONS`: None, "required", or organization ids (`org_...`) and names."""
    name = setting_name("ORGANIZATIONS")
    if raw is None or raw == "" or raw == [] or raw == ():
        return None
    if isinstance(raw, str):
        if raw.strip().lower() == "required":
            return "required"
        raw = [item for item in raw.split(",") if item.strip()]
    entries = list(raw) if isinstance(raw, (list, tuple, set, frozenset)) else None
    if not entries or not all(
        isinstance(entry, str) and entry.strip() and not _SPACE_OR_CONTROL.search(entry.strip())
        for entry in entries
    ):
        raise ImproperlyConfigured(
            f'{name} must be None, "required", or a list of organization ids (org_...) and '
            f"names, got {raw!r}."
        )
    return tuple(dict.fromkeys(entry.strip() for entry in entries))


_SPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def _number(
    raw: Any,
    name: str,
    *,
    minimum: float,
    maximum: float = math.inf,
    kind: Callable[[Any], float] = float,
) -> float:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}.") from None
    if not (minimum <= value <= maximum) or (isinstance(value, float) and math.isnan(value)):
        bound = f"between {minimum} and {maximum}" if maximum != math.inf else f">= {minimum}"
        raise ImproperlyConfigured(f"{name} must be {bound}, got {raw!r}.")
    return value


def _algorithms(raw: Any, name: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        names = raw.replace(",", " ").split()
    elif isinstance(raw, (list, tuple)) and all(isinstance(item, str) for item in raw):
        names = list(raw)
    else:
        names = []
    unsupported = sorted(set(names) - SUPPORTED_ALGORITHMS)
    if not names or unsupported:
        raise ImproperlyConfigured(
            f"{name} must list asymmetric JWS algorithms from "
            f"{', '.join(sorted(SUPPORTED_ALGORITHMS))}; got {raw!r}."
        )
    return tuple(dict.fromkeys(names))


def _url(raw: object, name: str) -> str:
    if isinstance(raw, str):
        try:
            parts = urlsplit(raw)
            if parts.scheme in ("http", "https") and parts.hostname:
                return raw
        except ValueError:  # e.g. an unbalanced [ in the host
            pass
    raise ImproperlyConfigured(f"{name} must be an http(s) URL, got {raw!r}.")


def _choice(raw: Any, name: str, choices: tuple[str, ...]) -> str:
    value = str(raw).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}; got {raw!r}.")
    return value


def _switch(raw: Any, name: str) -> bool:
    """on/off, true/false, yes/no, 1/0 (or a bool)."""
    value = str(raw).strip().lower()
    if value not in ("on", "off", "true", "false", "yes", "no", "1", "0"):
        raise ImproperlyConfigured(f"{name} must be on or off; got {raw!r}.")
    return value in ("on", "true", "yes", "1")


def _redis_url(raw: object) -> str:
    url = (raw or "").strip() if isinstance(raw, str) or raw is None else "?"
    if url and urlsplit(url).scheme not in REDIS_URL_SCHEMES:
        raise ImproperlyConfigured(
            f"{setting_name('REDIS_URL')} must be a redis://, rediss:// or unix:// URL (it is not "
            "shown here)."
        )
    return url


def _issuers_of_domains(raw: Mapping[str, Any], problem: _Problems) -> tuple[str, ...] | None:
    """The issuers of `DOMAINS` (or, with `DOMAINS_RESOLVER`, none until it is called); None when
    neither is set. Either refuses `DOMAIN`, `ISSUER` and `JWKS_URL` beside it, naming both."""
    from auth0_jwt.domains import issuer_for_domain

    keys = [key for key in ("DOMAINS", "DOMAINS_RESOLVER") if raw.get(key)]
    if not keys:
        return None
    for key in keys:
        for single in ("DOMAIN", "ISSUER", "JWKS_URL"):
            if raw.get(single):
                problem.messages.append(
                    f"{setting_name(key)} and {setting_name(single)} are both set: "
                    f"{setting_name(key)} gives every domain (each domain's issuer is "
                    f"https://<domain>/ and its keys are read from it); keep one of the two."
                )
    if len(keys) == 2:
        problem.messages.append(
            f"{setting_name('DOMAINS')} and {setting_name('DOMAINS_RESOLVER')} are both set: "
            "keep the list, or the resolver that returns it."
        )
        return ()
    if keys == ["DOMAINS_RESOLVER"]:
        problem(_resolver, raw["DOMAINS_RESOLVER"])
        return ()
    domains = problem(_domains, raw["DOMAINS"])
    return tuple(issuer_for_domain(domain) for domain in domains or ())


def _issuer_and_jwks_url(
    raw: Mapping[str, Any], problem: _Problems, *, local: bool
) -> tuple[str, str]:
    """`ISSUER` and `JWKS_URL` as set, or derived from `DOMAIN` (then from `ISSUER`)."""
    issuer = raw.get("ISSUER") or None
    if issuer is None and raw.get("DOMAIN"):
        domain = problem(_domain, raw["DOMAIN"])
        if domain is None:
            return "", ""
        issuer = f"https://{domain}/"
    elif issuer is None:
        hint = (
            'the local development issuer needs the URL it serves on, e.g. "http://127.0.0.1:8000/"'
            if local
            else 'set it to your Auth0 tenant\'s domain, e.g. "tenant.us.auth0.com"'
        )
        key, alternative = ("ISSUER", "DOMAIN") if local else ("DOMAIN", "ISSUER")
        problem.messages.append(
            f"{setting_name(key)} is not set: {hint} (or set {setting_name(alternative)})."
        )
        return "", ""
    issuer = problem(_url, issuer, setting_name("ISSUER"))
    jwks_url = raw.get("JWKS_URL") or (
        f"{issuer.rstrip('/')}/.well-known/jwks.json" if issuer else None
    )
    if jwks_url is not None:
        jwks_url = problem(_url, jwks_url, setting_name("JWKS_URL"))
    return issuer or "", jwks_url or ""


def load_auth0_settings(raw: Mapping[str, Any]) -> Auth0Settings:
    """Parse the raw `AUTH0` dict; raise Auth0SettingsError (an ImproperlyConfigured) naming
    every problem, one sentence each."""
    if not isinstance(raw, Mapping):
        raise Auth0SettingsError(
            [f"AUTH0 must be a dict of settings such as {{\"DOMAIN\": ..., \"AUDIENCE\": ...}}, "
             f"got {type(raw).__name__}."]
        )  # fmt: skip
    problem = _Problems()
    local = bool(raw.get("LOCAL_ISSUER", False))
    issuers = _issuers_of_domains(raw, problem)
    if issuers is None:
        issuer, jwks_url = _issuer_and_jwks_url(raw, problem, local=local)
        issuers = (issuer,) if issuer else ()
    else:
        from auth0_jwt.domains import jwks_url_for_issuer

        issuer = issuers[0] if issuers else ""
        jwks_url = jwks_url_for_issuer(issuer) if issuer else ""
    audience = raw.get("AUDIENCE") or ""
    audience = audience.strip() if isinstance(audience, str) else ""
    if not audience:
        problem.messages.append(
            f"{setting_name('AUDIENCE')} is not set: set it to your API's identifier in the "
            'Auth0 dashboard (the audience its tokens carry), e.g. "https://api.example.com/".'
        )
    config: dict[str, Any] = dict(
        issuer=issuer,
        audience=audience,
        jwks_url=jwks_url,
        algorithms=problem(_algorithms, raw.get("ALGORITHMS", "RS256"), setting_name("ALGORITHMS")),
        leeway=problem(
            _number, raw.get("LEEWAY", 60), setting_name("LEEWAY"), minimum=0, maximum=600, kind=int
        ),
        jwks_timeout=problem(
            _number,
            raw.get("JWKS_TIMEOUT", 5),
            setting_name("JWKS_TIMEOUT"),
            minimum=0.1,
            maximum=MAX_JWKS_TIMEOUT,
        ),
        jwks_cache_lifetime=problem(
            _number,
            raw.get("JWKS_CACHE_LIFETIME", 600),
            setting_name("JWKS_CACHE_LIFETIME"),
            minimum=1,
        ),
        jwks_min_refetch_interval=problem(
            _number,
            raw.get("JWKS_MIN_REFETCH_INTERVAL", 30),
            setting_name("JWKS_MIN_REFETCH_INTERVAL"),
            minimum=0,
        ),
        jwks_persisted_max_age=problem(
            _number,
            raw.get("JWKS_PERSISTED_MAX_AGE", DEFAULT_JWKS_PERSISTED_MAX_AGE),
            setting_name("JWKS_PERSISTED_MAX_AGE"),
            minimum=0,
            maximum=MAX_JWKS_PERSISTED_MAX_AGE,
        ),
        local_issuer=local,
        local_issuer_key_dir=Path(raw.get("LOCAL_ISSUER_KEY_DIR") or ".local-issuer"),
        token_cache_size=problem(
            _number,
            raw.get("TOKEN_CACHE_SIZE", DEFAULT_TOKEN_CACHE_SIZE),
            setting_name("TOKEN_CACHE_SIZE"),
            minimum=0,
            maximum=MAX_TOKEN_CACHE_SIZE,
            kind=int,
        ),
        dpop_mode=problem(_choice, raw.get("DPOP", "allowed"), setting_name("DPOP"), DPOP_MODES),
        dpop_algorithms=problem(
            _algorithms,
            raw.get("DPOP_ALGORITHMS", DEFAULT_DPOP_ALGORITHMS),
            setting_name("DPOP_ALGORITHMS"),
        ),
        dpop_iat_leeway=problem(
            _number,
            raw.get("DPOP_IAT_LEEWAY", DEFAULT_DPOP_IAT_LEEWAY),
            setting_name("DPOP_IAT_LEEWAY"),
            minimum=0,
            maximum=300,
            kind=int,
        ),
        dpop_max_age=problem(
            _number,
            raw.get("DPOP_MAX_AGE", DEFAULT_DPOP_MAX_AGE),
            setting_name("DPOP_MAX_AGE"),
            minimum=1,
            maximum=3600,
            kind=int,
        ),
        dpop_max_proof_length=problem(
            _number,
            raw.get("DPOP_MAX_PROOF_LENGTH", DEFAULT_DPOP_MAX_PROOF_LENGTH),
            setting_name("DPOP_MAX_PROOF_LENGTH"),
            minimum=512,
            maximum=16384,
            kind=int,
        ),
        redis_url=problem(_redis_url, raw.get("REDIS_URL")),
        dpop_nonce=problem(_switch, raw.get("DPOP_NONCE", False), setting_name("DPOP_NONCE")),
        user_mode=problem(_choice, raw.get("USER", "database"), setting_name("USER"), USER_MODES),
        issuers=issuers,
        domains_resolver=(raw.get("DOMAINS_RESOLVER") or "").strip()
        if isinstance(raw.get("DOMAINS_RESOLVER"), str)
        else "",
        discovery=problem(_switch, raw.get("DISCOVERY", False), setting_name("DISCOVERY")),
        organizations=problem(_organizations, raw.get("ORGANIZATIONS")),
    )
    if config["discovery"] and raw.get("JWKS_URL"):
        problem.messages.append(
            f"{setting_name('DISCOVERY')} is on and {setting_name('JWKS_URL')} is set: discovery "
            "reads each issuer's JWKS URL from its OpenID configuration; keep one of the two."
        )
    if problem.messages:
        raise Auth0SettingsError(problem.messages)
    return Auth0Settings(**config)


@functools.cache
def get_auth0_settings() -> Auth0Settings:
    """The validated `AUTH0` setting (cached; rebuilt when `AUTH0` or `DEBUG` changes).

    What is built from it per process (the verifiers, the replay store, the request authenticator)
    is held by `ProcessWide`
    and rebuilt on the same signal, so this module imports none of them.
    """
    return load_auth0_settings(getattr(settings, "AUTH0", {}))


T = TypeVar("T")


class ProcessWide(Generic[T]):
    """One object per process built from the settings (the token verifier, the DPoP verifier, the
    replay store, the request authenticator): built on first use, and built again after `AUTH0`
    or `DEBUG` changes, or after one of the objects it is built from (`depends_on`) is replaced."""

    instances: ClassVar[list["ProcessWide[Any]"]] = []

    def __init__(self, build: Callable[[], T], *, depends_on: tuple["ProcessWide[Any]", ...] = ()):
        self._build = build
        self._value: T | None = None
        self._lock = threading.Lock()
        self._dependents: list[ProcessWide[Any]] = []
        for dependency in depends_on:
            dependency._dependents.append(self)
        ProcessWide.instances.append(self)

    def get(self) -> T:
        value = self._value
        if value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
                value = self._value
        return value

    def replace(self, value: T | None = None) -> None:
        """Use `value` from now on (tests); None builds a new one on next use. What is built from
        this object is built again on its next use."""
        with self._lock:
            self._value = value
        for dependent in self._dependents:
            dependent.replace()


@receiver(setting_changed)
def reset_on_setting_change(*, setting: str, **kwargs: Any) -> None:
    if setting in RELOADING_SETTINGS:
        get_auth0_settings.cache_clear()
        for instance in ProcessWide.instances:
            instance.replace()
