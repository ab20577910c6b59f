"""Token structure: segment counts, base64url, what the header and payload decode to, JWS JSON
serialization, JWE, and tampering with a validly signed token. All 401 `invalid_token`.

Extends test_authentication.py (plain strings like "abc", "a.b", "a.b.c.d" and a dotted JWE shape).
"""

import base64
import json

import pytest

from auth0_jwt.tests.attacks.support import (
    BAD_SIGNATURE,
    NOT_THREE_SEGMENTS,
    PRIVATE,
    assert_accepted,
    assert_invalid_request,
    assert_invalid_token,
    claims,
    raw_token,
    rs256,
)
from conftest import KID, b64url, bearer

pytestmark = pytest.mark.django_db

HEADER = {"alg": "RS256", "kid": KID, "typ": "JWT"}
HEADER_MALFORMED = "The token's header is malformed."
PAYLOAD_MALFORMED = "The token's payload is malformed."
JWE = "Encrypted tokens (JWE) are not accepted; send a signed JWT."


@pytest.fixture
def token(rsa_key):
    return rs256(rsa_key, claims())


def segments(token):
    return token.split(".")


# --- Segments -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "reshape",
    [
        lambda h, p, s: f"{h}.{p}",
        lambda h, p, s: f"{h}.{p}.",
        lambda h, p, s: f"{h}..{s}",
        lambda h, p, s: f".{p}.{s}",
        lambda h, p, s: f"{h}.{p}.{s}.{s}",
        lambda h, p, s: f"{h}.{p}.{s}.{p}.{s}.{s}",
        lambda h, p, s: f"{h}.{p}.{s}.",
        lambda h, p, s: f".{h}.{p}.{s}",
    ],
    ids=[
        "no-signature",
        "empty-signature",
        "empty-payload",
        "empty-header",
        "four",
        "six",
        "trailing-dot",
        "leading-dot",
    ],
)
def test_valid_token_with_segments_removed_or_added_is_malformed(api_client, token, reshape):
    response = api_client.get(PRIVATE, **bearer(reshape(*segments(token))))
    assert_invalid_token(response, NOT_THREE_SEGMENTS)


@pytest.mark.parametrize(
    "header",
    [
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": KID},
        {"alg": "dir", "enc": "A128CBC-HS256"},
    ],
)
def test_jwe_compact_token_is_refused(api_client, header):
    parts = [json.dumps(header).encode(), b"k" * 256, b"iv" * 6, b"ciphertext", b"tag" * 5]
    token = ".".join(b64url(part) for part in parts)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), JWE)


# --- base64url ------------------------------------------------------------------------------------


def test_header_in_standard_base64_is_malformed(api_client, token):
    header = json.dumps({**HEADER, "x": "?>?>"}).encode()  # "+" in standard base64
    header += b" " * (-len(header) % 3)  # no padding
    h = base64.b64encode(header).decode()
    assert "+" in h and "=" not in h
    _, p, s = segments(token)
    assert_invalid_token(api_client.get(PRIVATE, **bearer(f"{h}.{p}.{s}")), NOT_THREE_SEGMENTS)


def test_padded_header_is_400_because_padding_may_only_end_a_b64token(api_client, token):
    header = json.dumps(HEADER).encode()
    header += b" " * ((1 - len(header)) % 3)  # 3k+1 bytes: two "=" of padding
    h = base64.urlsafe_b64encode(header).decode()
    assert h.endswith("==")
    _, p, s = segments(token)
    assert_invalid_request(
        api_client.get(PRIVATE, **bearer(f"{h}.{p}.{s}")),
        "The access token contains characters that are not allowed.",
    )


def test_padded_signature_is_malformed(api_client, token):
    h, p, s = segments(token)
    padded = s + "=" * (-len(s) % 4)
    assert padded.endswith("=")
    assert_invalid_token(api_client.get(PRIVATE, **bearer(f"{h}.{p}.{padded}")), NOT_THREE_SEGMENTS)


def test_header_segment_of_impossible_base64_length_is_malformed(api_client, token):
    h, p, s = segments(token)
    bad = h + "A" * ((1 - len(h)) % 4)  # 4k+1 characters cannot be base64
    assert len(bad) % 4 == 1
    assert_invalid_token(api_client.get(PRIVATE, **bearer(f"{bad}.{p}.{s}")), HEADER_MALFORMED)


def test_payload_segment_of_impossible_base64_length_is_malformed(api_client, token):
    h, p, s = segments(token)
    bad = p + "A" * ((1 - len(p)) % 4)
    assert len(bad) % 4 == 1
    assert_invalid_token(api_client.get(PRIVATE, **bearer(f"{h}.{bad}.{s}")), PAYLOAD_MALFORMED)


# --- What the header decodes to -------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        b"not json",
        b"\xff\xfe{}",
        b'{"alg": "RS256", "kid": "test-key-1"',
        b'["RS256", "test-key-1"]',
        b'"RS256"',
        b"null",
        b"256",
        b"",
        b"[" * 5000 + b"]" * 5000,
        b'{"alg": "RS256", "kid": "test-key-1"} trailing',
    ],
    ids=[
        "text",
        "invalid-utf8",
        "truncated",
        "array",
        "string",
        "null",
        "number",
        "empty",
        "deeply-nested",
        "trailing-garbage",
    ],
)
def test_header_that_is_not_a_json_object_is_malformed(api_client, header):
    token = raw_token(header, claims())
    if header == b"":
        assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), NOT_THREE_SEGMENTS)
    else:
        assert_invalid_token(api_client.get(PRIVATE, **bearer(token)), HEADER_MALFORMED)


