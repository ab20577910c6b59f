"""URLs of the package's test project: the three endpoints of the tutorial, at the paths the tests
use, and the local issuer's JWKS. Bodies as in the example service."""

from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth0_jwt.permissions import HasRequiredScopes
from auth0_jwt.views import jwks


class PublicView(APIView):
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


urlpatterns = [
    path("api/public/", PublicView.as_view()),
    path("api/private/", PrivateView.as_view()),
    path("api/private-scoped/", PrivateScopedView.as_view()),
    path(".well-known/jwks.json", jwks),
]
