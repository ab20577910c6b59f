"""Plain Django views (auth0_jwt.django): `requires_auth` on sync and async function views, on
class-based views through `method_decorator` and through `Auth0TokenRequiredMixin`; every answer
byte for byte the DRF view's; `request.user` and `request.auth`; no CSRF token needed."""

import socket
import time

import pytest
from asgiref.sync import async_to_sync
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.test import AsyncClient, Client

from auth0_jwt.django import requires_auth
from auth0_jwt.replay import reset_replay_store
from auth0_jwt.runtime import (
    build_dpop_verifier,
    build_token_verifier,
    reset_dpop_verifier,
    reset_token_verifier,
)
from auth0_jwt.tests.dpop_support import WallClock, make_proof, thumbprint
from auth0_jwt.users import get_or_create_user_for_subject

pytestmark = [pytest.mark.django_db, pytest.mark.urls("auth0_jwt.tests.django_urls")]

SCOPE = "read:messages"
# The headers an answer of the authentication layer may carry; all compared, absent ones too.
COMPARED_HEADERS = (
    "Content-Type",
    "Content-Length",
    "WWW-Authenticate",
    "Retry-After",
    "DPoP-Nonce",
)

# Each endpoint requires a valid token with read:messages on GET; (path, async client?).
DRF = ("/api/private-scoped/", False)
TARGETS = {
    "sync function view": ("/django/private-scoped/", False),
    "async function view": ("/django/async/private-scoped/", True),
    "sync view, served by ASGI": ("/django/private-scoped/", True),
    "class-based view, method_decorator": ("/django/cbv/decorated/", False),
    "class-based view, mixin": ("/django/cbv/mixin/", False),
    "async class-based view, mixin": ("/django/async/cbv/mixin/", True),
    "adrf async view": ("/adrf/private-scoped/", True),
}
# The targets whose 200 body is the DRF view's (the class-based views show what they received).
SAME_BODY = {"sync function view", "async function view", "sync view, served by ASGI"}


@pytest.fixture(scope="session")
def client_key():
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(autouse=True)
def fresh_dpop_state():
    reset_dpop_verifier()
    reset_replay_store()
    yield
    reset_dpop_verifier()
    reset_replay_store()


def asgi_get(path: str, **options):
    """A GET through Django's ASGI handler (the async test client), from a sync test."""

    async def get():
        return await AsyncClient().get(path, **options)

    return async_to_sync(get)()


class Sender:
    """Sends a GET to one endpoint, through the WSGI test client or the ASGI one."""

    def __init__(self, path: str, use_asgi: bool):
        self.path = path
        self.url = "http://testserver" + path
        self.use_asgi = use_asgi

    def get(self, query: str = "", **headers):
        if self.use_asgi:
            return asgi_get(self.path + query, headers=headers)
        return Client().get(self.path + query, headers=headers)


def answer(response) -> tuple:
    """What the authentication layer decides of an answer: status, body bytes, headers."""
    return (
        response.status_code,
        response.content,
        {name: response.get(name) for name in COMPARED_HEADERS},
    )


# --- The cases: each sends one (or two) requests to an endpoint and returns the last answer ------


def dpop_headers(token, proof) -> dict:
    return {"Authorization": f"DPoP {token}", "DPoP": proof}


def no_token(env, send):
    return send.get()


def basic_credentials(env, send):
    return send.get(Authorization="Basic dXNlcjpwYXNz")


def malformed_header(env, send):
    return send.get(Authorization="Bearer two tokens")


def empty_bearer(env, send):
    return send.get(Authorization="Bearer")


def token_in_url(env, send):
    return send.get(f"?access_token={env.make_token(scope=SCOPE)}")


def expired_token(env, send):
    now = int(time.time())
    return send.get(
        Authorization=f"Bearer {env.make_token(scope=SCOPE, iat=now - 7200, exp=now - 3600)}"
    )


def other_audience(env, send):
    token = env.make_token(scope=SCOPE, aud="https://other.example.test/")
    return send.get(Authorization=f"Bearer {token}")


def other_issuer(env, send):
    token = env.make_token(scope=SCOPE, iss="https://evil.example.test/")
    return send.get(Authorization=f"Bearer {token}")


def missing_scope(env, send):
    return send.get(Authorization=f"Bearer {env.make_token(scope='openid')}")


def valid_token(env, send):
    return send.get(Authorization=f"Bearer {env.make_token(scope='openid read:messages')}")


def rbac_permission(env, send):
    return send.get(Authorization=f"Bearer {env.make_token(permissions=[SCOPE])}")


def bound_token_as_bearer(env, send):
    return send.get(Authorization=f"Bearer {env.bound_token()}")


