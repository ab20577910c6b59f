"""An async DRF view through adrf, with the package's DRF authentication class and scope
permission unchanged (adrf runs authentication and permissions in a worker thread)."""

from adrf.views import APIView
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from auth0_jwt.authentication import JSONWebTokenAuthentication
from auth0_jwt.permissions import HasRequiredScopes
from auth0_jwt.tests.django_views import SCOPED


class AsyncPrivateScopedView(APIView):
    authentication_classes = [JSONWebTokenAuthentication]
    permission_classes = [IsAuthenticated, HasRequiredScopes]
    required_scopes = ["read:messages"]

    async def get(self, request):
        return Response({"message": SCOPED, "sub": request.auth.subject})
