"""Assertions and token builders shared by the attack and fault suite.

Every attack answers one of five ways, each asserted exactly: a 401 with no error (no Bearer
credentials), a 400 `invalid_request`, a 401 `invalid_token`, a 403 `insufficient_scope`, or a
503 while the signing keys cannot be loaded. Anything else (a 200 for a bad token, a 500) fails.
"""

import base64
import hashlib
import hmac
import json
import time

from conftest import AUDIENCE, ISSUER, KID, b64url, sign_compact

PRIVATE = "/api/private/"
SCOPED = "/api/private-scoped/"
NOT_PROVIDED = "Authentication credentials were not provided."
KEYS_UNAVAILABLE = (
    "Tokens cannot be verified right now: the identity provider's signing keys are not loaded "
    "yet. Try again shortly."
)
UNKNOWN_KEY = "The token was signed with a key this API does not know."
BAD_SIGNATURE = "The token's signature is invalid."
ALG_NOT_ACCEPTED = "The token's signing algorithm is not accepted."
NOT_THREE_SEGMENTS = "The token is malformed: expected three base64url segments separated by dots."


def assert_no_credentials(response):
    assert response.status_code == 401
    assert response.json() == {"detail": NOT_PROVIDED}
    # AUTH0_DPOP=allowed (the default) offers both schemes (RFC 9449 section 7.1).
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'


def assert_invalid_request(response, detail):
    assert response.status_code == 400
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="invalid_request", error_description="{detail}"'
    )


def assert_invalid_token(response, detail):
    assert response.status_code == 401
    assert response.json() == {"detail": detail}
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="invalid_token", error_description="{detail}"'
    )


def assert_insufficient_scope(response, scope="read:messages"):
    assert response.status_code == 403
    assert response.json() == {
        "detail": f"The access token lacks the scope this endpoint needs: {scope}."
    }
    assert response["WWW-Authenticate"] == (
        f'Bearer realm="api", error="insufficient_scope", scope="{scope}"'
    )


def assert_accepted(response, sub="auth0|user-1"):
    assert response.status_code == 200, response.content
    assert response.json()["sub"] == sub
    assert "WWW-Authenticate" not in response


def assert_keys_unavailable(response):
    assert response.status_code == 503
    assert response.json() == {"detail": KEYS_UNAVAILABLE}
    assert response["Retry-After"] == "5"
    assert "WWW-Authenticate" not in response


def now() -> int:
    return int(time.time())


def claims(*, drop=(), **overrides) -> dict:
    """Valid claims for this API, with `overrides` applied and the names in `drop` removed."""
    moment = now()
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": "auth0|user-1", "iat": moment}
    payload["exp"] = moment + 3600
    payload.update(overrides)
    for name in drop:
        payload.pop(name, None)
    return payload


def rs256(private_key, payload, **header) -> str:
    """A compact JWS of any payload (dict or raw bytes), RS256-signed, `kid` defaulting to KID."""
    return sign_compact({"alg": "RS256", "kid": KID, **header}, payload, private_key)


def raw_token(header, payload, signature: bytes = b"\x00" * 256) -> str:
    """A compact JWS built from raw header and payload bytes (or JSON values), any signature."""
    segments = [
        part if isinstance(part, bytes) else json.dumps(part).encode() for part in (header, payload)
    ]
    return ".".join(b64url(segment) for segment in [*segments, signature])


def hs256(header: dict, payload: dict, secret: bytes) -> str:
    """A compact JWS MAC'd with HMAC-SHA256 under `secret`: the algorithm-confusion attack."""
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(payload).encode())}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(mac)}"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
