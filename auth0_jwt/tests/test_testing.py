"""The testing plugin (auth0_jwt.testing) as a project's tests use it: its fixtures mint real tokens
offline, every one goes through the real verifier, and the answers are the production ones."""

import jwt
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from auth0_jwt.dpop import replay_key
from auth0_jwt.runtime import get_token_verifier
from auth0_jwt.testing import (
    DEFAULT_AUDIENCE,
    DEFAULT_EXPIRES_IN,
    DEFAULT_ISSUER,
    DEFAULT_SUBJECT,
    KID,
    Auth0TestIssuer,
    DPoPKey,
)
from conftest import AUDIENCE, ISSUER, bearer

pytestmark = pytest.mark.django_db

PRIVATE = "/api/private/"
SCOPED = "/api/private-scoped/"
PRIVATE_URL = "http://testserver/api/private/"
PRIVATE_MESSAGE = "Hello from a private endpoint! You need to be authenticated to see this."
NOT_PROVIDED = "Authentication credentials were not provided."
NEEDS_SCOPE = "The access token lacks the scope this endpoint needs: read:messages."
KEYS_UNAVAILABLE = (
    "Tokens cannot be verified right now: the identity provider's signing keys are not loaded "
    "yet. Try again shortly."
)
REPLAYED = "The DPoP proof was used before: sign a new proof (with a new jti) for every request."
BOUND_AS_BEARER = (
    "The token is bound to a DPoP key (cnf claim), so it cannot be used as a Bearer token."
)
DPOP = 'DPoP algs="ES256"'


def invalid_token(detail: str, scheme: str = 'Bearer realm="api"') -> str:
    return f'{scheme}, error="invalid_token", error_description="{detail}"'


def claims_of(token: str, audience=AUDIENCE) -> dict:
    """The claims of a token the test issuer signed, its signature checked."""
    return jwt.decode(
        token, Auth0TestIssuer().private_key.public_key(), algorithms=["RS256"], audience=audience
    )


# --- The token factory ----------------------------------------------------------------------------


def test_a_default_token_has_the_documented_subject_and_no_scopes_or_permissions(auth0_token):
    token = auth0_token()
    claims = claims_of(token)
    assert claims == {
        "iss": ISSUER,
        "sub": DEFAULT_SUBJECT,
        "aud": AUDIENCE,
        "iat": claims["iat"],
        "exp": claims["iat"] + DEFAULT_EXPIRES_IN,
    }
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": KID, "typ": "JWT"}
    assert DEFAULT_SUBJECT == "auth0|test-user"


def test_the_pytest_ini_options_name_the_issuer_and_audience(auth0_issuer, settings):
    # pytest.ini: auth0_test_issuer, auth0_test_audience (this project's test tenant).
    assert (auth0_issuer.issuer, auth0_issuer.audience) == (ISSUER, AUDIENCE)
    assert (settings.AUTH0["ISSUER"], settings.AUTH0["AUDIENCE"]) == (ISSUER, AUDIENCE)
    assert Auth0TestIssuer().issuer == DEFAULT_ISSUER == "https://auth0-test-tenant.invalid/"
    assert Auth0TestIssuer().audience == DEFAULT_AUDIENCE == "https://api.auth0-test.invalid/"


def test_token_arguments_shape_the_claims(auth0_token, auth0_dpop_key):
    token = auth0_token(
        sub="auth0|ada",
        scopes=["read:messages", "write:messages"],
        permissions=["read:customers"],
        expires_in=60,
        claims={"azp": "my-client", "https://example.com/roles": ["admin"]},
        dpop_key=auth0_dpop_key,
    )
    claims = claims_of(token)
    assert claims["sub"] == "auth0|ada"
    assert claims["scope"] == "read:messages write:messages"
    assert claims["permissions"] == ["read:customers"]
    assert claims["exp"] - claims["iat"] == 60
    assert claims["azp"] == "my-client"
    assert claims["https://example.com/roles"] == ["admin"]
    assert claims["cnf"] == {"jkt": auth0_dpop_key.thumbprint}
    assert "scope" not in claims_of(auth0_token())


def test_scopes_may_be_a_space_separated_string_and_claims_replace_any_claim(auth0_token):
    claims = claims_of(auth0_token(scopes="openid read:messages", claims={"iss": "x", "sub": "y"}))
    assert (claims["scope"], claims["iss"], claims["sub"]) == ("openid read:messages", "x", "y")


# --- The real path: accepted tokens ---------------------------------------------------------------


