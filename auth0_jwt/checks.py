"""System checks: a misconfigured service refuses to start with one clear line per problem, naming
the `AUTH0` key to set, not a traceback."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from auth0_jwt.conf import Auth0SettingsError, load_auth0_settings, setting_name


@register(Tags.security, deploy=False)
def check_auth0_settings(app_configs=None, **kwargs):
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
