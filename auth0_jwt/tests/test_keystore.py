"""The key store against a real JWKS server on 127.0.0.1, on a fake clock."""

import base64
import datetime
import threading
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from auth0_jwt.keystore import (
    HTTPJWKSSource,
    JWKSError,
    JWKSKeyStore,
    KeySetUnavailable,
    UnknownSigningKey,
    parse_jwks,
)
from conftest import KID, public_jwk

_SHA256 = hashes.SHA256()


def make_store(server, clock, **options):
    options.setdefault("min_refetch_interval", 30)
    options.setdefault("cache_lifetime", 600)
    return JWKSKeyStore(HTTPJWKSSource(server.jwks_url, timeout=5), clock=clock, **options)


def self_signed_certificate(private_key, algorithm=_SHA256) -> x509.Certificate:
    """A day's self-signed certificate of `private_key` (`algorithm=None` for Ed25519)."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test")])
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private_key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(private_key, algorithm)
    )


def certificate_b64(private_key, algorithm=_SHA256) -> str:
    """`self_signed_certificate`, base64 DER as an x5c entry holds it."""
    certificate = self_signed_certificate(private_key, algorithm)
    return base64.b64encode(certificate.public_bytes(serialization.Encoding.DER)).decode()


# --- Parsing --------------------------------------------------------------------------------------


def test_key_with_x5c_matching_its_parameters_is_used(rsa_key):
    jwk = public_jwk(rsa_key, x5c=[certificate_b64(rsa_key)])
    keys, skipped = parse_jwks({"keys": [jwk]}, algorithms=("RS256",))
    assert keys[KID].public_key.public_numbers() == rsa_key.public_key().public_numbers()
    assert skipped == []


def test_key_with_only_x5c_is_built_from_the_certificate(rsa_key):
    jwk = {"kty": "RSA", "use": "sig", "kid": KID, "x5c": [certificate_b64(rsa_key)]}
    keys, _ = parse_jwks({"keys": [jwk]}, algorithms=("RS256",))
    assert keys[KID].public_key.public_numbers() == rsa_key.public_key().public_numbers()


def test_key_whose_x5c_does_not_match_its_parameters_is_skipped(rsa_key, other_rsa_key):
    bad = public_jwk(rsa_key, kid="bad", x5c=[certificate_b64(other_rsa_key)])
    good = public_jwk(rsa_key)
    keys, skipped = parse_jwks({"keys": [bad, good]}, algorithms=("RS256",))
    assert list(keys) == [KID]
    assert skipped == ["key 0: the x5c certificate does not match the key parameters"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("not-an-object", "not a JSON object"),
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "no kid"),
        ({"kty": "RSA", "kid": 7, "n": "AQAB", "e": "AQAB"}, "no kid"),
        (
            {"kty": "oct", "kid": "h", "k": "c2VjcmV0"},
            "key type 'oct' does not fit the accepted algorithms",
        ),
        (
            {"kty": "RSA", "kid": "enc", "use": "enc", "n": "AQAB", "e": "AQAB"},
            "not a signature key",
        ),
        (
            {"kty": "RSA", "kid": "x", "key_ops": ["encrypt"], "n": "AQAB", "e": "AQAB"},
            "key_ops does not allow verify",
        ),
        ({"kty": "RSA", "kid": "x"}, "neither key parameters nor an x5c certificate"),
        (
            {"kty": "RSA", "kid": "x", "n": 5, "e": "AQAB"},
            "key parameters n, e must all be strings",
        ),
        ({"kty": "RSA", "kid": "x", "x5c": "MII"}, "x5c is not a list of certificates"),
        (
            {"kty": "RSA", "kid": "x", "x5c": ["bm90IGEgY2VydA=="]},
            "x5c does not hold a valid certificate",
        ),
    ],
)
def test_malformed_key_is_skipped_and_the_others_still_serve(rsa_key, entry, reason):
    keys, skipped = parse_jwks({"keys": [entry, public_jwk(rsa_key)]}, algorithms=("RS256",))
    assert list(keys) == [KID]
    assert skipped == [f"key 0: {reason}"]


def test_rsa_key_shorter_than_2048_bits_is_skipped(rsa_key):
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    keys, skipped = parse_jwks(
        {"keys": [public_jwk(small, kid="small"), public_jwk(rsa_key)]}, algorithms=("RS256",)
    )
    assert list(keys) == [KID]
    assert skipped == ["key 0: RSA key shorter than 2048 bits"]


def test_published_private_key_is_refused(rsa_key):
    leaked = public_jwk(rsa_key, kid="leaked", d="AQAB")
    keys, skipped = parse_jwks({"keys": [leaked, public_jwk(rsa_key)]}, algorithms=("RS256",))
    assert list(keys) == [KID]
    assert skipped == ["key 0: a private key was published"]


def test_duplicate_kid_keeps_the_first_key(rsa_key, other_rsa_key):
    keys, skipped = parse_jwks(
        {"keys": [public_jwk(rsa_key), public_jwk(other_rsa_key)]}, algorithms=("RS256",)
    )
    assert keys[KID].public_key.public_numbers() == rsa_key.public_key().public_numbers()
    assert skipped == [f"key 1: duplicate kid '{KID}'"]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], 'the JWKS is not an object with a "keys" list'),
        ({"keys": {}}, 'the JWKS is not an object with a "keys" list'),
        ({"keys": []}, "the JWKS holds no usable signing key"),
        ({"keys": [{"kty": "RSA"}]}, "the JWKS holds no usable signing key (key 0: no kid)"),
    ],
)
def test_document_without_usable_keys_is_an_error(document, message):
    with pytest.raises(JWKSError) as excinfo:
        parse_jwks(document, algorithms=("RS256",))
    assert str(excinfo.value) == message


# --- Fetching over HTTP ---------------------------------------------------------------------------


def test_http_source_reads_the_key_set(jwks_server, rsa_key):
    assert HTTPJWKSSource(jwks_server.jwks_url, timeout=5)() == {"keys": [public_jwk(rsa_key)]}


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (500, b"{}", "the JWKS endpoint answered HTTP 500"),
        (200, b"<html>maintenance</html>", "the JWKS endpoint did not return JSON"),
    ],
)
def test_http_source_reports_bad_answers(jwks_server, status, body, message):
    jwks_server.status, jwks_server.body = status, body
    with pytest.raises(JWKSError) as excinfo:
        HTTPJWKSSource(jwks_server.jwks_url, timeout=5)()
    assert str(excinfo.value) == message


def test_http_source_gives_up_on_a_slow_server(jwks_server):
    jwks_server.delay = 1.5
    with pytest.raises(JWKSError) as excinfo:
        HTTPJWKSSource(jwks_server.jwks_url, timeout=0.2)()
    assert str(excinfo.value) == "the JWKS host did not answer within 0.2 s"


def test_http_source_reports_a_refused_connection(unused_tcp_port):
    with pytest.raises(JWKSError) as excinfo:
        HTTPJWKSSource(f"http://127.0.0.1:{unused_tcp_port}/jwks.json", timeout=1)()
    assert str(excinfo.value) == "the JWKS host refused the connection"


def test_http_source_refuses_an_oversized_key_set(jwks_server):
    jwks_server.body = b'{"keys": [' + b" " * (1024 * 1024 + 1) + b"]}"
    with pytest.raises(JWKSError) as excinfo:
        HTTPJWKSSource(jwks_server.jwks_url, timeout=5)()
    assert str(excinfo.value) == "the JWKS is larger than 1048576 bytes"


@pytest.fixture
def unused_tcp_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Caching, rotation and rate limits ------------------------------------------------------------


def test_keys_are_built_once_per_key_set(jwks_server, clock):
    store = make_store(jwks_server, clock)
    first = store.get_key(KID)
    assert store.get_key(KID) is first
    assert jwks_server.fetches == 1


def test_newly_published_key_is_found_with_one_refetch(jwks_server, clock, rsa_key, other_rsa_key):
    store = make_store(jwks_server, clock, min_refetch_interval=30)
    store.get_key(KID)
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="rotated"))
    assert store.get_key("rotated").kid == "rotated"
    assert jwks_server.fetches == 2
    assert store.key_set.version == 2


def test_key_published_one_second_after_start_is_found_with_exactly_one_refetch(
    jwks_server, clock, rsa_key, other_rsa_key
):
    # Regression: an unknown kid used to refetch only when no fetch of any kind (the start-up
    # one included) happened in the last interval, so a key used within 30 s of it was refused.
    store = make_store(jwks_server, clock, min_refetch_interval=30)
    assert store.refresh()  # the start-up fetch
    clock.advance(1)
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="rotated"))
    assert store.get_key("rotated").kid == "rotated"
    assert jwks_server.fetches == 2
    assert store.get_key("rotated").kid == "rotated"
    assert jwks_server.fetches == 2


def test_flood_of_unknown_kids_right_after_start_causes_at_most_one_refetch(jwks_server, clock):
    store = make_store(jwks_server, clock, min_refetch_interval=30)
    assert store.refresh()
    for number in range(40):
        with pytest.raises(UnknownSigningKey):
            store.get_key(f"bogus-{number}")
    assert jwks_server.fetches == 2


def test_unknown_kid_refetches_at_most_once_per_interval_among_themselves(jwks_server, clock):
    store = make_store(jwks_server, clock, min_refetch_interval=30)
    store.get_key(KID)
    with pytest.raises(UnknownSigningKey):
        store.get_key("bogus-0")
    assert jwks_server.fetches == 2  # the first unknown kid refetches at once
    clock.advance(29)
    for _ in range(5):
        with pytest.raises(UnknownSigningKey):
            store.get_key("bogus")
    assert jwks_server.fetches == 2
    clock.advance(1)
    for _ in range(5):
        with pytest.raises(UnknownSigningKey):
            store.get_key("bogus-2")
    assert jwks_server.fetches == 3


def test_scheduled_refresh_does_not_delay_the_next_unknown_kid_refetch(
    jwks_server, clock, rsa_key, other_rsa_key
):
    store = make_store(jwks_server, clock, cache_lifetime=600, min_refetch_interval=30)
    store.get_key(KID)
    with pytest.raises(UnknownSigningKey):
        store.get_key("bogus")  # spends the unknown-kid refetch of this interval
    clock.advance(600)
    assert store.get_key(KID).kid == KID  # the scheduled refresh
    assert jwks_server.fetches == 3
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="rotated"))
    clock.advance(1)
    assert store.get_key("rotated").kid == "rotated"
    assert jwks_server.fetches == 4


def test_unknown_kid_in_a_key_set_refreshed_by_the_same_call_does_not_refetch_again(
    jwks_server, clock
):
    store = make_store(jwks_server, clock, cache_lifetime=600)
    store.get_key(KID)
    clock.advance(600)
    with pytest.raises(UnknownSigningKey):
        store.get_key("bogus")  # the scheduled refresh just fetched: no second request for it
    assert jwks_server.fetches == 2


def test_failed_fetch_holds_back_unknown_kid_refetches_for_the_interval(jwks_server, clock):
    store = make_store(jwks_server, clock, cache_lifetime=600, min_refetch_interval=30)
    store.get_key(KID)
    jwks_server.status = 503
    clock.advance(600)
    store.get_key(KID)  # the scheduled refresh fails; the stale keys serve
    assert jwks_server.fetches == 2
    for _ in range(5):
        with pytest.raises(UnknownSigningKey):
            store.get_key("new-key")
    assert jwks_server.fetches == 2  # the IdP is failing: no unknown-kid refetch yet
    clock.advance(30)
    with pytest.raises(UnknownSigningKey):
        store.get_key("new-key")
    assert jwks_server.fetches == 3


def test_failed_refetch_keeps_the_last_good_keys(jwks_server, clock):
    store = make_store(jwks_server, clock)
    good = store.get_key(KID)
    jwks_server.status = 503
    clock.advance(30)
    with pytest.raises(UnknownSigningKey):
        store.get_key("new-key")
    assert store.get_key(KID) is good
    assert store.last_error == "the JWKS endpoint answered HTTP 503"


def test_expired_key_set_is_refreshed_and_a_withdrawn_key_then_fails(
    jwks_server, clock, other_rsa_key
):
    store = make_store(jwks_server, clock, cache_lifetime=600)
    store.get_key(KID)
    jwks_server.publish(public_jwk(other_rsa_key, kid="next"))
    clock.advance(599)
    assert store.get_key(KID).kid == KID  # still cached
    assert jwks_server.fetches == 1
    clock.advance(1)
    with pytest.raises(UnknownSigningKey):
        store.get_key(KID)
    assert store.get_key("next").kid == "next"
    assert jwks_server.fetches == 2  # the refresh, then no extra refetch inside the interval


def test_stale_keys_are_served_when_the_refresh_fails(jwks_server, clock):
    store = make_store(jwks_server, clock, cache_lifetime=600, min_refetch_interval=30)
    key = store.get_key(KID)
    jwks_server.status = 500
    clock.advance(600)
    assert store.get_key(KID) is key
    assert store.get_key(KID) is key
    assert jwks_server.fetches == 2  # one failed refresh, no retry within the interval
    clock.advance(30)
    assert store.get_key(KID) is key
    assert jwks_server.fetches == 3


def test_idp_down_at_start_then_back_recovers_without_restart(jwks_server, clock):
    store = make_store(jwks_server, clock, min_refetch_interval=30)
    jwks_server.status = 500
    with pytest.raises(KeySetUnavailable) as excinfo:
        store.get_key(KID)
    assert str(excinfo.value) == "the JWKS endpoint answered HTTP 500"
    with pytest.raises(KeySetUnavailable):
        store.get_key(KID)
    assert jwks_server.fetches == 1  # no hammering while down
    jwks_server.status = 200
    clock.advance(30)
    assert store.get_key(KID).kid == KID
    assert jwks_server.fetches == 2


def test_concurrent_unknown_kids_share_one_fetch(jwks_server, clock, rsa_key, other_rsa_key):
    store = make_store(jwks_server, clock)
    store.get_key(KID)
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="rotated"))
    jwks_server.delay = 0.3  # right after the start-up fetch: it does not hold the refetch back
    results, barrier = [], threading.Barrier(8)

    def worker():
        barrier.wait()
        results.append(store.get_key("rotated").kid)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == ["rotated"] * 8
    assert jwks_server.fetches == 2


def test_load_in_background_retries_until_the_keys_arrive(jwks_server):
    jwks_server.status = 500
    store = JWKSKeyStore(HTTPJWKSSource(jwks_server.jwks_url, timeout=5))
    thread = store.load_in_background(max_delay=0.05)
    deadline = time.monotonic() + 5
    while jwks_server.fetches < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    jwks_server.status = 200
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert store.key_set is not None
    assert jwks_server.fetches >= 2