def test_a_token_reaches_the_view_through_full_verification(auth0_api_client):
    response = auth0_api_client().get(PRIVATE)
    assert response.status_code == 200
    assert response.json() == {"message": PRIVATE_MESSAGE, "sub": DEFAULT_SUBJECT}
    assert "WWW-Authenticate" not in response
    user = get_user_model().objects.get(auth0_identity__sub=DEFAULT_SUBJECT)
    assert user.username == "auth0.test-user"


def test_a_scope_or_a_permission_opens_the_scoped_endpoint(auth0_api_client):
    assert auth0_api_client(scopes=["read:messages"]).get(SCOPED).status_code == 200
    assert auth0_api_client(permissions=["read:messages"]).get(SCOPED).status_code == 200


def test_a_token_without_the_scope_gets_the_production_403(auth0_api_client):
    response = auth0_api_client(scopes=["openid"]).get(SCOPED)
    assert response.status_code == 403
    assert response.json() == {"detail": NEEDS_SCOPE}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )


def test_a_token_passed_in_is_carried_as_is(auth0_issuer, auth0_token):
    token = auth0_token(sub="auth0|given")
    client = auth0_issuer.api_client(token=token)
    assert client.get(PRIVATE).json()["sub"] == "auth0|given"
    with pytest.raises(TypeError, match="not both"):
        auth0_issuer.api_client(token=token, sub="auth0|other")


def test_a_request_with_its_own_authorization_header_keeps_it(auth0_api_client):
    response = auth0_api_client().get(PRIVATE, HTTP_AUTHORIZATION="Bearer")
    assert response.status_code == 400
    assert response.json() == {"detail": "The Authorization header has no token after Bearer."}


def test_djangos_test_client_carries_the_token(auth0_client):
    response = auth0_client(sub="auth0|plain", scopes="read:messages").get(SCOPED)
    assert response.status_code == 200
    assert response.json()["sub"] == "auth0|plain"


def test_djangos_async_client_carries_the_token(auth0_async_client):
    client = auth0_async_client(sub="auth0|async", scopes=["read:messages"])
    response = async_to_sync(client.get)(SCOPED)
    assert response.status_code == 200
    assert response.json()["sub"] == "auth0|async"
    refused = async_to_sync(auth0_async_client(audience="https://other.example/").get)(PRIVATE)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == invalid_token("The token's audience is not this API.")


# --- The real path: the usual wrong tokens, one argument each -------------------------------------

WRONG_TOKENS = {
    "expired": ({"expired": True}, "The token has expired."),
    "stranger-key": ({"signed_by_stranger": True}, "The token's signature is invalid."),
    "unknown-kid": (
        {"unknown_kid": True},
        "The token was signed with a key this API does not know.",
    ),
    "other-audience": (
        {"audience": "https://other.example/"},
        "The token's audience is not this API.",
    ),
    "other-issuer": (
        {"issuer": "https://other-tenant.example/"},
        "The token was not issued by the expected issuer.",
    ),
    "no-sub": ({"sub": None}, "The token has no sub claim."),
    "expires-in-the-past": ({"expires_in": -3600}, "The token has expired."),
}


@pytest.mark.parametrize(("arguments", "detail"), WRONG_TOKENS.values(), ids=WRONG_TOKENS)
def test_each_wrong_token_gets_the_production_401(auth0_api_client, arguments, detail):
    response = auth0_api_client(**arguments).get(PRIVATE)
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == invalid_token(detail)


@pytest.mark.parametrize(
    "arguments", [{"audience": "https://other.example/"}, {"expired": True}], ids=str
)
def test_the_answer_is_byte_for_byte_the_one_of_keys_fetched_over_http(
    api_client, jwks_server, arguments
):
    """The production wiring (the JWKS fetched over HTTP from the URL the settings name) and the
    test issuer's in-process keys answer the same token identically."""
    issuer = Auth0TestIssuer(issuer=ISSUER, audience=AUDIENCE)
    jwks_server.publish(*issuer.jwks()["keys"])
    token = issuer.token(**arguments)
    over_http = api_client.get(PRIVATE, **bearer(token))
    assert get_token_verifier().key_store.description == jwks_server.jwks_url
    with issuer:
        assert get_token_verifier().key_store.description == "in-process JWKS"
        in_process = api_client.get(PRIVATE, **bearer(token))
    assert over_http.status_code == in_process.status_code == 401
    assert over_http.content == in_process.content
    assert over_http["WWW-Authenticate"] == in_process["WWW-Authenticate"]
    assert over_http["Content-Type"] == in_process["Content-Type"] == "application/json"


