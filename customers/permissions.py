"""Who may use the customers endpoints beyond a valid token and its scope."""

from rest_framework.permissions import BasePermission

from auth0_jwt.token_user import TokenUser


class DatabaseUserRequired(BasePermission):
    """Customers are kept per Django user (and organization): a token user
    (`AUTH0["USER"] = "token"`, AUTH0_USER=token) has no row to own them, so the endpoints answer
    403 with their own code instead of failing on the first query."""

    message = (
        "Customers are kept per user in the database; this service runs with AUTH0_USER=token, "
        "which keeps no users."
    )
    code = "database_user_required"

    def has_permission(self, request, view) -> bool:
        return not isinstance(request.user, TokenUser)
