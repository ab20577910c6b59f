"""The application's access log (access_log.py): one line per request, the same under every server,
with the request id, the real client behind trusted proxies only, and nothing token-shaped."""

import json
import logging

import pytest
from asgiref.sync import async_to_sync
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.test import RequestFactory

from auth0_django_example.access_log import AccessLogMiddleware
from auth0_django_example.logs import ACCESS_LOGGER, JSONFormatter, TextFormatter, _extras

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
BODY = {"message": "Hello from a public endpoint!"}


class Lines(logging.Handler):
    """Collects the access logger's records and their lines in both formats."""

    def __init__(self):
        super().__init__()
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture
def lines():
    handler = Lines()
    logger = logging.getLogger(ACCESS_LOGGER)
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


def serve(request, response=None, **settings_kwargs):
    middleware = AccessLogMiddleware(lambda request: response or JsonResponse(BODY))
    return middleware(request)


def test_one_line_per_request_with_client_request_line_status_size_duration_and_agent(
    lines, settings
):
    request = RequestFactory().get(
        "/api/public/", REMOTE_ADDR="10.1.2.3", HTTP_USER_AGENT="curl/8.5.0"
    )
    request.request_id = "req-1"
    response = serve(request)
    [record] = lines.records
    size = len(response.content)
    message = record.getMessage()
    prefix = f'10.1.2.3 "GET /api/public/ HTTP/1.1" 200 {size} '
    assert message.startswith(prefix) and message.endswith('ms "curl/8.5.0"')
    assert float(message[len(prefix) : -len('ms "curl/8.5.0"')]) == record.duration_ms
    assert (record.event, record.client, record.method, record.path) == (
        "http_access",
        "10.1.2.3",
        "GET",
        "/api/public/",
    )
    assert (record.status, record.size, record.request_id) == (200, size, "req-1")


def test_the_fast_json_line_is_the_general_formatters_line_key_for_key(lines):
    request = RequestFactory().get(
        '/api/odd "path"\\/', REMOTE_ADDR="127.0.0.1", HTTP_USER_AGENT='agent "q" \\ \u00e9'
    )
    request.request_id = "req-2"
    serve(request)
    [record] = lines.records
    fast = JSONFormatter().format(record)
    entry = {
        "time": json.loads(fast)["time"],
        "level": "INFO",
        "logger": ACCESS_LOGGER,
        "message": record.getMessage(),
        "request_id": "req-2",
        **_extras(record),
    }
    assert fast == json.dumps(entry, default=str, ensure_ascii=False)


def test_the_fast_text_line_is_what_logging_formatter_writes(lines):
    request = RequestFactory().get("/api/public/", REMOTE_ADDR="127.0.0.1")
    request.request_id = "req-3"
    serve(request)
    [record] = lines.records
    formatter = TextFormatter()
    fast = formatter.format(record)  # also sets the record's request_id_text
    assert fast == logging.Formatter.format(formatter, record)
    assert fast.endswith(
        ' INFO auth0_django_example.access [req-3] 127.0.0.1 "GET /api/public/ '
        f'HTTP/1.1" 200 {record.size} {record.duration_ms}ms "-"'
    )


def test_tokens_in_the_path_query_and_agent_never_reach_the_line(lines):
    request = RequestFactory().get(
        f"/api/{JWT}/",
        {"access_token": "secret-value"},
        REMOTE_ADDR="127.0.0.1",
        HTTP_USER_AGENT=f"Bearer {JWT}",
        HTTP_AUTHORIZATION=f"Bearer {JWT}",
        HTTP_DPOP=JWT,
        HTTP_COOKIE="sessionid=abc",
    )
    request.request_id = "req-4"
    serve(request)
    [record] = lines.records
    written = TextFormatter().format(record) + JSONFormatter().format(record)
    for secret in (JWT, "secret-value", "sessionid", "access_token"):
        assert secret not in written
    assert record.path == "/api/[redacted-jwt]/"
    assert record.getMessage().endswith('"Bearer [redacted]"')


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "client"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # loopback is a trusted proxy
        ("127.0.0.1", "198.51.100.1, 203.0.113.7", "203.0.113.7"),  # the nearest hop
        ("192.0.2.10", "203.0.113.7", "192.0.2.10"),  # a direct client's header is its own
        ("127.0.0.1", "not-an-address", "-"),
    ],
)
def test_the_client_is_read_from_x_forwarded_for_behind_trusted_proxies_only(
    lines, settings, peer, forwarded_for, client
):
    settings.FORWARDED_ALLOW_IPS = ["127.0.0.1", "::1"]
    request = RequestFactory().get(
        "/api/public/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded_for
    )
    serve(request)
    assert lines.records[0].client == client


def test_a_streamed_body_has_no_size(lines):
    response = StreamingHttpResponse(iter([b"a", b"b"]))
    serve(RequestFactory().get("/api/stream/", REMOTE_ADDR="127.0.0.1"), response)
    assert lines.records[0].size == "-"
    assert " 200 - " in lines.records[0].getMessage()


def test_async_requests_get_the_same_line(lines):
    async def view(request):
        return HttpResponse(b"hello")

    middleware = AccessLogMiddleware(view)
    request = RequestFactory().get("/api/async/", REMOTE_ADDR="127.0.0.1")
    response = async_to_sync(middleware)(request)
    assert response.content == b"hello"
    [record] = lines.records
    assert record.getMessage().startswith('127.0.0.1 "GET /api/async/ HTTP/1.1" 200 5 ')


def test_nothing_is_built_when_the_access_logger_is_off(settings):
    logger = logging.getLogger(ACCESS_LOGGER)
    previous, logger.disabled = logger.disabled, True
    handler = Lines()
    logger.addHandler(handler)
    try:
        serve(RequestFactory().get("/api/public/"))
    finally:
        logger.disabled = previous
        logger.removeHandler(handler)
    assert handler.records == []
