"""Plain Django views protected by auth0_jwt.django, sync and async, for the adapter's tests: the
tutorial's endpoints (bodies as the DRF views of urls.py give them), class-based views both ways,
and views that show what a view receives. No DRF here."""

from django.contrib.auth import get_user_model
from django.http import JsonResponse
from django.utils.decorators import method_decorator
from django.views import View

from auth0_jwt.django import Auth0TokenRequiredMixin, requires_auth
from auth0_jwt.verifier import VerifiedToken

PUBLIC = {
    "message": "Hello from a public endpoint! You don't need to be authenticated to see this."
}
PRIVATE = "Hello from a private endpoint! You need to be authenticated to see this."
SCOPED = (
    "Hello from a private endpoint! You need to be authenticated and have a scope of "
    "read:messages to see this."
)


def public(request):
    return JsonResponse(PUBLIC)


async def apublic(request):
    return JsonResponse(PUBLIC)


@requires_auth
def private(request):
    return JsonResponse({"message": PRIVATE, "sub": request.auth.subject})


@requires_auth
async def aprivate(request):
    return JsonResponse({"message": PRIVATE, "sub": request.auth.subject})


@requires_auth(scopes=["read:messages"])
def private_scoped(request):
    return JsonResponse({"message": SCOPED, "sub": request.auth.subject})


@requires_auth(scopes=["read:messages"])
async def aprivate_scoped(request):
    return JsonResponse({"message": SCOPED, "sub": request.auth.subject})


def what_the_view_sees(request, user) -> dict:
    """The request's user and token, as a view finds them."""
    return {
        "method": request.method,
        "user_is_a_loaded_user": type(user) is get_user_model(),
        "username": user.username,
        "user_from_auser": None,
        "auth_is_the_verified_token": isinstance(request.auth, VerifiedToken),
        "sub": request.auth.subject,
    }


@requires_auth(scopes={"GET": ["read:messages"], "post": ["write:messages"]})
def messages(request):
    return JsonResponse(what_the_view_sees(request, request.user))


@requires_auth
async def awhoami(request):
    # No await before the first touch: a lazy user would query the database here, on the loop.
    seen = what_the_view_sees(request, request.user)
    seen["user_from_auser"] = (await request.auser()).username
    return JsonResponse(seen)


def unprotected_post(request):
    """No token required: the control for the CSRF tests (CSRF applies here)."""
    return JsonResponse({"method": request.method})


@method_decorator(requires_auth(scopes=["read:messages"]), name="dispatch")
class DecoratedMessagesView(View):
    def get(self, request):
        return JsonResponse(what_the_view_sees(request, request.user))

    def post(self, request):
        return JsonResponse(what_the_view_sees(request, request.user))


class MixinMessagesView(Auth0TokenRequiredMixin, View):
    required_scopes = {"GET": ["read:messages"], "POST": ["write:messages"]}

    def get(self, request):
        return JsonResponse(what_the_view_sees(request, request.user))

    def post(self, request):
        return JsonResponse(what_the_view_sees(request, request.user))


class AsyncMixinMessagesView(Auth0TokenRequiredMixin, View):
    required_scopes = {"GET": ["read:messages"], "POST": ["write:messages"]}

    async def get(self, request):
        return JsonResponse(what_the_view_sees(request, request.user))

    async def post(self, request):
        return JsonResponse(what_the_view_sees(request, request.user))
