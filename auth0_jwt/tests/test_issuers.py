# ruff: noqa: F811 - the tenancy fixtures are imported from tenancy_support, then requested by name
"""Several issuers in one tenant (AUTH0["DOMAINS"], issue 20), against two custom domains served
over real HTTPS on 127.0.0.1: each token's iss picks its key set before anything is fetched, and
each issuer's key store keeps every rule of one (background load, rotation, unknown-kid refetch,
stale-on-error, 503 until ready), with metrics labelled by issuer."""

import pytest
from prometheus_client import REGISTRY

from auth0_jwt.issuers import MultiIssuerVerifier
from auth0_jwt.runtime import get_token_verifier
from auth0_jwt.tests.attacks.support import (
    KEYS_UNAVAILABLE,
    UNKNOWN_KEY,
    assert_accepted,
    assert_invalid_token,
    assert_keys_unavailable,
)
from auth0_jwt.tests.tenancy_support import (  # noqa: F401 - fixtures
    RESOLVER_PATH,
    _tenancy_domains,
    _tenancy_tls,
    domains,
    resolved,
    tenancy,
    tenant_jwk,
)
from conftest import bearer

pytestmark = pytest.mark.django_db

PRIVATE = "/api/private/"
BAD_ISSUER = "The token was not issued by the expected issuer."


def get(api_client, token):
    return api_client.get(PRIVATE, **bearer(token))


def tokens_counted(issuer, outcome="accepted", reason="none") -> float:
    labels = {"issuer": issuer, "outcome": outcome, "reason": reason}
    return REGISTRY.get_sample_value("auth0_jwt_tokens_total", labels) or 0.0


def fetches_counted(issuer, outcome="ok", trigger="startup") -> float:
    labels = {"issuer": issuer, "outcome": outcome, "trigger": trigger}
    return REGISTRY.get_sample_value("auth0_jwt_jwks_fetches_total", labels) or 0.0


def signing_keys(issuer) -> float | None:
    return REGISTRY.get_sample_value("auth0_jwt_signing_keys", {"issuer": issuer})


# --- Each domain is an issuer ---------------------------------------------------------------------


def test_tokens_of_each_configured_domain_are_accepted(api_client, tenancy, rsa_key):
    a, b = tenancy.a, tenancy.b
    assert isinstance(get_token_verifier(), MultiIssuerVerifier)
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert (a.jwks_fetches, b.jwks_fetches) == (1, 0)  # B's keys are not needed yet
    assert_accepted(get(api_client, b.token(rsa_key, sub="auth0|user-2")), sub="auth0|user-2")
    assert (a.jwks_fetches, b.jwks_fetches) == (1, 1)


def test_a_repeated_token_is_a_cache_hit_of_its_issuer(api_client, tenancy, rsa_key):
    token = tenancy.b.token(rsa_key)
    assert_accepted(get(api_client, token))
    before = tokens_counted(tenancy.b.issuer)
    for _ in range(3):
        assert_accepted(get(api_client, token))
    assert tokens_counted(tenancy.b.issuer) == before + 3
    assert tenancy.b.jwks_fetches == 1
    assert token in get_token_verifier().token_cache


def test_an_unconfigured_issuer_is_refused_and_nothing_is_fetched(api_client, tenancy, rsa_key):
    token = tenancy.a.token(rsa_key, iss="https://evil.example.test/")
    before = tokens_counted("unconfigured", "rejected", "bad_issuer")
    assert_invalid_token(get(api_client, token), BAD_ISSUER)
    assert (tenancy.a.requests, tenancy.b.requests) == (0, 0)
    assert tokens_counted("unconfigured", "rejected", "bad_issuer") == before + 1


def test_a_token_without_iss_is_refused_before_any_fetch(api_client, tenancy, rsa_key):
    assert_invalid_token(
        get(api_client, tenancy.a.token(rsa_key, drop=("iss",))), "The token has no iss claim."
    )
    assert (tenancy.a.requests, tenancy.b.requests) == (0, 0)


