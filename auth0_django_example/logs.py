"""Log lines as text (development) or one JSON object per line (production), with the request id.

`LOG_FORMAT=json|text` chooses; `logging_config()` builds the dictConfig both Django (the LOGGING
setting) and gunicorn (gunicorn.conf.py) use. Whatever a message holds, the formatters blank out
bearer tokens, JWTs and `access_token` query values before a line is written.
"""

import json
import logging
import re
import time
from datetime import UTC, datetime

from auth0_django_example.request_id import current_request_id

LOG_FORMATS = ("text", "json")

# The `extra` fields this project logs (auth0_jwt's rejections and JWKS fetches, the access log);
# anything else a library attaches to a record (a request object, say) is left out.
EXTRA_FIELDS = (
    "event",
    "reason",
    "kid",
    "iss",
    "client",
    "outcome",
    "duration_ms",
    "key_count",
    "kept_stale_keys",
    "jwks",
    "method",
    "path",
    "status",
    "status_code",
    "size",
    "pid",
)

_SECRETS = (
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1[redacted]"),
    (re.compile(r"(?i)\b((?:access|id|refresh)_token=)[^&\s\"']*"), r"\1[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
)


# Every secret above contains one of these, in any case; text without any (nearly every line) is
# left as it is after three substring scans of its lower-case copy, 7x cheaper than a
# case-insensitive regex scan.
_SECRET_MARKERS = ("bearer", "_token=", "eyj")


def redact(text: str) -> str:
    """`text` with bearer tokens, JWTs and token query parameters replaced."""
    lowered = text.lower()
    if not any(marker in lowered for marker in _SECRET_MARKERS):
        return text
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


class RequestIdFilter(logging.Filter):
    """Gives every record a `request_id`: the current request's, or None outside requests."""

    def filter(self, record):
        if getattr(record, "request_id", None) is None:
            # django.request logs a finished request's status after the middleware has returned,
            # but hands over the request itself.
            record.request_id = current_request_id() or getattr(
                getattr(record, "request", None), "request_id", None
            )
        return True


def _extras(record) -> dict:
    attributes = record.__dict__  # `extra` fields are set there; one lookup each, no getattr
    return {name: attributes[name] for name in EXTRA_FIELDS if name in attributes}


# Characters json.dumps(ensure_ascii=False) escapes in a string, besides the quote and backslash.
_JSON_CONTROL = re.compile(r"[\x00-\x1f]")


def _json_string(value) -> str:
    """`json.dumps(value, ensure_ascii=False)` for a str, None, int or float, faster for the
    strings an access line holds (no control character: only the quote and backslash to escape)."""
    kind = value.__class__
    if kind is str:
        if _JSON_CONTROL.search(value):
            return json.dumps(value, ensure_ascii=False)
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if kind is int or kind is float:
        return repr(value)  # as json.dumps writes finite numbers
    if value is None:
        return "null"
    return json.dumps(value, default=str, ensure_ascii=False)


class _PerSecond:
    """A time text that changes once a second, formatted once a second, not once a line."""

    def __init__(self, render):
        self.render = render
        self.second = None
        self.text = ""

    def __call__(self, created: float) -> str:
        second = int(created)
        if second != self.second:
            self.second, self.text = second, self.render(second)
        return self.text


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message key=value ...`, redacted."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id_text)s] %(message)s")
        self._local_second = _PerSecond(
            lambda second: time.strftime(self.default_time_format, self.converter(second))
        )

    def format(self, record):
        record.request_id_text = getattr(record, "request_id", None) or "-"
        if getattr(record, "event", None) == "http_access" and not record.exc_info:
            # The access line itself already says all of it; as Formatter.format would write it,
            # with the date and time formatted once a second.
            asctime = f"{self._local_second(record.created)},{int(record.msecs):03d}"
            return redact(
                f"{asctime} {record.levelname} {record.name} [{record.request_id_text}] "
                f"{record.getMessage()}"
            )
        line = super().format(record)
        fields = " ".join(
            f"{name}={json.dumps(value, default=str)}" for name, value in _extras(record).items()
        )
        return redact(f"{line} {fields}" if fields else line)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and the known extras."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._utc_second = _PerSecond(
            lambda second: datetime.fromtimestamp(second, UTC).isoformat(timespec="seconds")
        )

    def format(self, record):
        if record.name == ACCESS_LOGGER and not record.exc_info:
            return self._format_access(record)
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
            **_extras(record),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(entry, default=str, ensure_ascii=False))

    def _format_access(self, record) -> str:
        """`format()`'s line for an access record, key for key, without json.dumps of the whole
        entry: the access middleware's fields are known (ACCESS_FIELDS, in EXTRA_FIELDS order)."""
        seconds = self._utc_second(record.created)  # 2026-12-03T00:52:09+00:00
        attributes = record.__dict__
        request_id = attributes.get("request_id") or current_request_id()
        line = (
            f'{{"time": "{seconds[:19]}.{int(record.msecs):03d}{seconds[19:]}", '
            f'"level": "{record.levelname}", "logger": "{record.name}", '
            f'"message": {_json_string(record.getMessage())}, '
            f'"request_id": {_json_string(request_id)}, "event": "http_access", '
            f'"client": {_json_string(attributes["client"])}, '
            f'"duration_ms": {_json_string(attributes["duration_ms"])}, '
            f'"method": {_json_string(attributes["method"])}, '
            f'"path": {_json_string(attributes["path"])}, '
            f'"status": {_json_string(attributes["status"])}, '
            f'"size": {_json_string(attributes["size"])}, "pid": {attributes["pid"]}}}'
        )
        return redact(line)


# The logger of the application's access lines (access_log.py): every record of it carries these
# fields, in EXTRA_FIELDS order, which is what _format_access writes.
ACCESS_LOGGER = "auth0_django_example.access"
ACCESS_FIELDS = ("event", "client", "duration_ms", "method", "path", "status", "size", "pid")


def logging_config(log_format: str = "text", level: str = "INFO") -> dict:
    """The dictConfig for this service: one stream handler on stderr for everything."""
    handler = {
        "class": "logging.StreamHandler",
        "formatter": log_format if log_format in LOG_FORMATS else "text",
        "filters": ["request_id"],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {"text": {"()": TextFormatter}, "json": {"()": JSONFormatter}},
        "handlers": {"console": handler},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own defaults would print these a second time (or mail them): route them here.
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.server": {"handlers": [], "level": level, "propagate": True},
            # 4xx answers are routine for an API (the access log has them); keep 5xx and errors.
            "django.request": {"handlers": [], "level": "ERROR", "propagate": True},
            "gunicorn.error": {"handlers": [], "level": level, "propagate": True},
            "gunicorn.access": {"handlers": [], "level": level, "propagate": True},
        },
    }
