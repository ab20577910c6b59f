"""Log lines as text (development) or one JSON object per line (production), with the request id.

`LOG_FORMAT=json|text` chooses; `logging_config()` builds the dictConfig both Django (the LOGGING
setting) and gunicorn (gunicorn.conf.py) use. Whatever a message holds, the formatters blank out
bearer tokens, JWTs and `access_token` query values before a line is written.
"""

import json
import logging
import re
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
    "pid",
)

_SECRETS = (
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9\-._~+/]+=*"), r"\1[redacted]"),
    (re.compile(r"(?i)\b((?:access|id|refresh)_token=)[^&\s\"']*"), r"\1[redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[redacted-jwt]"),
)


# Every secret above contains one of these; text without any (nearly every line) is left as it is
# after one scan instead of three.
_MAY_HOLD_SECRET = re.compile(r"(?i)bearer|_token=|eyJ")


def redact(text: str) -> str:
    """`text` with bearer tokens, JWTs and token query parameters replaced."""
    if not _MAY_HOLD_SECRET.search(text):
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


class TextFormatter(logging.Formatter):
    """`time level logger [request id] message key=value ...`, redacted."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id_text)s] %(message)s")

    def format(self, record):
        record.request_id_text = getattr(record, "request_id", None) or "-"
        line = super().format(record)
        if getattr(record, "event", None) == "http_access":
            return redact(line)  # the access line itself already says all of it
        fields = " ".join(
            f"{name}={json.dumps(value, default=str)}" for name, value in _extras(record).items()
        )
        return redact(f"{line} {fields}" if fields else line)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id and the known extras."""

    def format(self, record):
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
