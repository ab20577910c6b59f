"""The reference projects' two views, written as a DRF tutorial would."""

from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView


class Hello(APIView):
    permission_classes = [AllowAny]

    def get(self, request):
        return Response({"message": "Hello from a public endpoint!"})


class Private(APIView):
    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response({"message": "Hello from a private endpoint!"})


urlpatterns = [path("api/public/", Hello.as_view()), path("api/private/", Private.as_view())]
