"""Request ids: taken from `X-Request-ID` when it is a sane value, else generated; returned in the
response and attached to every log line written while the request is handled."""

import contextvars
import re
import uuid

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META_KEY = "HTTP_X_REQUEST_ID"
# What a proxy or client may hand us: short, printable, no spaces or separators to forge log fields.
VALID_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,128}")

_current_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)


def current_request_id() -> str | None:
    """The id of the request being handled in this thread or task, or None outside requests."""
    return _current_request_id.get()


def request_id_from(header_value: str | None) -> str:
    """The caller's id if it is valid, else a new random one (uuid4, 32 hex digits)."""
    if header_value and VALID_REQUEST_ID.fullmatch(header_value):
        return header_value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets `request.request_id` and the `X-Request-ID` response header; first in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        # META, not request.headers: that would build a mapping of every header for one lookup.
        request_id = request_id_from(request.META.get(REQUEST_ID_META_KEY))
        request.request_id = request_id
        token = _current_request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            _current_request_id.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response
