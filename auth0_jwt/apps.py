from django.apps import AppConfig


class Auth0JWTConfig(AppConfig):
    name = "auth0_jwt"
    verbose_name = "Auth0 JWT authentication"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from auth0_jwt import checks  # noqa: F401 - registers the system checks
