"""CORS for single-page apps on other origins: only the configured origins, `Authorization`
allowed, preflight answered without a token, nothing allowed by default."""

import pytest

pytestmark = pytest.mark.django_db

APP = "https://app.example.test"


@pytest.fixture
def app_origin(settings):
    settings.CORS_ALLOWED_ORIGINS = [APP]
    return APP


def preflight(api_client, path, origin, headers="authorization"):
    return api_client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize("path", ["/api/private/", "/api/private-scoped/", "/api/public/"])
def test_preflight_from_an_allowed_origin_is_answered_without_a_token(api_client, app_origin, path):
    response = preflight(api_client, path, app_origin)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP
    assert "authorization" in response["Access-Control-Allow-Headers"].split(", ")
    assert "GET" in response["Access-Control-Allow-Methods"].split(", ")
    assert "Access-Control-Allow-Credentials" not in response
    assert response.content == b""


def test_preflight_from_another_origin_gets_no_cors_headers(api_client, app_origin):
    response = preflight(api_client, "/api/private/", "https://evil.example.test")
    assert "Access-Control-Allow-Origin" not in response


def test_the_401_of_a_cross_origin_call_is_readable_by_the_app(api_client, app_origin):
    response = api_client.get("/api/private/", HTTP_ORIGIN=APP)
    assert response.status_code == 401
    assert response["Access-Control-Allow-Origin"] == APP
    assert response["Access-Control-Expose-Headers"] == (
        "WWW-Authenticate, Retry-After, X-Request-ID, DPoP-Nonce"
    )


def test_a_cross_origin_call_with_a_token_succeeds(auth0_api_client, app_origin):
    response = auth0_api_client().get("/api/private/", HTTP_ORIGIN=APP)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == APP


def test_no_origin_is_allowed_by_default(api_client, settings):
    settings.CORS_ALLOWED_ORIGINS = []
    response = preflight(api_client, "/api/private/", APP)
    assert "Access-Control-Allow-Origin" not in response
    assert "Access-Control-Allow-Origin" not in api_client.get("/api/public/", HTTP_ORIGIN=APP)


def test_cors_applies_to_the_api_only(api_client, app_origin):
    assert "Access-Control-Allow-Origin" not in api_client.get("/healthz", HTTP_ORIGIN=APP)
    assert "Access-Control-Allow-Origin" not in preflight(api_client, "/admin/login/", APP)


def test_the_default_allowed_origins_are_empty():
    from auth0_django_example.tests.support import clean_environment, manage

    code = "from django.conf import settings; print(settings.CORS_ALLOWED_ORIGINS)"
    result = manage("shell", "--no-imports", "-c", code, env=clean_environment(DJANGO_DEBUG="1"))
    assert (result.returncode, result.stdout) == (0, "[]\n")
