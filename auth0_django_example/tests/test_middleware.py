"""The session stack on API paths: skipped (no session, session user or messages work), while the
admin keeps sessions, CSRF protection and its login, and every path keeps the security headers."""

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.http import HttpResponse
from django.test import Client

from auth0_django_example.middleware import (
    BrowserAuthenticationMiddleware,
    BrowserMessageMiddleware,
    BrowserSessionMiddleware,
)

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}

pytestmark = pytest.mark.django_db


def test_the_session_stack_is_django_own_middleware_for_the_admin_checks():
    from django.contrib.auth.middleware import AuthenticationMiddleware
    from django.contrib.messages.middleware import MessageMiddleware
    from django.contrib.sessions.middleware import SessionMiddleware

    assert issubclass(BrowserSessionMiddleware, SessionMiddleware)
    assert issubclass(BrowserAuthenticationMiddleware, AuthenticationMiddleware)
    assert issubclass(BrowserMessageMiddleware, MessageMiddleware)
    call_command("check", "admin", fail_level="WARNING")  # admin.E408-E410 find them


@pytest.mark.parametrize("path", ["/api/public/", "/api/private/"])
def test_api_answers_carry_no_session_or_csrf_cookie_and_keep_security_headers(
    auth0_api_client, path
):
    api_client = auth0_api_client()
    api_client.cookies["sessionid"] = "not-a-session"
    response = api_client.get(path)
    assert response.status_code == 200
    assert dict(response.cookies) == {}
    assert "Cookie" not in response.get("Vary", "")
    for name, value in SECURITY_HEADERS.items():
        assert response[name] == value
    assert len(response["X-Request-ID"]) == 32


def test_a_session_cookie_does_not_authenticate_an_api_request(api_client, client):
    user = get_user_model().objects.create_user("staff", password="pw-for-test-only", is_staff=True)
    client.force_login(user)
    anonymous = api_client.get("/api/private/")
    api_client.cookies["sessionid"] = client.cookies["sessionid"].value
    response = api_client.get("/api/private/")
    assert response.status_code == anonymous.status_code == 401
    assert response.json() == anonymous.json()
    assert response["WWW-Authenticate"] == anonymous["WWW-Authenticate"]


def test_the_admin_keeps_csrf_protection_and_sessions():
    browser = Client(enforce_csrf_checks=True)
    get_user_model().objects.create_superuser("root", password="pw-for-test-only")
    login_page = browser.get("/admin/login/")
    assert login_page.status_code == 200
    assert "csrftoken" in login_page.cookies
    assert login_page["X-Frame-Options"] == "DENY"
    credentials = {"username": "root", "password": "pw-for-test-only", "next": "/admin/"}
    assert browser.post("/admin/login/", credentials).status_code == 403  # no CSRF token
    token = login_page.cookies["csrftoken"].value
    logged_in = browser.post("/admin/login/", {**credentials, "csrfmiddlewaretoken": token})
    assert logged_in.status_code == 302
    assert logged_in["Location"] == "/admin/"
    assert browser.get("/admin/").status_code == 200


@pytest.mark.parametrize(
    ("path", "touched"), [("/api/private/", False), ("/api/", False), ("/admin/", True)]
)
def test_the_session_stack_steps_aside_on_api_paths_only(rf, path, touched):
    request = rf.get(path)
    chain = BrowserSessionMiddleware(
        BrowserAuthenticationMiddleware(BrowserMessageMiddleware(lambda request: HttpResponse()))
    )
    chain(request)
    assert hasattr(request, "session") is touched
    assert hasattr(request, "user") is touched
    assert hasattr(request, "_messages") is touched
