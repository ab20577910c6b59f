"""Each adapter's view twice: without a token check (`public`) and with one (`private`), bodies
alike, so that the difference between the two is the authentication's cost."""

from django.http import JsonResponse
from django.urls import path
from ninja import NinjaAPI
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from auth0_jwt.django import requires_auth
from auth0_jwt.ninja import Auth0Bearer

PUBLIC = {"message": "Hello from a public endpoint!"}
PRIVATE = {"message": "Hello from a private endpoint!"}


class DRFPublic(APIView):
    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(PUBLIC)


class DRFPrivate(APIView):
    def get(self, request):
        return Response(PRIVATE)


def plain_public(request):
    return JsonResponse(PUBLIC)


@requires_auth
def plain_private(request):
    return JsonResponse(PRIVATE)


async def async_public(request):
    return JsonResponse(PUBLIC)


@requires_auth
async def async_private(request):
    return JsonResponse(PRIVATE)


urlpatterns = [
    path("drf/public/", DRFPublic.as_view()),
    path("drf/private/", DRFPrivate.as_view()),
    path("plain/public/", plain_public),
    path("plain/private/", plain_private),
    path("async/public/", async_public),
    path("async/private/", async_private),
]

api = NinjaAPI(urls_namespace="bench")


@api.get("/public/")
def ninja_public(request):
    return PUBLIC


@api.get("/private/", auth=Auth0Bearer())
def ninja_private(request):
    return PRIVATE


urlpatterns.append(path("ninja/", api.urls))
