"""The gunicorn access logger: whatever the format asks for, no credential reaches the line."""

import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from auth0_django_example.gunicorn_logging import AccessLogger

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.fixture
def access_log():
    """An AccessLogger as gunicorn builds it, with the access records it writes collected."""
    loggers = [logging.getLogger("gunicorn.access"), logging.getLogger("gunicorn.error")]
    saved = [(log, list(log.handlers), log.propagate, log.level) for log in loggers]
    records = []

    def build(access_log_format):
        config = Config()
        config.set("accesslog", "-")
        config.set("access_log_format", access_log_format)
        logger = AccessLogger(config)
        collector = logging.Handler()
        collector.emit = records.append
        logger.access_log.addHandler(collector)
        return logger

    yield build, records
    for log, handlers, propagate, level in saved:
        log.handlers[:] = handlers
        log.propagate, log.level = propagate, level


def request(authorization=f"Bearer {TOKEN}"):
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": f"/api/private/?access_token={TOKEN}&page=2",
        "PATH_INFO": "/api/private/",
        "QUERY_STRING": f"access_token={TOKEN}&page=2",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "192.0.2.7",
        "HTTP_AUTHORIZATION": authorization,
        "HTTP_COOKIE": "sessionid=secret-session",
        "HTTP_REFERER": f"https://app.example.test/callback?access_token={TOKEN}",
        "HTTP_USER_AGENT": "curl/8",
    }
    headers = [
        ("AUTHORIZATION", authorization),
        ("COOKIE", "sessionid=secret-session"),
        ("PROXY-AUTHORIZATION", "Basic cHJveHk6c2VjcmV0"),
    ]
    response = SimpleNamespace(
        status="401 Unauthorized", headers=[("X-Request-ID", "rid-1")], sent=45
    )
    return response, SimpleNamespace(headers=headers), environ


def test_credentials_never_reach_the_access_line_whatever_the_format(access_log):
    build, records = access_log
    logger = build(
        '%(h)s %(u)s "%(r)s" %(q)s auth=%({authorization}i)s cookie=%({cookie}i)s '
        "proxy=%({proxy-authorization}i)s env=%({http_authorization}e)s "
        'envcookie=%({http_cookie}e)s "%(f)s" %(s)s'
    )
    logger.access(*request(), timedelta(microseconds=12345))
    [record] = records
    assert record.getMessage() == (
        '192.0.2.7 - "GET /api/private/?access_token=[redacted]&page=2 HTTP/1.1" '
        "access_token=[redacted]&page=2 auth=[redacted] cookie=[redacted] proxy=[redacted] "
        "env=[redacted] envcookie=[redacted] "
        '"https://app.example.test/callback?access_token=[redacted]" 401'
    )


def test_the_basic_auth_user_name_is_not_decoded(access_log):
    build, records = access_log
    logger = build("%(u)s")
    logger.access(*request(authorization="Basic YWxpY2U6c2VjcmV0"), timedelta(0))
    assert records[0].getMessage() == "-"


def test_access_records_carry_structured_fields(access_log):
    build, records = access_log
    logger = build('%(h)s "%(m)s %(U)s %(H)s" %(s)s')
    logger.access(*request(), timedelta(microseconds=12345))
    [record] = records
    assert record.getMessage() == '192.0.2.7 "GET /api/private/ HTTP/1.1" 401'
    fields = ("event", "client", "method", "path", "status", "duration_ms", "request_id")
    assert {name: getattr(record, name) for name in fields} == {
        "event": "http_access",
        "client": "192.0.2.7",
        "method": "GET",
        "path": "/api/private/",
        "status": 401,
        "duration_ms": 12.3,
        "request_id": "rid-1",
    }
