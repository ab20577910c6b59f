"""Deployment checks: with DJANGO_DEBUG off the service refuses to start without its production
variables, and bad environment values stop it, each with one line naming the variable.

`manage.py` commands run these through Django's system checks; gunicorn does not run system checks,
so gunicorn.conf.py calls `startup_errors()` before any worker starts.
"""

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured


@checks.register(checks.Tags.security)
def check_production_settings(app_configs=None, **kwargs):
    errors = [
        checks.Error(message, id="auth0_django_example.E003")
        for message in getattr(settings, "ENVIRONMENT_ERRORS", ())
    ]
    if settings.DEBUG:
        return errors
    try:
        secret_key = settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to hand out an empty SECRET_KEY
        secret_key = ""
    if not secret_key:
        errors.append(
            checks.Error(
                "DJANGO_SECRET_KEY is not set (required with DJANGO_DEBUG off): generate one with "
                'python -c "import secrets; print(secrets.token_urlsafe(50))".',
                id="auth0_django_example.E001",
            )
        )
    if not settings.ALLOWED_HOSTS:
        errors.append(
            checks.Error(
                "DJANGO_ALLOWED_HOSTS is not set (required with DJANGO_DEBUG off): list the host "
                "names this service answers to, e.g. api.example.com.",
                id="auth0_django_example.E002",
            )
        )
    return errors


def startup_errors() -> list[str]:
    """Set Django up and return its error-level system check messages, one line each."""
    import os

    import django
    from django.db import connections

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auth0_django_example.settings")
    django.setup()
    try:
        messages = checks.run_checks()
    finally:
        connections.close_all()  # nothing opened here may leak into forked workers
    return [
        f"{message.msg} ({message.id})"
        for message in messages
        if message.is_serious() and not message.is_silenced()
    ]
