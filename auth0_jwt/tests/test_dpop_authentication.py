"""The authentication class with DPoP (RFC 9449): the modes, the answers and their challenges, the
key binding, the replay store (database and Redis) and its outage, the URL behind a proxy."""

import socket

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from auth0_jwt.replay import DatabaseReplayStore, RedisReplayStore, reset_replay_store
from auth0_jwt.runtime import build_dpop_verifier, reset_dpop_verifier
from auth0_jwt.tests.dpop_support import (
    BOTH_CHALLENGES,
    DPOP_CHALLENGE,
    PRIVATE_URL,
    assert_dpop_accepted,
    assert_invalid_dpop_request,
    assert_invalid_dpop_token,
    assert_invalid_proof,
    make_proof,
    thumbprint,
)
from conftest import bearer

PRIVATE = "/api/private/"
SCOPED = "/api/private-scoped/"
REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."
REPLAY_CACHE_DOWN = (
    "DPoP proofs cannot be checked right now: the replay cache is unavailable. Try again shortly."
)

pytestmark = pytest.mark.django_db


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


@pytest.fixture
def dpop_mode(settings):
    def apply(mode, **extra):
        settings.AUTH0 = {**settings.AUTH0, "DPOP": mode, **extra}

    return apply


@pytest.fixture
def bound_token(make_token, client_key):
    """A token bound to the client's key (cnf.jkt), with the scope the scoped endpoint needs."""
    return make_token(scope="read:messages", cnf={"jkt": thumbprint(client_key)})


def dpop(token, proof) -> dict:
    return {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": proof}


def test_bound_token_with_a_fresh_proof_is_accepted(api_client, bound_token, client_key):
    proof = make_proof(client_key, token=bound_token)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof)))


def test_scheme_name_is_case_insensitive_and_http_whitespace_is_allowed(
    api_client, bound_token, client_key
):
    proof = make_proof(client_key, token=bound_token)
    response = api_client.get(
        PRIVATE, HTTP_AUTHORIZATION=f"dpop \t{bound_token} ", HTTP_DPOP=f" {proof}\t"
    )
    assert_dpop_accepted(response)


def test_every_method_needs_its_own_htm(api_client, bound_token, client_key):
    proof = make_proof(client_key, token=bound_token, method="POST")
    response = api_client.get(PRIVATE, **dpop(bound_token, proof))
    assert_invalid_proof(response, "The DPoP proof's htm claim does not match the request method.")


def test_replayed_proof_is_refused(api_client, bound_token, client_key):
    proof = make_proof(client_key, token=bound_token)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof)))
    assert_invalid_proof(api_client.get(PRIVATE, **dpop(bound_token, proof)), REPLAYED)


def test_replays_are_refused_through_redis_too(
    api_client, bound_token, client_key, dpop_mode, redis_server
):
    dpop_mode("allowed", REDIS_URL=redis_server.url)
    proof = make_proof(client_key, token=bound_token)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof)))
    assert_invalid_proof(api_client.get(PRIVATE, **dpop(bound_token, proof)), REPLAYED)
    assert_dpop_accepted(
        api_client.get(PRIVATE, **dpop(bound_token, make_proof(client_key, token=bound_token)))
    )


def test_unreachable_redis_is_a_503_for_dpop_and_nothing_for_bearer(
    api_client, bound_token, client_key, dpop_mode, make_token
):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    dpop_mode("allowed", REDIS_URL=f"redis://127.0.0.1:{port}/0")
    proof = make_proof(client_key, token=bound_token)
    response = api_client.get(PRIVATE, **dpop(bound_token, proof))
    assert response.status_code == 503
    assert response.json() == {"detail": REPLAY_CACHE_DOWN}
    assert response["Retry-After"] == "5"
    assert "WWW-Authenticate" not in response
    assert api_client.get(PRIVATE, **bearer(make_token())).status_code == 200


