"""A JSON parser with a body-size limit.

DRF's JSONParser reads the request stream directly, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE (which
guards `request.body`) does not apply to it; this parser reads at most `max_body_size` bytes and
refuses anything longer with 413 before parsing.
"""

import io

from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

MAX_BODY_SIZE = 64 * 1024


class RequestBodyTooLarge(APIException):
    """The request body is over the parser's limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


class LimitedJSONParser(JSONParser):
    """JSON bodies of at most `max_body_size` bytes."""

    max_body_size = MAX_BODY_SIZE

    def parse(self, stream, media_type=None, parser_context=None):
        body = stream.read(self.max_body_size + 1)
        if len(body) > self.max_body_size:
            raise RequestBodyTooLarge(
                f"The request body is larger than {self.max_body_size} bytes."
            )
        try:
            return super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            # json's decoder gives up on deeply nested arrays with RecursionError, not ValueError.
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
