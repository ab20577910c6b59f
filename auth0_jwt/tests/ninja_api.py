"""The test project's Django Ninja APIs (served by ninja_urls.py): the tutorial's private and
scoped endpoints, each as a sync and an async operation, protected by `Auth0Bearer` at each level
Ninja offers, with the same bodies as the DRF views of urls.py.

- `api` (/ninja/): auth on the operation (/ops/...) and on a router (/router/...,
  /router-scoped/...), and a public operation; `install(api)`.
- `whole_api` (/ninja-api/): auth on the NinjaAPI; and /whoami/, which says what
  `request.auth` and `request.user` are. `install(whole_api)`.
- `whole_scoped_api` (/ninja-api-scoped/): a scoped `Auth0Bearer` on the NinjaAPI.
- `bare_api` (/ninja-bare/): as `whole_scoped_api`, without `install()`: Ninja's own handlers.
"""

from ninja import NinjaAPI, Router

from auth0_jwt.ninja import Auth0Bearer, install

SCOPE = "read:messages"
PRIVATE_MESSAGE = "Hello from a private endpoint! You need to be authenticated to see this."
SCOPED_MESSAGE = (
    "Hello from a private endpoint! You need to be authenticated and have a scope of "
    "read:messages to see this."
)


def private(request):
    return {"message": PRIVATE_MESSAGE, "sub": request.auth.subject}


def scoped(request):
    return {"message": SCOPED_MESSAGE, "sub": request.auth.subject}


# --- Operation and router level -------------------------------------------------------------------

api = NinjaAPI(title="Operation and router auth", urls_namespace="auth0-jwt-ninja")
install(api)


@api.get("public/")
def public(request):
    return {"message": "Hello from a public endpoint! You don't need to be authenticated."}


@api.get("ops/private/", auth=Auth0Bearer())
def ops_private(request):
    return private(request)


@api.get("ops/private-async/", auth=Auth0Bearer())
async def ops_private_async(request):
    return private(request)


@api.get("ops/private-scoped/", auth=Auth0Bearer(scopes=[SCOPE]))
def ops_scoped(request):
    return scoped(request)


@api.get("ops/private-scoped-async/", auth=Auth0Bearer(scopes=[SCOPE]))
async def ops_scoped_async(request):
    return scoped(request)


router = Router(auth=Auth0Bearer())


@router.get("private/")
def router_private(request):
    return private(request)


@router.get("private-async/")
async def router_private_async(request):
    return private(request)


scoped_router = Router(auth=Auth0Bearer(scopes=[SCOPE]))


@scoped_router.get("private-scoped/")
def router_scoped(request):
    return scoped(request)


@scoped_router.get("private-scoped-async/")
async def router_scoped_async(request):
    return scoped(request)


api.add_router("router/", router)
api.add_router("router-scoped/", scoped_router)

# --- API level ------------------------------------------------------------------------------------

whole_api = NinjaAPI(title="API auth", auth=Auth0Bearer(), urls_namespace="auth0-jwt-ninja-whole")
install(whole_api)


@whole_api.get("private/")
def whole_private(request):
    return private(request)


@whole_api.get("private-async/")
async def whole_private_async(request):
    return private(request)


def identity(request):
    """What the operation sees: the classes of `request.auth` and `request.user`, and the user."""
    return {
        "auth": type(request.auth).__name__,
        "user": f"{type(request.user).__module__}.{type(request.user).__name__}",
        "username": request.user.username,
        "sub": request.auth.subject,
    }


@whole_api.get("whoami/")
def whoami(request):
    return identity(request)


@whole_api.get("whoami-async/")
async def whoami_async(request):
    return {**identity(request), "auser_is_user": await request.auser() is request.user}


whole_scoped_api = NinjaAPI(
    title="API auth with a scope",
    auth=Auth0Bearer(scopes=[SCOPE]),
    urls_namespace="auth0-jwt-ninja-whole-scoped",
)
install(whole_scoped_api)


@whole_scoped_api.get("private-scoped/")
def whole_scoped(request):
    return scoped(request)


@whole_scoped_api.get("private-scoped-async/")
async def whole_scoped_async(request):
    return scoped(request)


# --- Without install(): Ninja's own error handlers ------------------------------------------------

bare_api = NinjaAPI(
    title="Without install()",
    auth=Auth0Bearer(scopes=[SCOPE]),
    urls_namespace="auth0-jwt-ninja-bare",
)


@bare_api.get("private-scoped/")
def bare_scoped(request):
    return scoped(request)


@bare_api.get("private-scoped-async/")
async def bare_scoped_async(request):
    return scoped(request)
