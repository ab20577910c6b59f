"""System checks: a misconfigured service refuses to start with one clear line, not a traceback."""

from django.conf import settings
from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from auth0_jwt.conf import load_auth0_settings


@register(Tags.security, deploy=False)
def check_auth0_settings(app_configs=None, **kwargs):
    raw = getattr(settings, "AUTH0", {})
    if raw.get("LOCAL_ISSUER") and not settings.DEBUG:
        return [
            Error(
                "No Auth0 tenant is configured and DJANGO_DEBUG is off: set AUTH0_DOMAIN and "
                "AUTH0_API_IDENTIFIER (or DJANGO_DEBUG=1 to use the local development issuer).",
                id="auth0_jwt.E001",
            )
        ]
    try:
        load_auth0_settings(raw)
    except ImproperlyConfigured as exc:
        return [Error(str(exc), id="auth0_jwt.E002")]
    return []