def test_a_token_is_verified_with_its_own_issuers_keys_only(
    api_client, tenancy, rsa_key, other_rsa_key
):
    a, b = tenancy.a, tenancy.b
    a.reset(tenant_jwk(rsa_key, kid="key-a"))
    b.reset(tenant_jwk(other_rsa_key, kid="key-b"))
    tenancy.configure()
    assert_accepted(get(api_client, a.token(rsa_key, kid="key-a")))
    assert_accepted(get(api_client, b.token(other_rsa_key, kid="key-b")))
    # B's key under A's issuer: A's key set is refetched once for the unknown kid, B is not asked.
    assert_invalid_token(get(api_client, a.token(other_rsa_key, kid="key-b")), UNKNOWN_KEY)
    assert (a.jwks_fetches, b.jwks_fetches) == (2, 1)


def test_the_old_single_domain_setting_keeps_working(api_client, settings, clock, domains, rsa_key):
    from auth0_jwt.runtime import build_token_verifier, reset_token_verifier
    from auth0_jwt.token_cache import CachingTokenVerifier

    a, b = domains
    settings.AUTH0 = {
        **{k: v for k, v in settings.AUTH0.items() if k not in ("ISSUER", "JWKS_URL")},
        "DOMAIN": a.domain,
    }
    reset_token_verifier(build_token_verifier(clock=clock))
    assert isinstance(get_token_verifier(), CachingTokenVerifier)
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert_invalid_token(get(api_client, b.token(rsa_key)), BAD_ISSUER)
    assert (a.jwks_fetches, b.requests) == (1, 0)


# --- 503 until ready, per issuer ------------------------------------------------------------------


def test_503_until_ready_holds_per_issuer(api_client, tenancy, rsa_key, clock):
    a, b = tenancy.a, tenancy.b
    a.status = 500
    token_a, token_b = a.token(rsa_key), b.token(rsa_key)
    assert_keys_unavailable(get(api_client, token_a))
    assert_accepted(get(api_client, token_b))
    assert_keys_unavailable(get(api_client, token_a))  # no new fetch before the interval
    assert a.jwks_fetches == 1
    assert signing_keys(a.issuer) == 0
    assert signing_keys(b.issuer) == 1
    a.status = 200
    clock.advance(30)
    assert_accepted(get(api_client, token_a))
    assert a.jwks_fetches == 2
    assert signing_keys(a.issuer) == 1


def test_the_background_load_fetches_every_issuers_keys(tenancy):
    store = get_token_verifier().key_store
    assert store.key_set is None
    store.load_in_background().join(timeout=30)
    assert (tenancy.a.jwks_fetches, tenancy.b.jwks_fetches) == (1, 1)
    assert store.key_set is not None
    assert store.last_error is None


def test_readiness_waits_for_every_issuer(tenancy, api_client):
    tenancy.b.status = 503
    store = get_token_verifier().key_store
    assert store.refresh() is False
    assert store.key_set is None  # A is ready, B is not
    assert store.last_error == f"{tenancy.b.issuer}: the JWKS endpoint answered HTTP 503"
    response = api_client.get("/readyz")
    assert response.status_code == 503


# --- Rotation, unknown kids and stale keys, per issuer --------------------------------------------


def test_a_key_rotated_in_at_one_domain_is_found_by_a_refetch_there_only(
    api_client, tenancy, rsa_key, other_rsa_key, clock
):
    a, b = tenancy.a, tenancy.b
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert_accepted(get(api_client, b.token(rsa_key)))
    refetches = fetches_counted(a.issuer, trigger="unknown_kid")
    a.reset(tenant_jwk(rsa_key), tenant_jwk(other_rsa_key, kid="rotated"))  # (hits counted anew)
    assert_accepted(get(api_client, a.token(other_rsa_key, kid="rotated")))
    assert (a.jwks_fetches, b.jwks_fetches) == (1, 1)
    assert fetches_counted(a.issuer, trigger="unknown_kid") == refetches + 1
    # B never published it: one refetch at B, then nothing more within the interval.
    assert_invalid_token(get(api_client, b.token(other_rsa_key, kid="rotated")), UNKNOWN_KEY)
    assert_invalid_token(get(api_client, b.token(other_rsa_key, kid="rotated")), UNKNOWN_KEY)
    assert (a.jwks_fetches, b.jwks_fetches) == (1, 2)


