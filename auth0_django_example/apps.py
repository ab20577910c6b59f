from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """The project package as an app: its deployment checks, health and request-id middleware."""

    name = "auth0_django_example"
    verbose_name = "auth0-django-example service"

    def ready(self):
        from auth0_django_example import checks  # noqa: F401 - registers the system checks
