"""Async views: the request authenticator's `aauthenticate` runs nothing that waits on the network
or the database on the event loop (the first key set, an unknown kid's refetch, the user lookup, the
DPoP replay store), an async view gets a loaded user, and adrf's async views work with the DRF
authentication class as it is. The served proof, under uvicorn, is test_async_serving.py."""

import threading
import time

import pytest
from asgiref.sync import async_to_sync
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from auth0_jwt.authenticator import Authenticated, RequestAuthenticator, SimpleRequest
from auth0_jwt.replay import DatabaseReplayStore, RedisReplayStore
from auth0_jwt.runtime import get_dpop_verifier, get_token_verifier
from auth0_jwt.tests.dpop_support import make_proof, thumbprint
from auth0_jwt.users import DatabaseUserLoader
from conftest import public_jwk

pytestmark = [pytest.mark.django_db, pytest.mark.urls("auth0_jwt.tests.django_urls")]

URL = "http://testserver/django/async/private/"


@pytest.fixture(scope="session")
def client_key():
    return ec.generate_private_key(ec.SECP256R1())


def asgi_get(path: str, **options):
    """A GET through Django's ASGI handler (the async test client), from a sync test."""

    async def get():
        return await AsyncClient().get(path, **options)

    return async_to_sync(get)()


class Threads:
    """Where each step ran: the event loop's thread, and the threads of the blocking steps."""

    def __init__(self):
        self.loop = None
        self.steps: dict[str, list[int]] = {}

    def record(self, step: str) -> None:
        self.steps.setdefault(step, []).append(threading.get_ident())

    def off_the_loop(self, step: str) -> bool:
        return bool(self.steps.get(step)) and self.loop not in self.steps[step]


class RecordingUserLoader(DatabaseUserLoader):
    def __init__(self, threads):
        self.threads = threads

    def load(self, token):
        self.threads.record("user lookup")
        return super().load(token)


def recording(store_class, threads):
    class RecordingStore(store_class):
        def remember(self, key, expires_at):
            threads.record("replay store")
            return super().remember(key, expires_at)

    return RecordingStore


def authenticate_on_a_loop(authenticator, request, threads):
    """`aauthenticate(request)` on an event loop (in its own thread, as under an ASGI server)."""

    async def run():
        threads.loop = threading.get_ident()
        return await authenticator.aauthenticate(request)

    return async_to_sync(run)()


@pytest.fixture
def threads():
    recorded = Threads()
    get_token_verifier().key_store.add_listener(lambda key_set: recorded.record("jwks fetch"))
    return recorded


def bearer_request(token) -> SimpleRequest:
    return SimpleRequest("GET", URL, {"Authorization": f"Bearer {token}"})


def test_first_key_set_and_user_lookup_run_off_the_loop(threads, make_token):
    authenticator = RequestAuthenticator(
        token_verifier=get_token_verifier(),
        user_loader=RecordingUserLoader(threads),
        dpop_mode="off",
    )
    verdict = authenticate_on_a_loop(authenticator, bearer_request(make_token()), threads)
    assert isinstance(verdict, Authenticated), verdict
    assert verdict.user.username == "auth0.user-1"
    assert threads.off_the_loop("jwks fetch")
    assert threads.off_the_loop("user lookup")


def test_an_unknown_kids_refetch_runs_off_the_loop(
    threads, make_token, jwks_server, rsa_key, other_rsa_key
):
    authenticator = RequestAuthenticator(token_verifier=get_token_verifier(), dpop_mode="off")
    verdict = authenticate_on_a_loop(authenticator, bearer_request(make_token()), threads)
    assert isinstance(verdict, Authenticated)
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="key-2"))
    threads.steps.clear()
    token = make_token(key=other_rsa_key, kid="key-2")
    verdict = authenticate_on_a_loop(authenticator, bearer_request(token), threads)
    assert isinstance(verdict, Authenticated), verdict
    assert jwks_server.fetches == 2
    assert threads.off_the_loop("jwks fetch")


def test_a_known_kid_costs_no_fetch_and_no_thread(threads, make_token, jwks_server):
    authenticator = RequestAuthenticator(token_verifier=get_token_verifier(), dpop_mode="off")
    authenticate_on_a_loop(authenticator, bearer_request(make_token()), threads)
    token = make_token(sub="auth0|second")
    assert not get_token_verifier().may_fetch(token)  # so aauthenticate verifies it on the loop
    verdict = authenticate_on_a_loop(authenticator, bearer_request(token), threads)
    assert isinstance(verdict, Authenticated)
    assert jwks_server.fetches == 1