# --- DPoP -----------------------------------------------------------------------------------------


def test_a_dpop_client_signs_a_new_proof_for_every_request(auth0_api_client, auth0_dpop_key):
    client = auth0_api_client(dpop_key=auth0_dpop_key, scopes=["read:messages"])
    for path in (PRIVATE, SCOPED, PRIVATE):
        response = client.get(path)
        assert response.status_code == 200, response.content
        assert "WWW-Authenticate" not in response
    assert client.auth0.authorization.startswith("DPoP ")


def test_a_proof_signed_by_hand_is_accepted_once(api_client, auth0_token, auth0_dpop_key):
    token = auth0_token(dpop_key=auth0_dpop_key)
    proof = auth0_dpop_key.proof("GET", PRIVATE_URL, token=token)
    headers = {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": proof}
    assert api_client.get(PRIVATE, **headers).status_code == 200
    replayed = api_client.get(PRIVATE, **headers)
    assert replayed.status_code == 401
    assert replayed.json() == {"detail": REPLAYED}
    assert replayed["WWW-Authenticate"] == (
        f'{DPOP}, error="invalid_dpop_proof", error_description="{REPLAYED}"'
    )
    as_bearer = api_client.get(PRIVATE, **bearer(token))
    assert as_bearer.status_code == 401
    assert as_bearer["WWW-Authenticate"] == invalid_token(BOUND_AS_BEARER)


def test_a_proof_for_another_url_is_refused(api_client, auth0_token, auth0_dpop_key):
    token = auth0_token(dpop_key=auth0_dpop_key)
    proof = auth0_dpop_key.proof("GET", "http://testserver/api/other/", token=token)
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"DPoP {token}", HTTP_DPOP=proof)
    detail = "The DPoP proof's htu claim does not match the request URL."
    assert response.status_code == 401
    assert response.json() == {"detail": detail}


def test_the_dpop_client_signs_the_servers_nonce_into_its_next_proof(
    settings, auth0_api_client, auth0_dpop_key
):
    settings.AUTH0 = {**settings.AUTH0, "DPOP_NONCE": "on"}
    client = auth0_api_client(dpop_key=auth0_dpop_key)
    first = client.get(PRIVATE)
    assert first.status_code == 401
    assert first.json()["detail"].startswith("The DPoP proof has no nonce claim")
    assert first["DPoP-Nonce"] == client.auth0.nonce
    assert client.get(PRIVATE).status_code == 200


def test_async_and_plain_clients_sign_proofs_for_the_url_the_server_sees(
    auth0_client, auth0_async_client, auth0_dpop_key
):
    assert auth0_client(dpop_key=auth0_dpop_key).get(PRIVATE, secure=True).status_code == 200
    async_client = auth0_async_client(dpop_key=auth0_dpop_key)
    assert async_to_sync(async_client.get)(f"{PRIVATE}?page=2").status_code == 200


def test_a_dpop_key_is_a_p256_key(auth0_dpop_key):
    assert DPoPKey.of(auth0_dpop_key) is auth0_dpop_key
    assert DPoPKey.of(auth0_dpop_key.private_key).thumbprint == auth0_dpop_key.thumbprint
    with pytest.raises(TypeError, match="P-256"):
        DPoPKey(Auth0TestIssuer().private_key)


# --- Keys not loaded yet, deactivated users -------------------------------------------------------


def test_keys_unavailable_gives_the_real_503_and_the_keys_come_back(auth0_issuer, auth0_api_client):
    client = auth0_api_client()
    assert client.get(PRIVATE).status_code == 200
    with auth0_issuer.keys_unavailable():
        response = client.get(PRIVATE)
        assert response.status_code == 503
        assert response.json() == {"detail": KEYS_UNAVAILABLE}
        assert response["Retry-After"] == "5"
        assert "WWW-Authenticate" not in response
        assert client.get("/api/public/").status_code == 200
    assert client.get(PRIVATE).status_code == 200


def test_a_deactivated_user_is_refused(auth0_api_client):
    client = auth0_api_client(sub="auth0|leaver")
    assert client.get(PRIVATE).status_code == 200
    get_user_model().objects.filter(auth0_identity__sub="auth0|leaver").update(is_active=False)
    response = client.get(PRIVATE)
    detail = "The user account of this token is disabled."
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == invalid_token(detail)


