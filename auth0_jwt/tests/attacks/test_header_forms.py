"""Authorization header forms: what counts as Bearer credentials, and how bad ones are refused.

Extends test_authentication.py (which covers the basic cases: casing, spaces, empty header,
`Basic`, a scheme with no token, two tokens, non-b64token characters, a token in the URL).
"""

import pytest

from auth0_jwt.tests.attacks.support import (
    PRIVATE,
    SCOPED,
    assert_accepted,
    assert_invalid_request,
    assert_invalid_token,
    assert_no_credentials,
    claims,
    rs256,
)

pytestmark = pytest.mark.django_db

NO_TOKEN = "The Authorization header has no token after Bearer."
ONE_TOKEN = "The Authorization header must hold exactly one token."
BAD_CHARACTERS = "The access token contains characters that are not allowed."
IN_URL = "Send the access token in the Authorization header, not in the URL."
TOO_LONG = "The token is longer than 16384 characters."


@pytest.mark.parametrize("path", [PRIVATE, SCOPED])
def test_request_without_an_authorization_header_is_401_without_an_error(api_client, path):
    assert_no_credentials(api_client.get(path))


@pytest.mark.parametrize(
    "scheme", ["Basic", "Token", "JWT", "DPoPx", "Bearer-Token", "Bearerx", "Beare", "OAuth"]
)
def test_valid_token_under_another_scheme_is_not_taken_as_credentials(
    api_client, make_token, scheme
):
    assert_no_credentials(api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"{scheme} {make_token()}"))


def test_valid_token_glued_to_the_scheme_is_not_taken_as_credentials(api_client, make_token):
    assert_no_credentials(api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer:{make_token()}"))


def test_valid_token_without_any_scheme_is_not_taken_as_credentials(api_client, make_token):
    assert_no_credentials(api_client.get(PRIVATE, HTTP_AUTHORIZATION=make_token()))


@pytest.mark.parametrize("header", ["Bearer   ", "bearer\t", " \tBEARER \t "])
def test_scheme_followed_only_by_whitespace_is_400_no_token(api_client, header):
    assert_invalid_request(api_client.get(PRIVATE, HTTP_AUTHORIZATION=header), NO_TOKEN)


def test_tab_separates_the_scheme_from_the_token_like_a_space(api_client, make_token):
    assert_accepted(api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer\t{make_token()}"))


@pytest.mark.parametrize(
    "separator",
    ["\xa0", "\x85", "\x0b", "\x0c", "\x1c", "\x1f", "\u3000"],
    ids=["nbsp", "nel", "vt", "ff", "fs", "us", "ideographic-space"],
)
def test_non_http_whitespace_after_bearer_is_not_the_bearer_scheme(
    api_client, make_token, separator
):
    # Regression: str.split() took these for separators, so "Bearer\xa0<token>" was a 200 here
    # while proxies and other servers read it as an unknown scheme.
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer{separator}{make_token()}")
    assert_no_credentials(response)


@pytest.mark.parametrize("suffix", ["\x00", "\x1f", "\xa0", "\x85", "\r", "\n"])
def test_control_or_non_ascii_character_after_the_token_is_400(api_client, make_token, suffix):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {make_token()}{suffix}")
    assert_invalid_request(response, BAD_CHARACTERS)


@pytest.mark.parametrize(
    "token", ["\xff\xfe\xfd", "eyJ\xe9.eyJ.sig", "Ã©Ã¨", "a.b.c\x00"], ids=repr
)
def test_latin1_bytes_in_the_token_are_400(api_client, token):
    # WSGI hands header bytes to Django decoded as latin-1; these are what raw bytes become.
    assert_invalid_request(
        api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {token}"), BAD_CHARACTERS
    )


def test_same_token_twice_is_400(api_client, make_token):
    token = make_token()
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {token} {token}")
    assert_invalid_request(response, ONE_TOKEN)


@pytest.mark.parametrize("joiner", [",", ", "])
def test_two_bearer_headers_joined_by_a_proxy_are_400(
    api_client, make_token, other_rsa_key, joiner
):
    # Servers join repeated headers with commas (WSGI's environ holds one string per header).
    first, second = make_token(), make_token(key=other_rsa_key, kid="attacker")
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {first}{joiner}Bearer {second}")
    assert_invalid_request(response, ONE_TOKEN)


def test_two_tokens_joined_by_a_comma_are_400(api_client, make_token):
    token = make_token()
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {token},{token}")
    assert_invalid_request(response, BAD_CHARACTERS)


@pytest.mark.parametrize(
    "query", ["access_token={token}", "access_token=", "x=1&access_token=a.b.c"]
)
def test_token_in_the_query_next_to_a_valid_header_is_400(api_client, make_token, query):
    token = make_token()
    response = api_client.get(
        f"{PRIVATE}?{query.format(token=token)}", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert_invalid_request(response, IN_URL)


def test_token_in_the_query_of_the_scoped_endpoint_is_400(api_client, make_token):
    token = make_token(scope="read:messages")
    assert_invalid_request(api_client.get(f"{SCOPED}?access_token={token}"), IN_URL)


def test_token_in_a_form_body_is_not_read_as_credentials(api_client, make_token):
    response = api_client.post(PRIVATE, {"access_token": make_token()}, format="multipart")
    assert_no_credentials(response)


def test_token_one_character_over_16_kib_is_refused_before_parsing(api_client):
    assert_invalid_token(
        api_client.get(PRIVATE, HTTP_AUTHORIZATION="Bearer " + "a" * (16 * 1024 + 1)), TOO_LONG
    )


def test_megabyte_header_is_refused_as_too_long(api_client):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION="Bearer " + "a.b" * 350_000)
    assert_invalid_token(response, TOO_LONG)


def test_megabyte_header_of_many_tokens_is_400(api_client):
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION="Bearer" + " a.b.c" * 200_000)
    assert_invalid_request(response, ONE_TOKEN)


def _signed_token_of_length(rsa_key, length):
    """A valid token exactly `length` characters long (a padding claim and header field)."""
    base = len(rs256(rsa_key, claims(pad=""), pad=""))
    for header_pad in range(3):
        for extra in range(3):
            payload_pad = (length - base) * 3 // 4 - header_pad - extra
            token = rs256(rsa_key, claims(pad="x" * payload_pad), pad="x" * header_pad)
            if len(token) == length:
                return token
    raise AssertionError(f"no token of exactly {length} characters")


def test_validly_signed_token_of_exactly_16_kib_is_accepted(api_client, rsa_key):
    token = _signed_token_of_length(rsa_key, 16 * 1024)
    assert len(token) == 16 * 1024
    assert_accepted(api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {token}"))


def test_validly_signed_token_over_16_kib_is_refused(api_client, rsa_key):
    token = _signed_token_of_length(rsa_key, 16 * 1024 + 1)
    assert len(token) > 16 * 1024
    assert_invalid_token(api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {token}"), TOO_LONG)