def test_a_failed_refresh_keeps_that_issuers_last_good_keys(api_client, tenancy, rsa_key, clock):
    a = tenancy.a
    token = a.token(rsa_key)
    assert_accepted(get(api_client, token))
    a.status = 500
    clock.advance(601)  # past the cache lifetime: the next request refreshes, and fails
    assert_accepted(get(api_client, token))
    assert_accepted(get(api_client, a.token(rsa_key, sub="auth0|user-2")), sub="auth0|user-2")
    assert a.jwks_fetches == 2
    assert fetches_counted(a.issuer, outcome="error", trigger="scheduled") >= 1


def test_a_withdrawn_key_is_noticed_on_schedule_even_for_cache_hits(
    api_client, tenancy, rsa_key, other_rsa_key, clock
):
    a = tenancy.a
    token = a.token(rsa_key)
    assert_accepted(get(api_client, token))
    a.reset(tenant_jwk(other_rsa_key, kid="new"))
    clock.advance(601)
    assert_invalid_token(get(api_client, token), UNKNOWN_KEY)
    assert token not in get_token_verifier().token_cache


# --- Metrics --------------------------------------------------------------------------------------


def test_metrics_carry_the_issuer_label(api_client, tenancy, rsa_key):
    a, b = tenancy.a, tenancy.b
    accepted_a, accepted_b = tokens_counted(a.issuer), tokens_counted(b.issuer)
    expired = tokens_counted(b.issuer, "rejected", "expired")
    startup_a = fetches_counted(a.issuer)
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert get(api_client, b.token(rsa_key, exp=1000, iat=900)).status_code == 401
    assert (tokens_counted(a.issuer), tokens_counted(b.issuer)) == (accepted_a + 1, accepted_b)
    assert tokens_counted(b.issuer, "rejected", "expired") == expired + 1
    assert fetches_counted(a.issuer) == startup_a + 1
    assert (signing_keys(a.issuer), signing_keys(b.issuer)) == (1, 1)


def test_no_label_ever_holds_an_issuer_that_is_not_configured(api_client, tenancy, rsa_key):
    for iss in ("https://evil.example.test/", tenancy.a.issuer.upper(), "x" * 300):
        assert get(api_client, tenancy.a.token(rsa_key, iss=iss)).status_code == 401
    issuers = {
        sample.labels["issuer"]
        for family in REGISTRY.collect()
        if family.name.startswith("auth0_jwt_")
        for sample in family.samples
        if "issuer" in sample.labels
    }
    assert not any("evil" in issuer or "xxxx" in issuer for issuer in issuers)
    assert tenancy.a.issuer.upper() not in issuers


# --- Keys unavailable message stays the same ------------------------------------------------------


def test_the_503_answer_is_the_single_issuers_answer(api_client, tenancy, rsa_key):
    tenancy.a.status = 500
    response = get(api_client, tenancy.a.token(rsa_key))
    assert response.json() == {"detail": KEYS_UNAVAILABLE}


# --- A domains resolver ---------------------------------------------------------------------------


def test_a_resolver_gives_the_domains_at_run_time(api_client, tenancy, resolved, rsa_key, clock):
    a, b = tenancy.a, tenancy.b
    resolved["domains"] = [a.domain]
    tenancy.configure(domains=[], DOMAINS=None, DOMAINS_RESOLVER=RESOLVER_PATH)
    assert_accepted(get(api_client, a.token(rsa_key)))
    assert resolved["calls"] == 1
    token_b = b.token(rsa_key)
    assert_invalid_token(get(api_client, token_b), BAD_ISSUER)
    assert b.requests == 0
    resolved["domains"] = [a.domain, b.domain]
    assert_invalid_token(get(api_client, token_b), BAD_ISSUER)  # asked within 30 s: not again
    assert resolved["calls"] == 1
    clock.advance(30)
    assert_accepted(get(api_client, token_b))  # an unknown issuer asks the resolver again
    assert resolved["calls"] == 2
    assert b.jwks_fetches == 1


