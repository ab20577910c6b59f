"""The Django Ninja adapter (auth0_jwt.ninja) answers every request exactly as the DRF views do:
the same cases are sent to /api/private/ or /api/private-scoped/ (DRF) and to Ninja operations,
sync and async, protected on the operation, on a router and on the whole NinjaAPI, through the
test project's URLconf (ninja_urls.py; async operations through Django's ASGI test handler)."""

from dataclasses import dataclass

import pytest
from asgiref.sync import async_to_sync
from cryptography.hazmat.primitives.asymmetric import ec
from django.test import AsyncClient, Client

from auth0_jwt.ninja import Auth0Bearer
from auth0_jwt.replay import reset_replay_store
from auth0_jwt.runtime import build_dpop_verifier, reset_dpop_verifier
from auth0_jwt.tests.dpop_support import WallClock, make_proof, thumbprint
from auth0_jwt.tests.ninja_api import SCOPE, bare_api, whole_api
from auth0_jwt.users import get_or_create_user_for_subject

pytestmark = [pytest.mark.django_db, pytest.mark.urls("auth0_jwt.tests.ninja_urls")]

DRF = {"private": "/api/private/", "scoped": "/api/private-scoped/"}
ANSWER_HEADERS = ("WWW-Authenticate", "Retry-After", "DPoP-Nonce")
NOT_PROVIDED = "Authentication credentials were not provided."


@dataclass(frozen=True)
class Target:
    """Ninja operations: one that needs a token and one that needs the scope too."""

    name: str
    private: str
    scoped: str
    is_async: bool = False


TARGETS = [
    Target("operation-sync", "/ninja/ops/private/", "/ninja/ops/private-scoped/"),
    Target(
        "operation-async",
        "/ninja/ops/private-async/",
        "/ninja/ops/private-scoped-async/",
        is_async=True,
    ),
    Target("router-sync", "/ninja/router/private/", "/ninja/router-scoped/private-scoped/"),
    Target(
        "router-async",
        "/ninja/router/private-async/",
        "/ninja/router-scoped/private-scoped-async/",
        is_async=True,
    ),
    Target("api-sync", "/ninja-api/private/", "/ninja-api-scoped/private-scoped/"),
    Target(
        "api-async",
        "/ninja-api/private-async/",
        "/ninja-api-scoped/private-scoped-async/",
        is_async=True,
    ),
]


def get(path: str, *, is_async: bool = False, **options):
    """GET `path` through Django's test client, or its ASGI one for async operations."""
    if is_async:

        async def get_async():  # (Django 4.2's AsyncClient.get is not marked async)
            return await AsyncClient().get(path, **options)

        return async_to_sync(get_async)()
    return Client().get(path, **options)


class Sender:
    """Sends a case's request to one endpoint; `url` is what a DPoP proof names as `htu`."""

    def __init__(self, path: str, *, is_async: bool = False):
        self.path = path
        self.is_async = is_async
        self.url = "http://testserver" + path

    def __call__(self, *, headers=None, data=None):
        return get(self.path, is_async=self.is_async, headers=headers or {}, data=data)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def dpop(token: str, proof: str) -> dict:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


@pytest.fixture(scope="session")
def client_key():
    """The DPoP client's key pair."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(autouse=True)
def fresh_dpop_state():
    """Each test builds the DPoP verifier and the replay store from its own settings."""
    reset_dpop_verifier()
    reset_replay_store()
    yield
    reset_dpop_verifier()
    reset_replay_store()


@dataclass
class Env:
    """What the cases use: the token factory, the DPoP client's key, the JWKS server, settings."""

    make_token: object
    client_key: object
    jwks_server: object
    settings: object

    def bound_token(self, **claims) -> str:
        return self.make_token(cnf={"jkt": thumbprint(self.client_key)}, **claims)

    def proof(self, token: str, sender: Sender, **options) -> str:
        return make_proof(self.client_key, token=token, url=sender.url, **options)


@pytest.fixture
def env(make_token, client_key, jwks_server, settings):
    return Env(make_token, client_key, jwks_server, settings)


# --- The cases -----------------------------------------------------------------------------------

CASES = {}
HEADERS_BY_STATUS = {200: set(), 503: {"Retry-After"}}


@dataclass(frozen=True)
class Case:
    """A request (`send`), the DRF endpoint it goes to (`kind`), the status and the headers (of
    ANSWER_HEADERS) of the answer, and what to set up once before it is sent anywhere."""

    kind: str
    status: int
    headers: frozenset
    setup: object
    send: object


def case(kind: str, status: int, *, setup=None, headers=None):
    def register(send):
        expected = (
            HEADERS_BY_STATUS.get(status, {"WWW-Authenticate"}) if headers is None else headers
        )
        CASES[send.__name__] = Case(kind, status, frozenset(expected), setup, send)
        return send

    return register


def signing_keys_unavailable(env):
    env.jwks_server.status = 503  # the key store has fetched nothing yet in this test


def disabled_user(env):
    user = get_or_create_user_for_subject("auth0|user-1")
    user.is_active = False
    user.save()


def server_nonces(env):
    env.settings.AUTH0 = {**env.settings.AUTH0, "DPOP_NONCE": "on"}
    # One clock for both requests: the nonce of a time window is the same for both answers.
    reset_dpop_verifier(build_dpop_verifier(now=WallClock()))


@case("private", 401)
def no_token(env, send):
    return send()


@case("private", 401)
def other_scheme(env, send):
    return send(headers={"Authorization": "Basic dXNlcjpwYXNz"})


@case("private", 400)
def malformed_header(env, send):
    return send(headers={"Authorization": "Bearer two tokens"})


@case("private", 400)
def token_in_url(env, send):
    return send(data={"access_token": env.make_token()})


@case("private", 401)
def expired_token(env, send):
    return send(headers=bearer(env.make_token(iat=0, exp=1)))


@case("private", 401)
def other_audience(env, send):
    return send(headers=bearer(env.make_token(aud="https://other.example.test/")))


@case("scoped", 403)
def missing_scope(env, send):
    return send(headers=bearer(env.make_token(scope="write:messages")))


@case("private", 200)
def valid_token(env, send):
    return send(headers=bearer(env.make_token()))


@case("scoped", 200)
def valid_token_with_the_scope(env, send):
    return send(headers=bearer(env.make_token(permissions=[SCOPE])))


@case("scoped", 200)
def dpop_bound_token_with_a_proof(env, send):
    token = env.bound_token(scope=SCOPE)
    return send(headers=dpop(token, env.proof(token, send)))


@case("scoped", 403)
def dpop_bound_token_without_the_scope(env, send):
    token = env.bound_token(scope="openid")
    return send(headers=dpop(token, env.proof(token, send)))


@case("private", 401)
def dpop_bound_token_as_bearer(env, send):
    return send(headers=bearer(env.bound_token()))


@case("private", 401)
def dpop_replay(env, send):
    token = env.bound_token()
    headers = dpop(token, env.proof(token, send))
    assert send(headers=headers).status_code == 200
    return send(headers=headers)


@case("private", 401)
def dpop_proof_for_another_url(env, send):
    token = env.bound_token()
    proof = make_proof(env.client_key, token=token, url="http://testserver/elsewhere/")
    return send(headers=dpop(token, proof))


@case("private", 401, setup=server_nonces, headers={"WWW-Authenticate", "DPoP-Nonce"})
def dpop_proof_without_the_server_nonce(env, send):
    token = env.bound_token()
    return send(headers=dpop(token, env.proof(token, send)))


@case("private", 503, setup=signing_keys_unavailable)
def keys_not_loaded_yet(env, send):
    return send(headers=bearer(env.make_token()))


@case("private", 401, setup=disabled_user)
def user_disabled(env, send):
    return send(headers=bearer(env.make_token()))


def send_to_both(env, name: str, path: str, *, is_async: bool):
    """(DRF's answer, Ninja's answer) to the case `name`, the Ninja operation at `path`."""
    this = CASES[name]
    if this.setup is not None:
        this.setup(env)
    drf = this.send(env, Sender(DRF[this.kind]))
    return drf, this.send(env, Sender(path, is_async=is_async))


@pytest.mark.parametrize("target", TARGETS, ids=[target.name for target in TARGETS])
@pytest.mark.parametrize("name", list(CASES))
def test_ninja_answers_exactly_as_drf(name, target, env):
    this = CASES[name]
    path = target.scoped if this.kind == "scoped" else target.private
    drf, ninja = send_to_both(env, name, path, is_async=target.is_async)
    assert drf.status_code == ninja.status_code == this.status, (drf.content, ninja.content)
    assert ninja.json() == drf.json()
    assert {header for header in ANSWER_HEADERS if drf.has_header(header)} == this.headers
    for header in ANSWER_HEADERS:
        assert ninja.get(header) == drf.get(header), header
    if this.status != 200:
        assert ninja["Content-Type"] == drf["Content-Type"] == "application/json"
        assert ninja.content == drf.content  # byte for byte: compact JSON, as DRF writes it


def test_some_answers_in_full(env):
    """Two answers spelled out, so the comparison is anchored to the documented ones."""
    response = get("/ninja/ops/private-scoped-async/", is_async=True)
    assert response.status_code == 401
    assert response.json() == {"detail": NOT_PROVIDED}
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'
    token = env.make_token(scope="openid")
    response = get("/ninja/router-scoped/private-scoped/", headers=bearer(token))
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The access token lacks the scope this endpoint needs: read:messages."
    }
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )


# --- request.auth and request.user ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path, is_async", [("/ninja-api/whoami/", False), ("/ninja-api/whoami-async/", True)]
)
def test_request_auth_is_the_verified_token_and_request_user_the_loaded_user(
    path, is_async, make_token
):
    response = get(path, is_async=is_async, headers=bearer(make_token(sub="auth0|whoami")))
    assert response.status_code == 200, response.content
    expected = {
        "auth": "VerifiedToken",
        "user": "django.contrib.auth.models.User",  # the user itself, not a lazy object
        "username": "auth0.whoami",
        "sub": "auth0|whoami",
    }
    if is_async:
        expected["auser_is_user"] = True
    assert response.json() == expected


def test_async_operations_load_the_user_off_the_event_loop(make_token):
    """Django refuses ORM queries on the event loop (SynchronousOnlyOperation): a new user,
    created just in time by an async operation, shows the lookup ran in a thread."""
    token = make_token(sub="auth0|created-by-async")
    response = get("/ninja/ops/private-async/", is_async=True, headers=bearer(token))
    assert response.status_code == 200, response.content
    assert get_or_create_user_for_subject("auth0|created-by-async").username == (
        "auth0.created-by-async"
    )


# --- Without install(api): Ninja's own handler ----------------------------------------------------


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "name",
    ["no_token", "malformed_header", "expired_token", "missing_scope", "keys_not_loaded_yet"],
)
def test_without_install_the_status_and_body_are_drfs_without_the_headers(name, is_async, env):
    path = "/ninja-bare/private-scoped-async/" if is_async else "/ninja-bare/private-scoped/"
    drf, ninja = send_to_both(env, name, path, is_async=is_async)
    assert drf.status_code == ninja.status_code == CASES[name].status
    assert ninja.json() == drf.json()
    assert ninja["Content-Type"] == "application/json; charset=utf-8"  # Ninja's renderer
    for header in ANSWER_HEADERS:
        assert drf.has_header(header) == (header in CASES[name].headers)
        assert not ninja.has_header(header), header


def test_without_install_a_valid_token_passes(env):
    token = env.make_token(scope=SCOPE)
    assert get("/ninja-bare/private-scoped/", headers=bearer(token)).status_code == 200
    response = get("/ninja-bare/private-scoped-async/", is_async=True, headers=bearer(token))
    assert response.status_code == 200


# --- OpenAPI --------------------------------------------------------------------------------------

SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": Auth0Bearer.openapi_description,
}


def operation_security(schema) -> dict:
    """{path: the GET operation's security requirement, or None}."""
    return {path: item["get"].get("security") for path, item in schema["paths"].items()}


def test_openapi_has_the_security_scheme_and_each_operations_scopes():
    from auth0_jwt.tests.ninja_api import api, whole_scoped_api

    schema = api.get_openapi_schema()
    assert schema["components"]["securitySchemes"] == {"Auth0Bearer": SECURITY_SCHEME}
    none, scoped = [{"Auth0Bearer": []}], [{"Auth0Bearer": [SCOPE]}]
    assert operation_security(schema) == {
        "/ninja/public/": None,
        "/ninja/ops/private/": none,
        "/ninja/ops/private-async/": none,
        "/ninja/ops/private-scoped/": scoped,
        "/ninja/ops/private-scoped-async/": scoped,
        "/ninja/router/private/": none,
        "/ninja/router/private-async/": none,
        "/ninja/router-scoped/private-scoped/": scoped,
        "/ninja/router-scoped/private-scoped-async/": scoped,
    }
    assert operation_security(whole_scoped_api.get_openapi_schema()) == {
        "/ninja-api-scoped/private-scoped/": scoped,
        "/ninja-api-scoped/private-scoped-async/": scoped,
    }
    assert operation_security(whole_api.get_openapi_schema()) == {
        "/ninja-api/private/": none,
        "/ninja-api/private-async/": none,
        "/ninja-api/whoami/": none,
        "/ninja-api/whoami-async/": none,
    }


def test_the_served_openapi_document_has_the_scopes():
    response = Client().get("/ninja-api-scoped/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert paths["/ninja-api-scoped/private-scoped/"]["get"]["security"] == [
        {"Auth0Bearer": [SCOPE]}
    ]


def test_without_install_openapi_has_the_scheme_but_ninja_lists_no_scopes():
    schema = bare_api.get_openapi_schema()
    assert schema["components"]["securitySchemes"] == {"Auth0Bearer": SECURITY_SCHEME}
    assert schema["paths"]["/ninja-bare/private-scoped/"]["get"]["security"] == [
        {"Auth0Bearer": []}
    ]


def test_scopes_are_a_list_of_names():
    with pytest.raises(TypeError, match="scopes is a list of scope names"):
        Auth0Bearer(scopes="read:messages")
    assert Auth0Bearer(scopes=("a", "b")).scopes == ("a", "b")