def dpop_with_proof(env, send):
    token = env.bound_token()
    return send.get(**dpop_headers(token, make_proof(env.client_key, token=token, url=send.url)))


def dpop_without_proof(env, send):
    return send.get(Authorization=f"DPoP {env.bound_token()}")


def dpop_missing_scope(env, send):
    token = env.bound_token(scope="openid")
    return send.get(**dpop_headers(token, make_proof(env.client_key, token=token, url=send.url)))


def dpop_replay(env, send):
    token = env.bound_token()
    proof = make_proof(env.client_key, token=token, url=send.url)
    assert send.get(**dpop_headers(token, proof)).status_code == 200
    return send.get(**dpop_headers(token, proof))


def dpop_nonce_required(env, send):
    env.configure(DPOP_NONCE="on")
    reset_dpop_verifier(build_dpop_verifier(now=env.wall_clock))
    token = env.bound_token()
    return send.get(**dpop_headers(token, make_proof(env.client_key, token=token, url=send.url)))


def dpop_required_but_bearer(env, send):
    env.configure(DPOP="required")
    return send.get(Authorization=f"Bearer {env.make_token(scope=SCOPE)}")


def replay_store_down(env, send):
    env.configure(REDIS_URL=f"redis://127.0.0.1:{env.closed_port}/0")
    token = env.bound_token()
    return send.get(**dpop_headers(token, make_proof(env.client_key, token=token, url=send.url)))


def keys_not_loaded(env, send):
    env.jwks_server.status = 500
    return send.get(Authorization=f"Bearer {env.make_token(scope=SCOPE)}")


def disabled_user(env, send):
    user = get_or_create_user_for_subject("auth0|disabled")
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    return send.get(Authorization=f"Bearer {env.make_token(scope=SCOPE, sub='auth0|disabled')}")


# Each case and the status DRF answers it with.
CASES = [
    (no_token, 401),
    (basic_credentials, 401),
    (malformed_header, 400),
    (empty_bearer, 400),
    (token_in_url, 400),
    (expired_token, 401),
    (other_audience, 401),
    (other_issuer, 401),
    (missing_scope, 403),
    (valid_token, 200),
    (rbac_permission, 200),
    (bound_token_as_bearer, 401),
    (dpop_with_proof, 200),
    (dpop_without_proof, 400),
    (dpop_missing_scope, 403),
    (dpop_replay, 401),
    (dpop_nonce_required, 401),
    (dpop_required_but_bearer, 401),
    (replay_store_down, 503),
    (keys_not_loaded, 503),
    (disabled_user, 401),
]


class Environment:
    """What the cases need: fixtures, and a way to change the AUTH0 setting."""

    def __init__(self, settings, make_token, client_key, jwks_server):
        self.settings = settings
        self.make_token = make_token
        self.client_key = client_key
        self.jwks_server = jwks_server
        self.wall_clock = WallClock()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.closed_port = probe.getsockname()[1]

    def bound_token(self, scope=SCOPE):
        return self.make_token(scope=scope, cnf={"jkt": thumbprint(self.client_key)})

    def configure(self, **auth0):
        self.settings.AUTH0 = {**self.settings.AUTH0, **auth0}


@pytest.mark.parametrize(("case", "status"), CASES, ids=[case.__name__ for case, _ in CASES])
def test_every_plain_view_answers_as_the_drf_view(
    case, status, settings, make_token, client_key, jwks_server
):
    env = Environment(settings, make_token, client_key, jwks_server)
    expected = case(env, Sender(*DRF))
    assert expected.status_code == status, expected.content
    assert expected["Content-Type"] == "application/json"
    for name, (path, use_asgi) in TARGETS.items():
        response = case(env, Sender(path, use_asgi))
        if expected.status_code == 200:
            assert response.status_code == 200, (name, response.content)
            assert response.json()["sub"] == expected.json()["sub"], name
            assert response["Content-Type"] == "application/json", name
            assert "WWW-Authenticate" not in response, name
            if name in SAME_BODY:
                assert response.json() == expected.json(), name
        else:
            assert answer(response) == answer(expected), name


