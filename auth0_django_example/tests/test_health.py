"""/healthz and /readyz in this process: states of the signing keys, no token needed, answered
before host validation and the HTTPS redirect. The database-down states run against a real
gunicorn and a real outage in test_serving.py."""

import pytest

from conftest import bearer

pytestmark = pytest.mark.django_db

READY = {"status": "ok", "checks": {"database": "ok", "signing_keys": "ok"}}
KEYS_NOT_LOADED = {
    "status": "unavailable",
    "missing": ["signing_keys"],
    "checks": {"database": "ok", "signing_keys": "not loaded"},
}


def test_healthz_answers_ok_without_a_token(api_client):
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_healthz_ignores_a_bad_token(api_client):
    response = api_client.get("/healthz", **bearer("not-a-jwt"))
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_503_naming_the_signing_keys_before_they_are_loaded(api_client, key_store):
    assert key_store.key_set is None
    response = api_client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == KEYS_NOT_LOADED
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"


def test_readyz_only_observes_and_never_fetches_the_keys_itself(api_client, key_store, jwks_server):
    api_client.get("/readyz")
    api_client.get("/readyz")
    assert jwks_server.fetches == 0
    assert key_store.key_set is None


def test_readyz_is_503_while_the_identity_provider_fails(api_client, key_store, jwks_server):
    jwks_server.status = 500
    assert key_store.refresh() is False
    response = api_client.get("/readyz")
    assert (response.status_code, response.json()) == (503, KEYS_NOT_LOADED)
    assert b"500" not in response.content  # the reason goes to the log, not to the caller


def test_readyz_is_200_once_the_keys_are_loaded(api_client, key_store):
    assert key_store.refresh() is True
    response = api_client.get("/readyz")
    assert (response.status_code, response.json()) == (200, READY)


def test_readyz_becomes_ready_when_the_identity_provider_recovers(
    api_client, key_store, jwks_server
):
    jwks_server.status = 500
    key_store.refresh()
    assert api_client.get("/readyz").status_code == 503
    jwks_server.status = 200
    assert key_store.refresh() is True  # what the background loader does on its next try
    assert api_client.get("/readyz").status_code == 200


def test_readyz_stays_ready_on_stale_keys_when_a_refresh_fails(api_client, key_store, jwks_server):
    assert key_store.refresh() is True
    jwks_server.status = 500
    assert key_store.refresh() is False
    assert api_client.get("/readyz").json() == READY


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_answer_probes_by_address_over_plain_http(
    api_client, key_store, settings, path
):
    """A load balancer probes each instance by IP, over HTTP: neither is refused nor redirected."""
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = ["api.example.test"]
    key_store.refresh()
    response = api_client.get(path, HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert api_client.get("/api/public/", HTTP_HOST="10.1.2.3:8000").status_code == 400


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_endpoints_refuse_other_methods(api_client, path):
    response = api_client.post(path)
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"


@pytest.mark.parametrize("path", ["/healthz/", "/readyz/", "/api/healthz"])
def test_only_the_exact_health_paths_are_health_endpoints(api_client, path):
    assert api_client.get(path).status_code == 404