# --- What the payload decodes to ------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"not json",
        b"\xc3\x28",
        b'["auth0|user-1"]',
        b'"auth0|user-1"',
        b"null",
        b"true",
        b"{" * 3000,
        b'{"sub": "auth0|user-1"}{}',
    ],
    ids=["text", "invalid-utf8", "array", "string", "null", "true", "unclosed", "two-objects"],
)
def test_signed_payload_that_is_not_a_json_object_is_malformed(api_client, rsa_key, payload):
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(rs256(rsa_key, payload))), PAYLOAD_MALFORMED
    )


def test_nested_jwt_as_the_payload_is_malformed(api_client, rsa_key, token):
    nested = rs256(rsa_key, token.encode(), cty="JWT")
    assert_invalid_token(api_client.get(PRIVATE, **bearer(nested)), PAYLOAD_MALFORMED)


def test_nested_claim_value_is_fine(api_client, rsa_key):
    payload = json.dumps(claims(deep="@")).replace('"@"', "[" * 100 + "]" * 100).encode()
    assert_accepted(api_client.get(PRIVATE, **bearer(rs256(rsa_key, payload))))


def test_payload_nested_past_the_parser_limit_is_malformed(api_client, rsa_key):
    payload = json.dumps(claims(deep="@")).replace('"@"', "[" * 5000 + "]" * 5000).encode()
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(rs256(rsa_key, payload))), PAYLOAD_MALFORMED
    )


@pytest.mark.parametrize(
    ("first", "last", "detail"),
    [
        ('"exp": 1', '"exp": {exp}', None),
        (
            '"exp": {exp}',
            '"exp": "9999999999"',
            "The token's exp claim is not a number of seconds.",
        ),
        ('"sub": "auth0|user-1"', '"sub": ""', "The token's sub claim is empty or not a string."),
    ],
    ids=["last-valid", "last-string", "last-empty-sub"],
)
def test_duplicate_claim_names_are_read_as_the_last_one_everywhere(
    api_client, rsa_key, first, last, detail
):
    # RFC 7519 section 4 allows "the lexically last duplicate"; the type checks and the signature
    # check must read the same one.
    valid = claims()
    name = first.split('"')[1]
    body = json.dumps(claims(drop=[name]))[:-1]
    duplicates = f"{first}, {last}".format(exp=valid["exp"])
    response = api_client.get(PRIVATE, **bearer(rs256(rsa_key, f"{body}, {duplicates}}}".encode())))
    if detail is None:
        assert_accepted(response)
    else:
        assert_invalid_token(response, detail)


# --- JWS JSON serialization -----------------------------------------------------------------------


def test_flattened_jws_json_serialization_is_400(api_client, token):
    h, p, s = segments(token)
    flattened = json.dumps({"protected": h, "payload": p, "signature": s})
    response = api_client.get(PRIVATE, HTTP_AUTHORIZATION=f"Bearer {flattened}")
    assert_invalid_request(response, "The Authorization header must hold exactly one token.")


def test_general_jws_json_serialization_encoded_as_one_segment_is_malformed(api_client, token):
    h, p, s = segments(token)
    general = json.dumps({"payload": p, "signatures": [{"protected": h, "signature": s}]})
    response = api_client.get(PRIVATE, **bearer(b64url(general.encode())))
    assert_invalid_token(response, NOT_THREE_SEGMENTS)


# --- Tampering ------------------------------------------------------------------------------------


def test_payload_swapped_under_a_valid_signature_is_rejected(api_client, rsa_key, token):
    h, _, s = segments(token)
    _, p, _ = segments(rs256(rsa_key, claims(sub="auth0|admin")))
    assert_invalid_token(api_client.get(PRIVATE, **bearer(f"{h}.{p}.{s}")), BAD_SIGNATURE)


def test_header_swapped_under_a_valid_signature_is_rejected(api_client, rsa_key, token):
    _, p, s = segments(token)
    h = b64url(json.dumps({"alg": "RS256", "kid": KID, "typ": "at+jwt"}).encode())
    assert_invalid_token(api_client.get(PRIVATE, **bearer(f"{h}.{p}.{s}")), BAD_SIGNATURE)


def swap_first_differing_pair(text: str, *, start: int) -> str:
    """`text` with the first two neighbouring, different characters from `start` swapped (swapping
    equal neighbours would leave the signature valid)."""
    i = next(i for i in range(start, len(text) - 1) if text[i] != text[i + 1])
    return text[:i] + text[i + 1] + text[i] + text[i + 2 :]


@pytest.mark.parametrize(
    "signature",
    [
        lambda s: s[:-10],
        lambda s: s + "AAAA",
        lambda s: "A" * len(s),
        lambda s: swap_first_differing_pair(s, start=100),
    ],
    ids=["truncated", "extended", "zeros", "two-characters-swapped"],
)
def test_altered_signature_is_rejected(api_client, token, signature):
    h, p, s = segments(token)
    assert_invalid_token(
        api_client.get(PRIVATE, **bearer(f"{h}.{p}.{signature(s)}")), BAD_SIGNATURE
    )
