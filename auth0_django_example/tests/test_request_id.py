"""Request ids: a valid `X-Request-ID` is kept, anything else is replaced by a new one; every answer
carries it, and the log lines of the request name it."""

import logging
import re

import pytest

from auth0_django_example.request_id import current_request_id, request_id_from

pytestmark = pytest.mark.django_db

GENERATED = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize(
    "request_id", ["abc", "req-1.2_3", "0f" * 16, "A" * 128, "2f1c9e2a-3b4d-4e5f-8a9b-0c1d2e3f4a5b"]
)
def test_a_valid_request_id_is_returned_unchanged(api_client, request_id):
    response = api_client.get("/api/public/", HTTP_X_REQUEST_ID=request_id)
    assert response["X-Request-ID"] == request_id


@pytest.mark.parametrize(
    "request_id",
    ["", "A" * 129, "has space", "new\nline", "semi;colon", 'quote"', "é", "a,b", "<script>"],
)
def test_an_invalid_request_id_is_replaced_by_a_generated_one(api_client, request_id):
    response = api_client.get("/api/public/", HTTP_X_REQUEST_ID=request_id)
    assert GENERATED.fullmatch(response["X-Request-ID"])


def test_a_request_without_an_id_gets_a_new_one_each_time(api_client):
    first = api_client.get("/api/public/")["X-Request-ID"]
    second = api_client.get("/api/public/")["X-Request-ID"]
    assert GENERATED.fullmatch(first) and GENERATED.fullmatch(second)
    assert first != second


@pytest.mark.parametrize("path", ["/api/private/", "/healthz", "/readyz", "/no-such-page/"])
def test_every_answer_carries_the_request_id(api_client, path):
    response = api_client.get(path, HTTP_X_REQUEST_ID="probe-7")
    assert response["X-Request-ID"] == "probe-7"


def test_no_request_id_outside_a_request(api_client):
    api_client.get("/api/public/", HTTP_X_REQUEST_ID="done-1")
    assert current_request_id() is None


def test_request_id_from_keeps_valid_values_only():
    assert request_id_from("abc-1") == "abc-1"
    assert GENERATED.fullmatch(request_id_from(None))
    assert GENERATED.fullmatch(request_id_from("bad id"))


def test_the_rejection_log_line_names_the_request_id(auth0_api_client, caplog):
    client = auth0_api_client(expired=True)
    with caplog.at_level(logging.INFO, logger="auth0_jwt"):
        response = client.get("/api/private/", HTTP_X_REQUEST_ID="trace-42")
    assert response.status_code == 401
    [record] = [r for r in caplog.records if getattr(r, "event", None) == "token_rejected"]
    assert record.request_id == "trace-42"
    assert (record.reason, record.client) == ("The token has expired.", "127.0.0.1")
