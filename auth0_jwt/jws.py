"""Compact JWS helpers shared by the token verifier, DPoP proofs and the local issuer: the shape
of a compact JWS, base64url, reading one segment as JSON (untrusted), and NumericDate values.

It knows JOSE's encodings only: no keys, no claims rules, no Django.
"""

import base64
import json
import math
import re
from typing import Any

# Three non-empty base64url segments separated by dots.
COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")


class MalformedSegment(ValueError):
    """A segment of a compact JWS is not base64url-encoded JSON of the expected kind."""


def b64url(data: bytes) -> str:
    """Unpadded base64url (RFC 7515 section 2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(segment: str) -> bytes:
    """The bytes of a base64url segment (ValueError if it is none, e.g. of length 4n+1)."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def json_segment(compact: str, index: int) -> dict[str, Any]:
    """Segment `index` of a compact JWS as a JSON object, untrusted; MalformedSegment if the segment
    is missing, is not base64url, is not JSON or is not an object."""
    segments = compact.split(".")
    if index >= len(segments):
        raise MalformedSegment("missing")
    try:
        value = json.loads(b64url_decode(segments[index]))
    except (ValueError, TypeError, RecursionError):
        raise MalformedSegment("malformed") from None
    if not isinstance(value, dict):
        raise MalformedSegment("malformed")
    return value


def is_numeric_date(value: Any) -> bool:
    """A JSON number of seconds (RFC 7519 NumericDate): not a bool, a string, NaN or infinity."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # a JSON integer too large for a float, e.g. 1e400 written out
        return False
