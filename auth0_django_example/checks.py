"""Deployment checks: with DJANGO_DEBUG off the service refuses to start without its production
variables, and bad environment values stop it, each with one line naming the variable.

`manage.py` commands run these through Django's system checks; gunicorn does not run system checks,
so gunicorn.conf.py calls `startup_errors()` before any worker starts.

The serving checks (tag `serving`, registered as deployment checks) say whether this process can
answer requests, e.g. that the static files are collected. Being deployment checks, they do not
stop `collectstatic`, `migrate` and the other commands that serve nothing; `check --deploy` and
gunicorn's start-up run them.
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


SERVING = "serving"

STATIC_FILES_NOT_COLLECTED = "static files are not collected: run manage.py collectstatic"


@checks.register(SERVING, deploy=True)
def check_static_files_collected(app_configs=None, **kwargs):
    """With DEBUG off, a manifest storage without its manifest answers 500 on every page that
    names a static file (Swagger UI, the browsable API): refuse to serve instead."""
    from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage

    if settings.DEBUG:
        return []
    try:
        if not isinstance(staticfiles_storage, ManifestFilesMixin):
            return []
        storage = staticfiles_storage
        collected = storage.manifest_storage.exists(storage.manifest_name)
    except ValueError:  # the manifest is there but cannot be read (ManifestFilesMixin.__init__)
        collected = False
    if collected:
        return []
    return [checks.Error(STATIC_FILES_NOT_COLLECTED, id="auth0_django_example.E004")]


def startup_errors() -> list[str]:
    """Set Django up and return its error-level system check messages, one line each.

    The serving checks run once the configuration checks pass: they rely on valid settings.
    """
    import os

    import django
    from django.db import connections

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "auth0_django_example.settings")
    django.setup()
    try:
        messages = checks.run_checks()
        if not any(message.is_serious() for message in messages):
            messages += checks.run_checks(tags=[SERVING], include_deployment_checks=True)
    finally:
        connections.close_all()  # nothing opened here may leak into forked workers
    return [
        f"{message.msg} ({message.id})"
        for message in messages
        if message.is_serious() and not message.is_silenced()
    ]