def test_database_replay_store_failure_is_a_503(api_client, bound_token, client_key):
    class BrokenDatabase(DatabaseReplayStore):
        def _execute(self, template, parameters):
            from auth0_jwt.replay import ReplayStoreUnavailable

            raise ReplayStoreUnavailable("the database did not answer (OperationalError)")

    reset_replay_store(BrokenDatabase())
    response = api_client.get(
        PRIVATE, **dpop(bound_token, make_proof(client_key, token=bound_token))
    )
    assert response.status_code == 503
    assert response.json() == {"detail": REPLAY_CACHE_DOWN}


def test_bound_token_as_bearer_is_refused_in_every_mode(api_client, bound_token, dpop_mode):
    detail = "The token is bound to a DPoP key (cnf claim), so it cannot be used as a Bearer token."
    for mode in ("off", "allowed"):
        dpop_mode(mode)
        response = api_client.get(PRIVATE, **bearer(bound_token))
        assert response.status_code == 401
        assert response.json() == {"detail": detail}
        assert response["WWW-Authenticate"] == (
            f'Bearer realm="api", error="invalid_token", error_description="{detail}"'
        )


def test_required_mode_refuses_bearer_with_the_dpop_challenge(api_client, make_token, dpop_mode):
    dpop_mode("required")
    response = api_client.get(PRIVATE, **bearer(make_token()))
    assert_invalid_dpop_token(
        response,
        "This API accepts DPoP-bound tokens only: send Authorization: DPoP <token> with a DPoP "
        "proof.",
    )


def test_required_mode_accepts_dpop(api_client, bound_token, client_key, dpop_mode):
    dpop_mode("required")
    proof = make_proof(client_key, token=bound_token)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof)))


@pytest.mark.parametrize(
    ("mode", "challenge"),
    [("off", 'Bearer realm="api"'), ("allowed", BOTH_CHALLENGES), ("required", DPOP_CHALLENGE)],
)
def test_no_credentials_offers_the_schemes_of_the_mode(api_client, dpop_mode, mode, challenge):
    dpop_mode(mode)
    response = api_client.get(PRIVATE)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == challenge


def test_off_mode_does_not_read_the_dpop_scheme(api_client, bound_token, client_key, dpop_mode):
    dpop_mode("off")
    response = api_client.get(
        PRIVATE, **dpop(bound_token, make_proof(client_key, token=bound_token))
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_challenge_lists_the_configured_algorithms(api_client, dpop_mode, make_token):
    dpop_mode("required", DPOP_ALGORITHMS="ES256 PS256")
    assert api_client.get(PRIVATE)["WWW-Authenticate"] == 'DPoP algs="ES256 PS256"'


def test_missing_scope_under_dpop_is_a_403_with_the_dpop_challenge(
    api_client, make_token, client_key
):
    token = make_token(scope="openid", cnf={"jkt": thumbprint(client_key)})
    proof = make_proof(client_key, token=token, url="http://testserver/api/private-scoped/")
    response = api_client.get(SCOPED, **dpop(token, proof))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'DPoP algs="ES256", error="insufficient_scope", scope="read:messages"'
    )


def test_no_dpop_header_is_a_400(api_client, bound_token):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"DPoP {bound_token}")
    assert_invalid_dpop_request(
        response, "A DPoP request needs exactly one DPoP header holding a proof."
    )


def test_token_without_cnf_under_dpop_is_invalid_token(api_client, make_token, client_key):
    token = make_token()
    response = api_client.get(PRIVATE, **dpop(token, make_proof(client_key, token=token)))
    assert_invalid_dpop_token(
        response,
        "The token is not bound to a key (no cnf.jkt claim), so it cannot be used with DPoP.",
    )


def test_expired_token_under_dpop_is_invalid_token_with_the_dpop_challenge(
    api_client, make_token, client_key
):
    token = make_token(exp=1, iat=0, cnf={"jkt": thumbprint(client_key)})
    response = api_client.get(PRIVATE, **dpop(token, make_proof(client_key, token=token)))
    assert_invalid_dpop_token(response, "The token has expired.")


