"""System checks: a misconfigured service refuses to start with one clear line per problem, naming
the `AUTH0` key to set, not a traceback."""

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from auth0_jwt.conf import SETTING_KEYS, Auth0SettingsError, load_auth0_settings, setting_name


@register(Tags.security, deploy=False)
def check_auth0_settings(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    raw = getattr(settings, "AUTH0", {})
    if isinstance(raw, dict) and raw.get("LOCAL_ISSUER") and not settings.DEBUG:
        return [
            Error(
                f"{setting_name('LOCAL_ISSUER')} is on while DEBUG is off: locally minted tokens "
                f"are for development only; set {setting_name('DOMAIN')} and "
                f"{setting_name('AUDIENCE')} for your Auth0 tenant and API.",
                id="auth0_jwt.E001",
            )
        ]
    try:
        load_auth0_settings(raw)
    except Auth0SettingsError as exc:
        return [Error(message, id="auth0_jwt.E002") for message in exc.messages]
    return []


@register(Tags.security, deploy=False)
def check_unknown_auth0_keys(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: Any
) -> list[CheckMessage]:
    """A key of `AUTH0` that the package does not read (a typo such as "AUDIANCE") would be
    silently ignored: a warning names it and the closest key it does read."""
    raw = getattr(settings, "AUTH0", {})
    if not isinstance(raw, Mapping):
        return []  # check_auth0_settings says what AUTH0 must be
    return [
        Warning(_unknown_key_message(key), id="auth0_jwt.W001")
        for key in raw
        if key not in SETTING_KEYS
    ]


def _unknown_key_message(key: object) -> str:
    name = setting_name(key) if isinstance(key, str) else f"AUTH0[{key!r}]"
    message = f"{name} is not a setting of auth0_jwt and is ignored."
    if isinstance(key, str):
        closest = difflib.get_close_matches(key.upper(), SETTING_KEYS, n=1, cutoff=0.6)
        if closest:
            return f"{message} Did you mean {setting_name(closest[0])}?"
    return f"{message} The settings it reads are listed in its README (Settings)."