def test_no_token_is_still_the_production_401():
    response = APIClient().get(PRIVATE)
    assert response.status_code == 401
    assert response.json() == {"detail": NOT_PROVIDED}
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'


# --- Isolation ------------------------------------------------------------------------------------


def test_disabling_puts_back_the_setting_the_verifier_and_its_token_cache(settings, auth0_token):
    outer_token = auth0_token()
    before = dict(settings.AUTH0)
    outer_verifier = get_token_verifier()
    with Auth0TestIssuer() as inner:
        assert settings.AUTH0["ISSUER"] == DEFAULT_ISSUER
        assert settings.AUTH0["AUDIENCE"] == DEFAULT_AUDIENCE
        inner_token = inner.token()
        client = APIClient()
        assert client.get(PRIVATE, **bearer(inner_token)).status_code == 200
        assert inner_token in get_token_verifier().token_cache
        refused = client.get(PRIVATE, **bearer(outer_token))  # minted for the outer audience
        assert refused.status_code == 401
    assert settings.AUTH0 == before
    verifier = get_token_verifier()
    assert verifier is not outer_verifier
    assert inner_token not in verifier.token_cache
    assert APIClient().get(PRIVATE, **bearer(outer_token)).status_code == 200


def test_a_settings_change_during_the_test_keeps_the_keys_in_process(settings, auth0_api_client):
    settings.AUTH0 = {**settings.AUTH0, "DPOP": "required", "JWKS_URL": "https://x.invalid/"}
    assert get_token_verifier().key_store.description == "in-process JWKS"
    response = auth0_api_client().get(PRIVATE)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith(DPOP)
    assert auth0_api_client(dpop_key=DPoPKey()).get(PRIVATE).status_code == 200


def test_replayed_proofs_do_not_leak_between_enablings_on_a_shared_redis(
    settings, redis_server, auth0_token
):
    """A proof with a fixed jti, as two tests (or two xdist workers) might both send: each
    enabling has its own namespace in the shared Redis, and the raw key is never written."""
    import redis

    settings.AUTH0 = {**settings.AUTH0, "REDIS_URL": redis_server.url}
    key = DPoPKey()
    for _ in range(2):
        with Auth0TestIssuer(issuer=ISSUER, audience=AUDIENCE) as issuer:
            client = APIClient()
            token = issuer.token(dpop_key=key)
            proof = key.proof("GET", PRIVATE_URL, token=token, jti="the-same-jti")
            headers = {"HTTP_AUTHORIZATION": f"DPoP {token}", "HTTP_DPOP": proof}
            assert client.get(PRIVATE, **headers).status_code == 200
            assert client.get(PRIVATE, **headers).json() == {"detail": REPLAYED}
    store = redis.Redis.from_url(redis_server.url)
    remembered = [name for name in store.keys("auth0_jwt:dpop:*") if b"~" not in name]
    store.close()
    assert len(remembered) == 2  # one per enabling
    raw_key = f"auth0_jwt:dpop:{replay_key(key.thumbprint, 'the-same-jti')}".encode()
    assert raw_key not in remembered


# --- unittest and Django's TestCase ---------------------------------------------------------------


def test_the_issuer_is_a_context_manager_returning_itself():
    issuer = Auth0TestIssuer()
    assert not issuer.enabled
    with issuer as entered:
        assert entered is issuer and issuer.enabled
        assert APIClient().get(PRIVATE, **bearer(issuer.token())).status_code == 200
    assert not issuer.enabled


method_issuer = Auth0TestIssuer()


@method_issuer
def test_the_issuer_decorates_a_test_function():
    token = method_issuer.token(scopes=["read:messages"])
    response = APIClient().get(SCOPED, **bearer(token))
    assert (response.status_code, response.json()["sub"]) == (200, DEFAULT_SUBJECT)


def test_keys_are_never_written_even_when_the_settings_ask_for_the_local_issuer(settings, tmp_path):
    key_dir = tmp_path / "local-issuer"
    settings.DEBUG = True
    settings.AUTH0 = {**settings.AUTH0, "LOCAL_ISSUER": True, "LOCAL_ISSUER_KEY_DIR": key_dir}
    with Auth0TestIssuer() as issuer:
        assert APIClient().get(PRIVATE, **bearer(issuer.token())).status_code == 200
        settings.AUTH0 = {**settings.AUTH0, "LOCAL_ISSUER": True}
        assert APIClient().get(PRIVATE, **bearer(issuer.token())).status_code == 200
    assert not key_dir.exists()
    assert list(tmp_path.iterdir()) == []
