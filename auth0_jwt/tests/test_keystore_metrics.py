"""The key store's metrics: each fetch counted by outcome and trigger, timed, and the number of
signing keys; on the fake clock against the real JWKS server."""

import pytest
from prometheus_client import REGISTRY

from auth0_jwt import metrics
from auth0_jwt.keystore import HTTPJWKSSource, JWKSKeyStore, UnknownSigningKey
from conftest import KID, public_jwk


def fetches(outcome, trigger) -> float:
    # A store built without an issuer (as here) counts under the empty `issuer` label.
    labels = {"issuer": metrics.UNLABELLED, "outcome": outcome, "trigger": trigger}
    return REGISTRY.get_sample_value("auth0_jwt_jwks_fetches_total", labels) or 0.0


def counts() -> dict:
    return {
        (outcome, trigger): fetches(outcome, trigger)
        for outcome in ("ok", "error")
        for trigger in ("startup", "scheduled", "unknown_kid")
    }


def added(before: dict) -> dict:
    return {key: value - before[key] for key, value in counts().items() if value != before[key]}


@pytest.fixture
def store(jwks_server, clock):
    return JWKSKeyStore(
        HTTPJWKSSource(jwks_server.jwks_url, timeout=5),
        clock=clock,
        cache_lifetime=600,
        min_refetch_interval=30,
    )


def test_each_fetch_is_counted_with_its_outcome_and_trigger(
    store, jwks_server, clock, rsa_key, other_rsa_key
):
    before = counts()
    store.get_key(KID)
    assert added(before) == {("ok", "startup"): 1}

    before = counts()
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="rotated"))
    store.get_key("rotated")
    assert added(before) == {("ok", "unknown_kid"): 1}

    before = counts()
    jwks_server.status = 503
    clock.advance(600)
    store.get_key(KID)
    assert added(before) == {("error", "scheduled"): 1}

    before = counts()
    clock.advance(30)
    with pytest.raises(UnknownSigningKey):
        store.get_key("bogus")  # the stale set is refreshed first (and fails again)
    assert added(before) == {("error", "scheduled"): 1}
    assert jwks_server.fetches == 4


def test_a_failed_start_is_counted_as_a_startup_error(store, jwks_server):
    before = counts()
    jwks_server.status = 500
    assert store.refresh() is False
    assert added(before) == {("error", "startup"): 1}


def test_fetch_durations_are_observed(store):
    before = REGISTRY.get_sample_value("auth0_jwt_jwks_fetch_seconds_count") or 0.0
    store.refresh()
    assert REGISTRY.get_sample_value("auth0_jwt_jwks_fetch_seconds_count") == before + 1


def test_signing_keys_gauge_follows_the_key_set(store, jwks_server, rsa_key, other_rsa_key):
    # The gauge is per issuer: each issuer's key store reports to its IssuerMetrics.
    issuer = {"issuer": "https://gauge.example.test/"}
    store.add_listener(metrics.IssuerMetrics.of(issuer["issuer"]).on_key_set_changed)
    assert REGISTRY.get_sample_value("auth0_jwt_signing_keys", issuer) == 0
    store.refresh()
    assert REGISTRY.get_sample_value("auth0_jwt_signing_keys", issuer) == 1
    jwks_server.publish(public_jwk(rsa_key), public_jwk(other_rsa_key, kid="next"))
    store.refresh()
    assert REGISTRY.get_sample_value("auth0_jwt_signing_keys", issuer) == 2
    jwks_server.status = 500
    store.refresh()  # a failed fetch keeps the keys, and the count
    assert REGISTRY.get_sample_value("auth0_jwt_signing_keys", issuer) == 2
