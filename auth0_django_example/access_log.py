"""The access log, written by the application: the same line under every server (gunicorn, uvicorn,
granian, runserver), so a server's own access log can stay off.

`AccessLogMiddleware` comes first in MIDDLEWARE and writes one line per request to the
`auth0_django_example.access` logger, through the project's formatters (logs.py: text or JSON, the
request id on every line):

    127.0.0.1 "GET /api/public/ HTTP/1.1" 200 95 0.4ms "curl/8.5.0"

with the structured fields `event="http_access"`, client, method, path, status, size, duration_ms,
request_id and pid. What it holds and what it never holds:
- the client is the peer address, or, behind the proxies in FORWARDED_ALLOW_IPS, the nearest
  `X-Forwarded-For` hop that is not one (metrics.client_address, the rule `/metrics` uses);
- the path without its query string (a query is the client's to fill, `?access_token=` included),
  and the path and user agent redacted of anything token-shaped (logs.redact);
- no header that carries credentials: the line has no Authorization, Cookie or DPoP, ever;
- the size is the body's length (`-` for a streamed body), the duration the middleware's.

It costs what a line costs: the fields are read straight from `META`, and the record is handed to
the handlers without logging's caller lookup. `ACCESS_LOG=0` turns it off (where a proxy in front
writes one).
"""

import logging
import os
import threading
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings

from auth0_django_example.logs import ACCESS_LOGGER, redact
from auth0_django_example.metrics import client_address

LINE = '%s "%s %s %s" %s %s %sms "%s"'
# What every access record has in common, from one real LogRecord: a record is this plus the
# request's fields, which skips LogRecord.__init__'s per-record work (a third of the line's cost).
_COMMON = vars(logging.LogRecord(ACCESS_LOGGER, logging.INFO, __file__, 0, LINE, (), None))
_START = logging._startTime  # what relativeCreated counts from, as in LogRecord


def access_record(arguments: tuple, fields: dict) -> logging.LogRecord:
    """An INFO record of the access logger, as `Logger.makeRecord` would make it."""
    record = logging.LogRecord.__new__(logging.LogRecord)
    attributes = record.__dict__
    attributes.update(_COMMON)
    created = time.time()
    attributes["created"] = created
    attributes["msecs"] = int((created - int(created)) * 1000) + 0.0
    attributes["relativeCreated"] = (created - _START) * 1000
    attributes["args"] = arguments
    attributes["process"] = os.getpid()
    attributes["thread"] = threading.get_ident()
    attributes["threadName"] = threading.current_thread().name
    attributes.update(fields)
    return record


class AccessLogMiddleware:
    """One access line per request (see the module docstring); sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.logger = logging.getLogger(ACCESS_LOGGER)
        self.trusted_proxies = tuple(settings.FORWARDED_ALLOW_IPS)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self.write(request, response, time.perf_counter() - started)
        return response

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        self.write(request, response, time.perf_counter() - started)
        return response

    def write(self, request, response, seconds: float) -> None:
        """Hand one record to the access logger's handlers (nothing when it is off)."""
        logger = self.logger
        if not logger.isEnabledFor(logging.INFO):
            return
        meta = request.META
        peer = meta.get("REMOTE_ADDR", "")
        forwarded_for = meta.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for:
            address = client_address(peer, forwarded_for, trusted_proxies=self.trusted_proxies)
            client = str(address) if address is not None else "-"
        else:
            client = peer or "-"
        method = request.method
        path = redact(request.path)
        status = response.status_code
        size = "-" if response.streaming else len(response.content)
        duration_ms = round(seconds * 1000, 1)
        agent = redact(meta.get("HTTP_USER_AGENT", "-")).replace('"', '\\"')
        protocol = meta.get("SERVER_PROTOCOL", "-")
        fields = {
            "event": "http_access",
            "client": client,
            "method": method,
            "path": path,
            "status": status,
            "size": size,
            "duration_ms": duration_ms,
            "request_id": getattr(request, "request_id", None),
            "pid": os.getpid(),  # the worker's (a preloaded app builds this in the master)
        }
        arguments = (client, method, path.replace('"', "%22"), protocol)
        arguments += (status, size, duration_ms, agent)
        logger.handle(access_record(arguments, fields))
