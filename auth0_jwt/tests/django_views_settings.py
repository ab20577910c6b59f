"""A project with plain Django views only: the served async tests' settings without Django REST
framework (no `rest_framework`, no `drf_spectacular`, no `REST_FRAMEWORK`), for test_no_drf.py."""

from auth0_jwt.tests.async_settings import *  # noqa: F403

INSTALLED_APPS = [
    app
    for app in INSTALLED_APPS  # noqa: F405
    if app not in ("rest_framework", "drf_spectacular")
]
del REST_FRAMEWORK  # noqa: F821
