"""The tutorial's three endpoints: public, private (any valid token), private-scoped."""

from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth0_jwt.permissions import HasRequiredScopes


class PublicView(APIView):
    """No token needed; a token, valid or not, is not even looked at."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(
            {
                "message": "Hello from a public endpoint! "
                "You don't need to be authenticated to see this."
            }
        )


class PrivateView(APIView):
    """Any valid access token."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(
            {
                "message": "Hello from a private endpoint! "
                "You need to be authenticated to see this.",
                "sub": request.auth.subject,
            }
        )


class PrivateScopedView(APIView):
    """A valid access token granting `read:messages` (as a scope or an RBAC permission)."""

    permission_classes = [IsAuthenticated, HasRequiredScopes]
    required_scopes = ["read:messages"]

    def get(self, request):
        return Response(
            {
                "message": "Hello from a private endpoint! You need to be authenticated and have "
                "a scope of read:messages to see this.",
                "sub": request.auth.subject,
            }
        )