class StaleSinceLooked:
    """The process's token verifier, whose key set turns stale just after `may_fetch` looked: the
    race between that look and the verification on the event loop."""

    def __init__(self, verifier):
        self.verifier = verifier

    def may_fetch(self, raw_token):
        answer = self.verifier.may_fetch(raw_token)
        store = self.verifier.key_store  # its clock jumps a cache lifetime: a refresh is due
        store.clock = lambda: time.monotonic() + store.cache_lifetime
        return answer

    def verify(self, raw_token):
        return self.verifier.verify(raw_token)


@pytest.mark.parametrize("cached", [False, True], ids=["new token", "cached token"])
def test_a_key_set_turning_stale_after_the_look_is_fetched_off_the_loop(
    threads, make_token, jwks_server, cached
):
    verifier = get_token_verifier()
    authenticator = RequestAuthenticator(token_verifier=verifier, dpop_mode="off")
    token = make_token()
    assert isinstance(
        authenticate_on_a_loop(authenticator, bearer_request(token), threads), Authenticated
    )
    threads.steps.clear()
    clock = verifier.key_store.clock
    racing = RequestAuthenticator(token_verifier=StaleSinceLooked(verifier), dpop_mode="off")
    try:
        token = token if cached else make_token(sub="auth0|second")
        verdict = authenticate_on_a_loop(racing, bearer_request(token), threads)
    finally:
        verifier.key_store.clock = clock
    assert isinstance(verdict, Authenticated), verdict
    assert jwks_server.fetches == 2
    assert threads.off_the_loop("jwks fetch")


@pytest.mark.parametrize("backend", ["database", "redis"])
def test_the_dpop_replay_store_runs_off_the_loop(backend, threads, make_token, client_key, request):
    if backend == "redis":
        redis_server = request.getfixturevalue("redis_server")
        store = recording(RedisReplayStore, threads)(redis_server.url)
    else:
        store = recording(DatabaseReplayStore, threads)()
    authenticator = RequestAuthenticator(
        token_verifier=get_token_verifier(),
        dpop_verifier=get_dpop_verifier(),
        replay_store=store,
        user_loader=RecordingUserLoader(threads),
    )
    token = make_token(cnf={"jkt": thumbprint(client_key)})
    proof = make_proof(client_key, token=token, url=URL)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    verdict = authenticate_on_a_loop(authenticator, SimpleRequest("GET", URL, headers), threads)
    assert isinstance(verdict, Authenticated), verdict
    assert verdict.scheme == "DPoP"
    assert threads.off_the_loop("replay store")
    assert threads.off_the_loop("user lookup")
    replayed = authenticate_on_a_loop(authenticator, SimpleRequest("GET", URL, headers), threads)
    assert (replayed.status, replayed.code) == (401, "invalid_dpop_proof")


# --- What an async view receives ------------------------------------------------------------------


def test_an_async_view_gets_a_loaded_user_not_a_lazy_one(settings, make_token):
    # The session middleware puts a lazy user on every request; the decorator replaces it.
    settings.MIDDLEWARE = [
        "django.contrib.sessions.middleware.SessionMiddleware",
        "django.contrib.auth.middleware.AuthenticationMiddleware",
    ]
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    token = make_token(scope="openid")
    response = asgi_get("/django/async/whoami/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "method": "GET",
        "user_is_a_loaded_user": True,
        "username": "auth0.user-1",
        "user_from_auser": "auth0.user-1",
        "auth_is_the_verified_token": True,
        "sub": "auth0|user-1",
    }


def test_a_disabled_user_never_reaches_an_async_view(make_token):
    token = make_token(sub="auth0|gone")
    get = asgi_get
    assert (
        get("/django/async/whoami/", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    get_user_model().objects.filter(username="auth0.gone").update(is_active=False)
    response = get("/django/async/whoami/", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert response.json() == {"detail": "The user account of this token is disabled."}


# --- adrf -----------------------------------------------------------------------------------------


def test_adrf_async_views_use_the_drf_authentication_class_as_it_is(make_token):
    """adrf's async dispatch runs DRF's authentication and permissions in a worker thread
    (`sync_to_async(self.initial)`), so the sync `JSONWebTokenAuthentication` waits there, never on
    the loop; an `async def authenticate` would be called back through `async_to_sync` from that
    thread and gain nothing (test_django_views.py compares every adrf answer with DRF's)."""
    get = asgi_get
    response = get(
        "/adrf/private-scoped/",
        headers={"Authorization": f"Bearer {make_token(scope='read:messages')}"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["sub"] == "auth0|user-1"
    response = get("/adrf/private-scoped/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'
