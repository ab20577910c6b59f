"""Header forms the Django test client cannot send, against a live server over real HTTP:
repeated Authorization headers, raw non-ASCII bytes, obsolete line folding, oversized headers.

Whatever the server makes of them, the answer is a 4xx with the expected challenge: never a 200
for a mismatch, never a 500.
"""

import http.client
import json
from urllib.parse import urlsplit

import pytest

from auth0_jwt.tests.attacks.support import NOT_PROVIDED, PRIVATE

ONE_TOKEN = "The Authorization header must hold exactly one token."
BAD_CHARACTERS = "The access token contains characters that are not allowed."


def send(live_server, headers, path=PRIVATE):
    """GET `path` with `headers`, a list of (name, str or raw bytes) sent exactly as given."""
    address = urlsplit(live_server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.putrequest("GET", path)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def assert_answer(answer, status, detail=None, error=None):
    actual_status, headers, body = answer
    assert actual_status == status, body
    if detail is None:
        return
    assert json.loads(body) == {"detail": detail}
    challenge = 'Bearer realm="api"'
    if error:
        challenge += f', error="{error}", error_description="{detail}"'
    else:  # no credentials: both schemes are offered (AUTH0_DPOP=allowed, the default)
        challenge += ', DPoP algs="ES256"'
    assert headers["WWW-Authenticate"] == challenge


@pytest.fixture
def token(make_token):
    return make_token()


def test_valid_token_is_accepted_over_http(live_server, token):
    status, _, body = send(live_server, [("Authorization", f"Bearer {token}")])
    assert status == 200
    assert json.loads(body)["sub"] == "auth0|user-1"


@pytest.mark.parametrize(
    "second",
    ["same", "attacker", "garbage"],
)
def test_two_bearer_headers_are_400(live_server, token, make_token, other_rsa_key, second):
    other = {
        "same": token,
        "attacker": make_token(key=other_rsa_key, kid="attacker", sub="auth0|admin"),
        "garbage": "a.b.c",
    }[second]
    answer = send(
        live_server, [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {other}")]
    )
    assert_answer(answer, 400, ONE_TOKEN, "invalid_request")


def test_bearer_header_then_basic_header_is_400(live_server, token):
    answer = send(
        live_server, [("Authorization", f"Bearer {token}"), ("Authorization", "Basic dXNlcjpw")]
    )
    assert_answer(answer, 400, ONE_TOKEN, "invalid_request")


@pytest.mark.parametrize("first", ["Basic dXNlcjpw", ""], ids=["basic", "empty"])
def test_valid_bearer_header_after_another_header_is_not_taken(live_server, token, first):
    answer = send(live_server, [("Authorization", first), ("Authorization", f"Bearer {token}")])
    assert_answer(answer, 401, NOT_PROVIDED)


def test_header_plus_access_token_query_is_400_over_http(live_server, token):
    answer = send(
        live_server, [("Authorization", f"Bearer {token}")], path=f"{PRIVATE}?access_token={token}"
    )
    assert_answer(
        answer,
        400,
        "Send the access token in the Authorization header, not in the URL.",
        "invalid_request",
    )


@pytest.mark.parametrize(
    "raw",
    [b"Bearer \xe9\xff\xfe", "Bearer é.b.c".encode(), b"Bearer a.b.c\x7f"],
    ids=["latin-1", "utf-8", "del"],
)
def test_raw_non_ascii_bytes_in_the_token_are_400(live_server, raw):
    assert_answer(
        send(live_server, [("Authorization", raw)]), 400, BAD_CHARACTERS, "invalid_request"
    )


@pytest.mark.parametrize("separator", [b"\xa0", b"\x85", b"\x0b"], ids=["nbsp", "nel", "vt"])
def test_raw_non_http_whitespace_after_bearer_is_not_the_bearer_scheme(
    live_server, token, separator
):
    raw = b"Bearer" + separator + token.encode()
    assert_answer(send(live_server, [("Authorization", raw)]), 401, NOT_PROVIDED)


def test_obsolete_line_folding_never_accepts_the_token(live_server, token):
    # RFC 9112 section 5.2 obs-fold: a server must refuse it or read it as a space. Django's
    # server keeps the CRLF, which makes "Bearer\r\n" an unknown scheme.
    answer = send(live_server, [("Authorization", f"Bearer\r\n {token}")])
    assert_answer(answer, 401, NOT_PROVIDED)


def test_20_kib_token_is_401_too_long_over_http(live_server):
    answer = send(live_server, [("Authorization", "Bearer " + "a" * 20 * 1024)])
    assert_answer(answer, 401, "The token is longer than 16384 characters.", "invalid_token")


def test_header_line_over_64_kib_is_refused_by_the_server(live_server):
    status, _, _ = send(live_server, [("Authorization", "Bearer " + "a" * 70 * 1024)])
    assert status == 431  # http.server: "Line too long"


def test_more_than_100_headers_are_refused_by_the_server(live_server, token):
    headers = [("X-Pad", "a")] * 120 + [("Authorization", f"Bearer {token}")]
    status, _, _ = send(live_server, headers)
    assert status == 431  # http.server: "Too many headers"
