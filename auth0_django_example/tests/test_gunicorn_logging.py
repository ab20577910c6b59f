"""The gunicorn access logger: whatever the format asks for, no credential reaches the line."""

import logging
import os
import runpy
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from gunicorn.config import Config

from auth0_django_example.gunicorn_logging import AccessLogger

ROOT = Path(__file__).resolve().parents[2]
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
    fields = ("event", "client", "method", "path", "status", "duration_ms", "request_id", "pid")
    assert {name: getattr(record, name) for name in fields} == {
        "event": "http_access",
        "client": "192.0.2.7",
        "method": "GET",
        "path": "/api/private/",
        "status": 401,
        "duration_ms": 12.3,
        "request_id": "rid-1",
        "pid": os.getpid(),
    }


def test_client_written_atoms_and_named_headers_are_redacted_and_cookies_blanked(access_log):
    build, records = access_log
    logger = build(
        'ua="%(a)s" path=%(U)s custom=%({X-Forwarded-Token}i)s set=%({set-cookie}o)s '
        "rid=%({x-request-id}o)s raw=%({raw_uri}e)s %(b)s %(p)s"
    )
    response, req, environ = request()
    environ["HTTP_USER_AGENT"] = f"agent Bearer {TOKEN}"
    environ["PATH_INFO"] = f"/api/{TOKEN}/"
    req.headers.append(("X-FORWARDED-TOKEN", TOKEN))
    response.headers.append(("Set-Cookie", "sessionid=secret-session; HttpOnly"))
    logger.access(response, req, environ, timedelta(0))
    [record] = records
    assert record.getMessage() == (
        'ua="agent Bearer [redacted]" path=/api/[redacted-jwt]/ custom=[redacted-jwt] '
        "set=[redacted] rid=rid-1 raw=/api/private/?access_token=[redacted]&page=2 45 "
        f"<{os.getpid()}>"
    )
    assert record.path == "/api/[redacted-jwt]/"


def test_atoms_the_format_does_not_name_are_left_out(access_log):
    build, records = access_log
    logger = build("%(s)s %(m)s")
    response, req, environ = request()
    atoms = logger.atoms(response, req, environ, timedelta(0))
    assert atoms == {
        "s": "401",
        "m": "GET",
        "h": "192.0.2.7",
        "U": "/api/private/",
        "{x-request-id}o": "rid-1",
    }


def test_a_changed_format_is_parsed_again(access_log):
    build, records = access_log
    logger = build("%(s)s")
    logger.access(*request(), timedelta(0))
    logger.cfg.set("access_log_format", "%(H)s %(q)s")
    logger.access(*request(), timedelta(0))
    assert [record.getMessage() for record in records] == [
        "401",
        "HTTP/1.1 access_token=[redacted]&page=2",
    ]


def test_no_access_lines_when_the_access_log_is_off(access_log):
    build, records = access_log
    logger = build("%(s)s")
    logger.cfg.set("accesslog", None)
    logger.cfg.set("logconfig_dict", {"version": 1})  # a logging config alone does not turn it on
    logger.setup(logger.cfg)
    logger.access(*request(), timedelta(0))
    assert records == []
    assert not logger.access_log_enabled


@pytest.mark.parametrize(
    ("value", "accesslog"), [("", None), ("1", "-"), ("on", "-"), ("0", None), ("no", None)]
)
def test_gunicorn_access_log_variable_turns_the_access_log_on_or_off(value, accesslog):
    assert gunicorn_settings({"GUNICORN_ACCESS_LOG": value})["accesslog"] == accesslog


def test_a_bad_gunicorn_access_log_value_is_refused_in_one_line():
    with pytest.raises(SystemExit, match=r"GUNICORN_ACCESS_LOG must be one of .*got 'maybe'"):
        gunicorn_settings({"GUNICORN_ACCESS_LOG": "maybe"})


def gunicorn_settings(environment: dict) -> dict:
    """gunicorn.conf.py's module namespace, read with `environment` added to os.environ."""
    saved = dict(os.environ)
    os.environ.update(environment)
    try:
        return runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    finally:
        os.environ.clear()
        os.environ.update(saved)