def test_a_domain_the_resolver_drops_loses_its_cached_tokens(
    api_client, tenancy, resolved, rsa_key, clock
):
    a, b = tenancy.a, tenancy.b
    resolved["domains"] = [a.domain, b.domain]
    tenancy.configure(domains=[], DOMAINS=None, DOMAINS_RESOLVER=RESOLVER_PATH)
    token_a = a.token(rsa_key)
    assert_accepted(get(api_client, token_a))
    resolved["domains"] = [b.domain]
    clock.advance(600)  # the list is JWKS_CACHE_LIFETIME old: resolved again on the next request
    assert_invalid_token(get(api_client, token_a), BAD_ISSUER)
    assert token_a not in get_token_verifier().token_cache


def test_a_failing_resolver_keeps_the_last_good_list(api_client, tenancy, resolved, rsa_key, clock):
    resolved["domains"] = [tenancy.a.domain]
    tenancy.configure(domains=[], DOMAINS=None, DOMAINS_RESOLVER=RESOLVER_PATH)
    assert_accepted(get(api_client, tenancy.a.token(rsa_key)))
    resolved["error"] = RuntimeError("the tenant registry is down")
    clock.advance(600)
    assert_accepted(get(api_client, tenancy.a.token(rsa_key, sub="auth0|user-2")), "auth0|user-2")
    assert resolved["calls"] == 2


def test_before_the_resolver_ever_answers_tokens_get_503(api_client, tenancy, resolved, rsa_key):
    resolved["error"] = RuntimeError("the tenant registry is down")
    tenancy.configure(domains=[], DOMAINS=None, DOMAINS_RESOLVER=RESOLVER_PATH)
    assert_keys_unavailable(get(api_client, tenancy.a.token(rsa_key)))
    assert tenancy.a.requests == 0
    assert get_token_verifier().key_store.last_error == (
        "the domains resolver failed: RuntimeError: the tenant registry is down"
    )


def test_a_resolver_returning_nothing_usable_is_a_failure(
    api_client, tenancy, resolved, rsa_key, caplog
):
    resolved["domains"] = ["https://evil.example.test/path", 42]
    tenancy.configure(domains=[], DOMAINS=None, DOMAINS_RESOLVER=RESOLVER_PATH)
    assert_keys_unavailable(get(api_client, tenancy.a.token(rsa_key)))
    assert "which is not a domain" in caplog.text


# --- Async callers --------------------------------------------------------------------------------


def test_may_fetch_says_when_a_token_could_wait_for_its_issuers_keys(api_client, tenancy, rsa_key):
    verifier = get_token_verifier()
    token_a, token_b = tenancy.a.token(rsa_key), tenancy.b.token(rsa_key)
    assert verifier.may_fetch(token_a) and verifier.may_fetch(token_b)
    assert_accepted(get(api_client, token_a))
    assert not verifier.may_fetch(token_a)  # a cache hit
    assert not verifier.may_fetch(tenancy.a.token(rsa_key, sub="auth0|user-2"))  # keys loaded
    assert verifier.may_fetch(token_b)  # B's keys are not loaded yet
    assert not verifier.may_fetch(tenancy.a.token(rsa_key, iss="https://evil.example.test/"))
    assert not verifier.may_fetch("not-a-token")


@pytest.mark.urls("auth0_jwt.tests.organization_urls")
def test_an_async_view_verifies_each_domains_tokens(tenancy, rsa_key):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    a, b = tenancy.a, tenancy.b
    a.status = 500

    async def get(token):
        headers = {"Authorization": f"Bearer {token}"}
        response = await AsyncClient().get("/api/async-organization/", headers=headers)
        return response.status_code, response.json()

    token_b = b.token(rsa_key, org_id="org_acme0000000001")
    assert async_to_sync(get)(token_b) == (
        200,
        {"sub": "auth0|user-1", "iss": b.issuer, "organization": "org_acme0000000001"},
    )
    assert async_to_sync(get)(a.token(rsa_key)) == (503, {"detail": KEYS_UNAVAILABLE})
    token = a.token(rsa_key, iss="https://evil.example.test/")
    assert async_to_sync(get)(token) == (401, {"detail": BAD_ISSUER})
    assert (a.jwks_fetches, b.jwks_fetches) == (1, 1)
