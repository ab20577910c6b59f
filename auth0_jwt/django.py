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

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar, cast, overload

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.views import View

from auth0_jwt.authenticator import AuthError, organization_allow_list, scopes_for_method
from auth0_jwt.runtime import DjangoRequest, get_request_authenticator

if TYPE_CHECKING:
    from auth0_jwt.authenticator import Authenticated, RequestAuthenticator

    # For the type checker, the mixin is the View it goes before.
    _MixedIntoView = View
else:
    _MixedIntoView = object

# A view's scopes: names (one name alone counts as one), or names per HTTP method.
Scopes = str | Iterable[str] | Mapping[str, str | Iterable[str]]
# An Auth0 organization id (`org_...`) or name, or a list of them.
Organizations = str | Iterable[str]
ViewFunction = TypeVar("ViewFunction", bound=Callable[..., Any])

__all__ = ["Auth0TokenRequiredMixin", "error_response", "requires_auth"]

# DRF's JSONRenderer writes compact JSON and keeps non-ASCII characters: the same bytes here.
DRF_JSON = {"separators": (",", ":"), "ensure_ascii": False}


def error_response(error: AuthError) -> JsonResponse:
    """The answer to a refused request, as DRF (with auth0_jwt's exception handler) gives it."""
    return JsonResponse(
        error.body, status=error.status, headers=error.headers, json_dumps_params=DRF_JSON
    )


@overload
def requires_auth(
    view: ViewFunction, *, scopes: Scopes | None = (), organization: Organizations | None = None
) -> ViewFunction: ...


@overload
def requires_auth(
    view: None = None, *, scopes: Scopes | None = (), organization: Organizations | None = None
) -> Callable[[ViewFunction], ViewFunction]: ...


def requires_auth(
    view: ViewFunction | None = None,
    *,
    scopes: Scopes | None = (),
    organization: Organizations | None = None,
) -> ViewFunction | Callable[[ViewFunction], ViewFunction]:
    """Require a valid access token holding `scopes` (a list, or a dict per HTTP method) on a
    function view, sync or async; `@requires_auth` alone requires no scope. With `organization`
    (an Auth0 organization id `org_...` or name, or a list of them), the token must act for it."""
    if view is not None and not callable(view):
        raise TypeError("requires_auth takes the scopes by keyword: @requires_auth(scopes=[...])")
    required: Scopes = () if scopes is None else scopes
    scopes_for_method(required, "GET")  # a value that is not scopes fails here, not on a request
    if organization:
        organization_allow_list(organization)  # likewise for the organization

    def decorate(view: ViewFunction) -> ViewFunction:
        wrapper: Callable[..., Any]
        if iscoroutinefunction(view):

            @wraps(view)
            async def async_wrapper(
                request: HttpRequest, *args: Any, **kwargs: Any
            ) -> HttpResponseBase:
                authenticator = get_request_authenticator()
                verdict = await authenticator.aauthenticate(DjangoRequest(request))
                refusal = _admit(request, authenticator, verdict, required, organization)
                if refusal is not None:
                    return error_response(refusal)
                response: HttpResponseBase = await view(request, *args, **kwargs)
                return response

            wrapper = async_wrapper
        else:

            @wraps(view)
            def sync_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
                authenticator = get_request_authenticator()
                verdict = authenticator.authenticate(DjangoRequest(request))
                refusal = _admit(request, authenticator, verdict, required, organization)
                if refusal is not None:
                    return error_response(refusal)
                response: HttpResponseBase = view(request, *args, **kwargs)
                return response

            wrapper = sync_wrapper
        # Django's marker, as its csrf_exempt sets it (which on Django 4.2 loses async views).
        wrapper.csrf_exempt = True  # type: ignore[union-attr]
        # The view, wrapped (`functools.wraps`), taking the same arguments.
        return cast(ViewFunction, wrapper)

    return decorate if view is None else decorate(view)


class Auth0TokenRequiredMixin(_MixedIntoView):
    """For class-based views, before `View` (or its subclass) among the bases: every method
    requires a valid token holding `required_scopes` (a list, or a dict per HTTP method) and, with
    `required_organization` (an Auth0 organization id or name, or a list), acting for it."""

    required_scopes: Scopes = ()
    required_organization: Organizations | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        mro = cls.__mro__
        if View in mro and mro.index(View) < mro.index(Auth0TokenRequiredMixin):
            # Behind View, View.dispatch would serve every request unauthenticated.
            raise TypeError(f"{cls.__name__}: put Auth0TokenRequiredMixin before View in its bases")

    @classmethod
    def as_view(cls, **initkwargs: Any) -> Callable[..., HttpResponseBase]:
        view = super().as_view(**initkwargs)
        view.csrf_exempt = True  # type: ignore[attr-defined]  # Django's marker, as on APIView
        return view

    # For an async view, a coroutine of the response, as View.dispatch answers (django-stubs
    # declares the response only).
    def dispatch(  # type: ignore[override]
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponseBase | Awaitable[HttpResponseBase]:
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

    async def _adispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        authenticator = get_request_authenticator()
        verdict = await authenticator.aauthenticate(DjangoRequest(request))
        refusal = _admit(
            request, authenticator, verdict, self.required_scopes, self.required_organization
        )
        if refusal is not None:
            return error_response(refusal)
        # View.dispatch of an async view returns a coroutine (django-stubs declares the response).
        response = cast(Awaitable[HttpResponseBase], super().dispatch(request, *args, **kwargs))
        return await response


def _admit(
    request: HttpRequest,
    authenticator: RequestAuthenticator,
    verdict: Authenticated | AuthError | None,
    scopes: Scopes,
    organization: Organizations | None = None,
) -> AuthError | None:
    """The refusal of the authenticator's verdict, the `scopes` for the request's method and the
    `organization`; on a pass, the request's user and token set."""
    if verdict is None:
        return authenticator.not_authenticated()
    if isinstance(verdict, AuthError):
        return verdict
    assert request.method is not None  # Django's handlers always set it
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

    async def auser() -> Any:
        return user

    request.user = user
    request.auth = verdict.token  # type: ignore[attr-defined]  # as DRF's request.auth
    request.auser = auser  # this request's user, loaded
    return None