def test_the_drf_answers_compared_are_the_documented_ones(make_token, jwks_server):
    """The side-by-side test above compares with these (DRF's own tests pin every case)."""
    send = Sender(*TARGETS["async function view"])
    response = send.get()
    assert answer(response) == (
        401,
        b'{"detail":"Authentication credentials were not provided."}',
        {
            "Content-Type": "application/json",
            "Content-Length": "58",
            "WWW-Authenticate": 'Bearer realm="api", DPoP algs="ES256"',
            "Retry-After": None,
            "DPoP-Nonce": None,
        },
    )
    token = make_token(scope="openid", aud="https://other.example.test/")
    response = send.get(Authorization=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json() == {"detail": "The token's audience is not this API."}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", '
        'error_description="The token\'s audience is not this API."'
    )
    response = send.get(Authorization=f"Bearer {make_token(scope='openid')}")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "The access token lacks the scope this endpoint needs: read:messages."
    }
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )
    jwks_server.status = 500
    reset_token_verifier(build_token_verifier())  # no keys loaded yet, and none to be had
    response = send.get(Authorization=f"Bearer {make_token(scope=SCOPE)}")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json()["detail"].startswith("Tokens cannot be verified right now")


# --- What the view receives -----------------------------------------------------------------------


def test_the_view_gets_the_tokens_user_and_the_verified_token(make_token):
    response = Client().get(
        "/django/messages/", headers={"Authorization": f"Bearer {make_token(scope=SCOPE)}"}
    )
    assert response.status_code == 200, response.content
    assert response.json() == {
        "method": "GET",
        "user_is_a_loaded_user": True,
        "username": "auth0.user-1",
        "user_from_auser": None,
        "auth_is_the_verified_token": True,
        "sub": "auth0|user-1",
    }


def test_the_user_comes_from_the_token_never_from_the_session(settings, make_token):
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    client = Client()
    client.force_login(get_user_model().objects.create_user("alice"))
    response = client.get("/django/cbv/mixin/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    response = client.get(
        "/django/cbv/mixin/", headers={"Authorization": f"Bearer {make_token(scope=SCOPE)}"}
    )
    assert (response.status_code, response.json()["username"]) == (200, "auth0.user-1")


@pytest.mark.parametrize(
    "path", ["/django/messages/", "/django/cbv/mixin/", "/django/async/cbv/mixin/"]
)
def test_scopes_per_method(path, make_token):
    reader = {"Authorization": f"Bearer {make_token(scope='read:messages')}"}
    writer = {"Authorization": f"Bearer {make_token(scope='write:messages')}"}
    client = Client()
    assert client.get(path, headers=reader).status_code == 200
    assert client.get(path, headers=writer).status_code == 403
    response = client.post(path, headers=reader)
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="write:messages"'
    )
    response = client.post(path, headers=writer)
    assert (response.status_code, response.json()["method"]) == (200, "POST")


def test_a_method_the_view_does_not_handle_is_405_only_with_a_token(make_token):
    client = Client()
    assert client.delete("/django/cbv/mixin/").status_code == 401
    token = {"Authorization": f"Bearer {make_token(scope=SCOPE)}"}
    assert client.delete("/django/cbv/mixin/", headers=token).status_code == 405


# --- CSRF -----------------------------------------------------------------------------------------


@pytest.fixture
def csrf_checked(settings):
    settings.MIDDLEWARE = ["django.middleware.csrf.CsrfViewMiddleware"]
    return Client(enforce_csrf_checks=True)


@pytest.mark.parametrize(
    "path",
    [
        "/django/messages/",
        "/django/cbv/decorated/",
        "/django/cbv/mixin/",
        "/django/async/cbv/mixin/",
    ],
)
def test_a_token_request_needs_no_csrf_token(csrf_checked, make_token, path):
    token = make_token(scope="read:messages write:messages")
    response = csrf_checked.post(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response.json()["method"] == "POST"


def test_csrf_is_checked_where_no_token_is_required(csrf_checked):
    assert csrf_checked.post("/django/unprotected-post/").status_code == 403


# --- The decorator itself -------------------------------------------------------------------------


def test_the_decorator_keeps_the_views_name_and_kind():
    from asgiref.sync import iscoroutinefunction

    from auth0_jwt.tests import django_views

    assert django_views.aprivate.__name__ == "aprivate"
    assert iscoroutinefunction(django_views.aprivate)
    assert not iscoroutinefunction(django_views.private)
    assert django_views.private.csrf_exempt is True
    assert django_views.AsyncMixinMessagesView.as_view().csrf_exempt is True


def test_scopes_are_given_by_keyword():
    with pytest.raises(TypeError, match=r"@requires_auth\(scopes=\[...\]\)"):
        requires_auth("read:messages")


def test_scopes_that_are_not_scopes_fail_at_decoration():
    with pytest.raises(TypeError):
        requires_auth(scopes=5)


def test_the_mixin_behind_view_would_serve_unauthenticated_so_it_is_refused():
    from django.views import View

    from auth0_jwt.django import Auth0TokenRequiredMixin

    with pytest.raises(TypeError, match="put Auth0TokenRequiredMixin before View in its bases"):

        class Unprotected(View, Auth0TokenRequiredMixin):
            pass
