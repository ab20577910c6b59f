"""Log lines as the service writes them: JSON (and text) with the request id and the fields of
token rejections and JWKS fetches, and never a token or an Authorization header."""

import io
import json
import logging
import sys

import pytest

from auth0_django_example.logs import JSONFormatter, RequestIdFilter, TextFormatter, redact
from conftest import ISSUER, KID, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def log_lines():
    """Everything logged at INFO and above during the test, through the service's formatter."""
    captured = {}

    def capture(formatter):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(formatter)
        handler.addFilter(RequestIdFilter())
        root = logging.getLogger()
        root.addHandler(handler)
        captured["stream"], captured["handler"] = stream, handler
        return stream

    previous_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.INFO)
    yield capture
    logging.getLogger().removeHandler(captured["handler"])
    logging.getLogger().setLevel(previous_level)


def json_records(stream) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_a_rejected_token_is_one_json_line_with_reason_kid_iss_client_and_request_id(
    api_client, auth0_token, log_lines
):
    stream = log_lines(JSONFormatter())
    token = auth0_token(expired=True)
    response = api_client.get("/api/private/", HTTP_X_REQUEST_ID="req-9", **bearer(token))
    assert response.status_code == 401
    [line] = [r for r in json_records(stream) if r.get("event") == "token_rejected"]
    assert set(line) == {
        "time", "level", "logger", "message", "request_id", "event", "reason", "kid", "iss",
        "client",
    }  # fmt: skip
    assert line["level"] == "INFO"
    assert line["logger"] == "auth0_jwt.authentication"
    assert line["message"] == "Token rejected: The token has expired."
    assert (line["reason"], line["kid"], line["iss"]) == ("The token has expired.", KID, ISSUER)
    assert (line["client"], line["request_id"]) == ("127.0.0.1", "req-9")


def test_no_log_line_holds_the_token_or_the_authorization_header(
    api_client, auth0_token, log_lines
):
    stream = log_lines(JSONFormatter())
    tokens = [auth0_token(expired=True), auth0_token(audience="other"), auth0_token()]
    for token in tokens:
        api_client.get("/api/private/", **bearer(token))
    api_client.get("/api/private/?access_token=" + tokens[2])
    api_client.get("/api/private/", HTTP_AUTHORIZATION="Bearer " + tokens[2] + " extra")
    text = stream.getvalue()
    assert json_records(stream)  # something was logged
    for token in tokens:
        assert token not in text
        assert token.split(".")[2] not in text
    assert "Bearer" not in text
    assert "authorization" not in text.lower()


def test_each_jwks_fetch_is_one_json_line_with_outcome_duration_and_key_count(
    key_store, jwks_server, log_lines
):
    stream = log_lines(JSONFormatter())
    key_store.refresh()
    [line] = [r for r in json_records(stream) if r.get("event") == "jwks_fetch"]
    assert line["message"] == "JWKS fetched: 1 key(s)"
    assert (line["level"], line["outcome"], line["key_count"]) == ("INFO", "ok", 1)
    assert line["jwks"] == jwks_server.jwks_url
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["request_id"] is None  # not inside a request


def test_a_failed_jwks_fetch_is_one_warning_line(key_store, jwks_server, log_lines):
    stream = log_lines(JSONFormatter())
    jwks_server.status = 500
    key_store.refresh()
    [line] = [r for r in json_records(stream) if r.get("event") == "jwks_fetch"]
    assert line["message"] == "JWKS fetch failed: the JWKS endpoint answered HTTP 500"
    assert (line["level"], line["outcome"], line["kept_stale_keys"]) == ("WARNING", "error", False)
    assert "key_count" not in line


def test_text_lines_carry_the_request_id_and_the_fields(auth0_api_client, log_lines):
    stream = log_lines(TextFormatter())
    auth0_api_client(expired=True).get("/api/private/", HTTP_X_REQUEST_ID="req-text")
    [line] = [x for x in stream.getvalue().splitlines() if "Token rejected" in x]
    assert line.endswith(
        " INFO auth0_jwt.authentication [req-text] Token rejected: The token has expired. "
        'event="token_rejected" reason="The token has expired." '
        f'kid="{KID}" iss="{ISSUER}" client="127.0.0.1"'
    )


def make_record(message, *args, **extra):
    record = logging.LogRecord("test", logging.WARNING, __file__, 1, message, args, None)
    record.__dict__.update(extra)
    return record


@pytest.mark.parametrize("formatter", [JSONFormatter(), TextFormatter()])
def test_formatters_redact_tokens_that_reach_a_message_anyway(formatter, auth0_token):
    token = auth0_token()
    record = make_record("upstream said %s for %s", "Bearer " + token, "/cb?access_token=" + token)
    line = formatter.format(record)
    assert token not in line
    assert token.split(".")[1] not in line
    assert "Bearer [redacted]" in line
    assert "access_token=[redacted]" in line


def test_json_lines_leave_out_fields_the_service_does_not_know():
    record = make_record("x", request=object(), password="hunter2", kid="k1")  # noqa: S106
    entry = json.loads(JSONFormatter().format(record))
    assert entry["kid"] == "k1"
    assert "request" not in entry and "password" not in entry


def test_json_lines_carry_exceptions():
    try:
        raise ValueError("boom")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", (), sys.exc_info())
    entry = json.loads(JSONFormatter().format(record))
    assert entry["message"] == "failed"
    assert entry["exception"].endswith("ValueError: boom")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer [redacted]"),
        ("bearer abc==", "bearer [redacted]"),
        ("GET /x?a=1&access_token=abc&b=2", "GET /x?a=1&access_token=[redacted]&b=2"),
        ("?id_token=abc", "?id_token=[redacted]"),
        ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "[redacted-jwt]"),
        ("kid=test-key-1 iss=https://tenant/", "kid=test-key-1 iss=https://tenant/"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected
