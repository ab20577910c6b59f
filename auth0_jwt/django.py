"""The plain-Django adapter: Auth0 access tokens on function and class-based views, sync or async,
without Django REST framework.

```python
from auth0_jwt.django import requires_auth

@requires_auth
def private(request): ...

@requires_auth(scopes=["read:messages"])
async def private_scoped(request): ...
```

Every rule lives in the request authenticator (authenticator.py); this module only hands it the
request and translates its verdict: a pass sets `request.user` (the token's user, loaded, never a
lazy object) and `request.auth` (the `VerifiedToken`) and calls the view; a refusal is answered
as DRF answers it: the status, `{"detail": ...}` as JSON and the core's headers
(`WWW-Authenticate`, `Retry-After`, `DPoP-Nonce`). Async views are authenticated with
`aauthenticate`, so no key fetch, user lookup or replay check waits on the event loop.

The views are exempt from CSRF checks, as DRF's `APIView` is: the user comes from the
`Authorization` header, which a browser does not send cross-site without a CORS preflight, never
from a session cookie.
"""

from functools import wraps

from asgiref.sync import iscoroutinefunction
from django.http import JsonResponse
from django.views import View

from auth0_jwt.authenticator import AuthError, organization_allow_list, scopes_for_method
from auth0_jwt.runtime import DjangoRequest, get_request_authenticator

__all__ = ["Auth0TokenRequiredMixin", "error_response", "requires_auth"]

# DRF's JSONRenderer writes compact JSON and keeps non-ASCII characters: the same bytes here.
DRF_JSON = {"separators": (",", ":"), "ensure_ascii": False}


def error_response(error: AuthError) -> JsonResponse:
    """The answer to a refused request, as DRF (with auth0_jwt's exception handler) gives it."""
    return JsonResponse(
        error.body, status=error.status, headers=error.headers, json_dumps_params=DRF_JSON
    )


def requires_auth(view=None, *, scopes=(), organization=None):
    """Require a valid access token holding `scopes` (a list, or a dict per HTTP method) on a
    function view, sync or async; `@requires_auth` alone requires no scope. With `organization`
    (an Auth0 organization id `org_...` or name, or a list of them), the token must act for it."""
    if view is not None and not callable(view):
        raise TypeError("requires_auth takes the scopes by keyword: @requires_auth(scopes=[...])")
    scopes = () if scopes is None else scopes
    scopes_for_method(scopes, "GET")  # a value that is not scopes fails here, not on a request
    if organization:
        organization_allow_list(organization)  # likewise for the organization

    def decorate(view):
        if iscoroutinefunction(view):

            @wraps(view)
            async def wrapper(request, *args, **kwargs):
                authenticator = get_request_authenticator()
                verdict = await authenticator.aauthenticate(DjangoRequest(request))
                refusal = _admit(request, authenticator, verdict, scopes, organization)
                if refusal is not None:
                    return error_response(refusal)
                return await view(request, *args, **kwargs)

        else:

            @wraps(view)
            def wrapper(request, *args, **kwargs):
                authenticator = get_request_authenticator()
                verdict = authenticator.authenticate(DjangoRequest(request))
                refusal = _admit(request, authenticator, verdict, scopes, organization)
                if refusal is not None:
                    return error_response(refusal)
                return view(request, *args, **kwargs)

        wrapper.csrf_exempt = True
        return wrapper

    return decorate if view is None else decorate(view)


class Auth0TokenRequiredMixin:
    """For class-based views, before `View` (or its subclass) among the bases: every method
    requires a valid token holding `required_scopes` (a list, or a dict per HTTP method) and, with
    `required_organization` (an Auth0 organization id or name, or a list), acting for it."""

    required_scopes = ()
    required_organization = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        if View in mro and mro.index(View) < mro.index(Auth0TokenRequiredMixin):
            # Behind View, View.dispatch would serve every request unauthenticated.
            raise TypeError(f"{cls.__name__}: put Auth0TokenRequiredMixin before View in its bases")

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)
        view.csrf_exempt = True
        return view

    def dispatch(self, request, *args, **kwargs):
        if self.view_is_async:
            return self._adispatch(request, *args, **kwargs)
        authenticator = get_request_authenticator()
        verdict = authenticator.authenticate(DjangoRequest(request))
        refusal = _admit(
            request, authenticator, verdict, self.required_scopes, self.required_organization
        )
        if refusal is not None:
            return error_response(refusal)
        return super().dispatch(request, *args, **kwargs)

    async def _adispatch(self, request, *args, **kwargs):
        authenticator = get_request_authenticator()
        verdict = await authenticator.aauthenticate(DjangoRequest(request))
        refusal = _admit(
            request, authenticator, verdict, self.required_scopes, self.required_organization
        )
        if refusal is not None:
            return error_response(refusal)
        return await super().dispatch(request, *args, **kwargs)


def _admit(request, authenticator, verdict, scopes, organization=None) -> AuthError | None:
    """The refusal of the authenticator's verdict, the `scopes` for the request's method and the
    `organization`; on a pass, the request's user and token set."""
    if verdict is None:
        return authenticator.not_authenticated()
    if isinstance(verdict, AuthError):
        return verdict
    required = scopes_for_method(scopes, request.method)
    if required:
        refusal = authenticator.check_scopes(verdict.token, required)
        if refusal is not None:
            return refusal
    if organization:
        refusal = authenticator.check_organization(verdict.token, organization)
        if refusal is not None:
            return refusal
    user = verdict.user

    async def auser():
        return user

    request.user, request.auth, request.auser = user, verdict.token, auser
    return None