def test_proof_clock_is_the_injected_one(api_client, bound_token, client_key):
    from auth0_jwt.tests.dpop_support import WallClock

    clock = WallClock(2_000_000_000)
    reset_dpop_verifier(build_dpop_verifier(now=clock))
    proof = make_proof(client_key, token=bound_token, now=clock.now - 300)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof)))
    clock.advance(1)
    stale = make_proof(client_key, token=bound_token, now=clock.now - 301)
    assert_invalid_proof(
        api_client.get(PRIVATE, **dpop(bound_token, stale)),
        "The DPoP proof is too old: its iat is more than 300 seconds ago.",
    )


def test_htu_is_the_url_behind_the_documented_proxy_settings(
    api_client, settings, bound_token, client_key
):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.USE_X_FORWARDED_HOST = True
    settings.ALLOWED_HOSTS = ["api.example.test"]
    proxied = {"HTTP_X_FORWARDED_PROTO": "https", "HTTP_X_FORWARDED_HOST": "api.example.test"}
    public_url = "https://api.example.test/api/private/"
    proof = make_proof(client_key, token=bound_token, url=public_url)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof), **proxied))
    inner = make_proof(client_key, token=bound_token, url=PRIVATE_URL)
    assert_invalid_proof(
        api_client.get(PRIVATE, **dpop(bound_token, inner), **proxied),
        "The DPoP proof's htu claim does not match the request URL.",
    )


def test_the_default_replay_store_is_the_database(settings):
    from auth0_jwt.replay import get_replay_store

    assert isinstance(get_replay_store(), DatabaseReplayStore)
    settings.AUTH0 = {**settings.AUTH0, "REDIS_URL": "redis://127.0.0.1:1/0"}
    assert isinstance(get_replay_store(), RedisReplayStore)


# --- Server nonces (AUTH0_DPOP_NONCE=on; off by default) ------------------------------------------


def nonce_challenge(detail: str) -> str:
    return f'{DPOP_CHALLENGE}, error="use_dpop_nonce", error_description="{detail}"'


def test_with_nonces_on_a_proof_without_one_gets_use_dpop_nonce_then_passes(
    api_client, bound_token, client_key, dpop_mode
):
    from auth0_jwt.tests.dpop_support import WallClock

    dpop_mode("allowed", DPOP_NONCE="on")
    clock = WallClock()
    reset_dpop_verifier(build_dpop_verifier(now=clock))
    first = api_client.get(PRIVATE, **dpop(bound_token, make_proof(client_key, token=bound_token)))
    detail = (
        "The DPoP proof has no nonce claim: sign the DPoP-Nonce of this answer into a new proof."
    )
    assert first.status_code == 401
    assert first.json() == {"detail": detail}
    assert first["WWW-Authenticate"] == nonce_challenge(detail)
    nonce = first["DPoP-Nonce"]
    proof = make_proof(client_key, token=bound_token, nonce=nonce)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof)))
    clock.advance(120)  # two nonce windows later the nonce is stale: a new one is handed out
    stale = make_proof(client_key, token=bound_token, nonce=nonce, now=clock.now)
    answer = api_client.get(PRIVATE, **dpop(bound_token, stale))
    detail = (
        "The DPoP proof's nonce is not current: sign the DPoP-Nonce of this answer into a new "
        "proof."
    )
    assert answer.status_code == 401
    assert answer["WWW-Authenticate"] == nonce_challenge(detail)
    assert answer["DPoP-Nonce"] not in ("", nonce)


def test_nonces_are_off_by_default(api_client, bound_token, client_key):
    response = api_client.get(
        PRIVATE, **dpop(bound_token, make_proof(client_key, token=bound_token))
    )
    assert_dpop_accepted(response)
    assert "DPoP-Nonce" not in response


def test_a_nonce_refusal_does_not_use_up_the_proofs_jti(
    api_client, bound_token, client_key, dpop_mode
):
    dpop_mode("allowed", DPOP_NONCE="on")
    first = api_client.get(
        PRIVATE, **dpop(bound_token, make_proof(client_key, token=bound_token, jti="same"))
    )
    nonce = first["DPoP-Nonce"]
    proof = make_proof(client_key, token=bound_token, jti="same", nonce=nonce)
    assert_dpop_accepted(api_client.get(PRIVATE, **dpop(bound_token, proof)))
