# ruff: noqa: F811 - the tenancy fixtures are imported from tenancy_support, then requested by name
"""Hostile tokens and identity-provider answers against a tenant with two custom domains and
Auth0 Organizations (issue 20), served over real HTTPS on 127.0.0.1.

Every case answers 401 (or 503 for a configuration that cannot be trusted), never a 500, and no
case makes the service fetch anything from a host that is not configured: each test counts the
requests every server received, the attacker's own included.
"""

import pytest

from auth0_jwt.issuers import MultiIssuerVerifier
from auth0_jwt.keystore import JWKSKeyStore
from auth0_jwt.runtime import get_token_verifier
from auth0_jwt.tests.attacks.support import (
    BAD_SIGNATURE,
    assert_accepted,
    assert_invalid_token,
    assert_keys_unavailable,
    raw_token,
    rs256,
)
from auth0_jwt.tests.tenancy_support import (
    DISCOVERY_PATH,
    RESOLVER_PATH,
    HTTPSDomain,
    _tenancy_domains,  # noqa: F401
    _tenancy_tls,  # noqa: F401
    domains,  # noqa: F401
    resolved,  # noqa: F401
    tenancy,  # noqa: F401
    tenant_jwk,
)
from auth0_jwt.token_cache import CachingTokenVerifier, VerifiedTokenCache
from auth0_jwt.verifier import TokenRejected, TokenVerifier
from conftest import AUDIENCE, KID, bearer

pytestmark = pytest.mark.django_db

PRIVATE = "/api/private/"
BAD_ISSUER = "The token was not issued by the expected issuer."
NO_ISSUER = "The token has no iss claim."


@pytest.fixture(scope="module")
def _attacker_server(_tenancy_tls):
    server = HTTPSDomain(_tenancy_tls)
    yield server
    server.close()


@pytest.fixture
def attacker(_attacker_server, other_rsa_key):
    """The attacker's own HTTPS "identity provider" on 127.0.0.1, publishing the attacker's key
    under the tenant's kid: it must never be asked for anything."""
    _attacker_server.reset(tenant_jwk(other_rsa_key))
    return _attacker_server


def get(api_client, token):
    return api_client.get(PRIVATE, **bearer(token))


def nothing_fetched(*servers):
    return all(server.requests == 0 for server in servers)


# --- Issuers that are not configured --------------------------------------------------------------


def test_an_unlisted_issuer_presenting_a_kid_the_tenant_really_has(
    api_client, tenancy, attacker, rsa_key, other_rsa_key
):
    # Signed by the attacker's key, under the tenant's real kid, naming the attacker's issuer
    # (whose JWKS does publish that key): nothing is fetched from anywhere.
    token = attacker.token(other_rsa_key, kid=KID)
    assert_invalid_token(get(api_client, token), BAD_ISSUER)
    # Even with the tenant's key loaded and the tenant's real signature, another iss is refused.
    assert_accepted(get(api_client, tenancy.a.token(rsa_key)))
    assert_invalid_token(get(api_client, attacker.token(rsa_key, kid=KID)), BAD_ISSUER)
    assert attacker.requests == 0
    assert (tenancy.a.jwks_fetches, tenancy.b.requests) == (1, 0)


def variants(a: HTTPSDomain) -> dict[str, str]:
    """Issuers that differ from A's (`https://127.0.0.1:PORT/`) in one way each."""
    host, port = "127.0.0.1", a.port
    return {
        "scheme case": f"HTTPS://{host}:{port}/",
        "http": f"http://{host}:{port}/",
        "trailing dot": f"https://{host}.:{port}/",
        "no port": f"https://{host}/",
        "default port": f"https://{host}:443/",
        "other port": f"https://{host}:{port + 1}/",
        "port with a zero": f"https://{host}:0{port}/",
        "userinfo": f"https://user@{host}:{port}/",
        "userinfo with password": f"https://user:secret@{host}:{port}/",
        "no trailing slash": f"https://{host}:{port}",
        "two slashes": f"https://{host}:{port}//",
        "a path": f"https://{host}:{port}/evil/",
        "a query": f"https://{host}:{port}/?",
        "a fragment": f"https://{host}:{port}/#",
        "percent-encoded": f"https://%31{host[1:]}:{port}/",
        "fullwidth digits": f"https://\uff11{host[1:]}:{port}/",
        "trailing space": f"https://{host}:{port}/ ",
        "leading space": f" https://{host}:{port}/",
        "a NUL": f"https://{host}:{port}/\x00",
        "another spelling of the address": f"https://127.1:{port}/",
        "localhost": f"https://localhost:{port}/",
    }


VARIANTS = [
    "scheme case", "http", "trailing dot", "no port", "default port", "other port",
    "port with a zero", "userinfo", "userinfo with password", "no trailing slash", "two slashes",
    "a path", "a query", "a fragment", "percent-encoded", "fullwidth digits", "trailing space",
    "leading space", "a NUL", "another spelling of the address", "localhost",
]  # fmt: skip


@pytest.mark.parametrize("variant", VARIANTS)
def test_an_issuer_that_differs_from_a_listed_one_is_another_issuer(
    api_client, tenancy, attacker, rsa_key, variant
):
    iss = variants(tenancy.a)[variant]
    assert_invalid_token(get(api_client, tenancy.a.token(rsa_key, iss=iss)), BAD_ISSUER)
    assert nothing_fetched(tenancy.a, tenancy.b, attacker)


@pytest.mark.parametrize(
    "iss",
    [
        "https://TENANT.example.test/",
        "https://tenant.example.test./",
        "https://tenant.example.test:443/",
        "https://user@tenant.example.test/",
        "https://tenant.example.test",
        "https://xn--tenant-example.test/",
        "https://tenant.example.test\u3002/",  # an ideographic full stop
    ],
)
def test_named_hosts_are_compared_exactly_too(iss, rsa_key):
    fetched = []

    def build(issuer, cache):
        store = JWKSKeyStore(lambda: fetched.append(issuer) or {"keys": [tenant_jwk(rsa_key)]})
        verifier = TokenVerifier(key_store=store, issuer=issuer, audience=AUDIENCE)
        return CachingTokenVerifier(verifier, token_cache=cache)

    verifier = MultiIssuerVerifier(
        build,
        audience=AUDIENCE,
        algorithms=("RS256",),
        token_cache=VerifiedTokenCache(max_size=10),
        issuers=["https://tenant.example.test/", "https://login.example.test/"],
    )
    token = rs256(rsa_key, {"iss": iss, "aud": AUDIENCE, "sub": "x", "exp": 4102444800})
    with pytest.raises(TokenRejected) as raised:
        verifier.verify(token)
    assert (raised.value.reason, raised.value.code, fetched) == (BAD_ISSUER, "bad_issuer", [])


@pytest.mark.parametrize(
    ("iss", "detail"),
    [
        (None, NO_ISSUER),
        (42, BAD_ISSUER),
        (True, BAD_ISSUER),
        ([], BAD_ISSUER),
        ({"url": "https://127.0.0.1/"}, BAD_ISSUER),
    ],
)
def test_an_iss_that_is_not_a_string_is_refused_before_any_fetch(
    api_client, tenancy, rsa_key, iss, detail
):
    assert_invalid_token(get(api_client, tenancy.a.token(rsa_key, iss=iss)), detail)
    assert nothing_fetched(tenancy.a, tenancy.b)


def test_a_list_naming_a_listed_issuer_is_not_that_issuer(api_client, tenancy, rsa_key):
    token = tenancy.a.token(rsa_key, iss=[tenancy.a.issuer])
    assert_invalid_token(get(api_client, token), BAD_ISSUER)
    assert nothing_fetched(tenancy.a, tenancy.b)


def test_a_duplicated_iss_member_is_read_as_the_verifier_reads_it(api_client, tenancy, rsa_key):
    # JSON with two "iss" members: the router and PyJWT both take the last one.
    def payload(first, last):
        return (
            f'{{"iss": "{first}", "aud": "{AUDIENCE}", "sub": "auth0|user-1", '
            f'"exp": 4102444800, "iss": "{last}"}}'
        ).encode()

    a, evil = tenancy.a.issuer, "https://evil.example.test/"
    assert_invalid_token(get(api_client, rs256(rsa_key, payload(a, evil))), BAD_ISSUER)
    assert nothing_fetched(tenancy.a, tenancy.b)
    assert_accepted(get(api_client, rs256(rsa_key, payload(evil, a))))


def test_a_forged_signature_under_a_listed_issuer_fails_on_its_own_keys(
    api_client, tenancy, attacker, other_rsa_key
):
    token = tenancy.b.token(other_rsa_key, kid=KID)  # the attacker's key, B's iss, a real kid
    assert_invalid_token(get(api_client, token), BAD_SIGNATURE)
    assert (tenancy.a.requests, tenancy.b.jwks_fetches, attacker.requests) == (0, 1, 0)


def test_key_pointing_headers_never_lead_to_the_attacker(
    api_client, tenancy, attacker, other_rsa_key
):
    token = tenancy.a.token(
        other_rsa_key,
        kid="attacker-kid",
        headers={
            "jku": attacker.jwks_url,
            "x5u": attacker.jwks_url,
            "jwk": tenant_jwk(other_rsa_key),
        },
    )
    assert get(api_client, token).status_code == 401
    assert attacker.requests == 0


def test_a_flood_of_bogus_issuers_costs_no_fetch_and_no_resolver_call(
    api_client, tenancy, resolved, rsa_key
):
    resolved["domains"] = [tenancy.a.domain]
    tenancy.configure(domains=[], DOMAINS=None, DOMAINS_RESOLVER=RESOLVER_PATH)
    for n in range(50):
        token = tenancy.a.token(rsa_key, iss=f"https://bogus-{n}.example.test/")
        assert_invalid_token(get(api_client, token), BAD_ISSUER)
    assert resolved["calls"] == 1  # the first resolution; unknown issuers ask again once per 30 s
    assert nothing_fetched(tenancy.a, tenancy.b)


def test_an_issuer_with_a_huge_iss_is_refused_without_a_500(api_client, tenancy, rsa_key):
    token = tenancy.a.token(rsa_key, iss="https://" + "a" * 14000 + "/")
    assert get(api_client, token).status_code == 401
    assert nothing_fetched(tenancy.a, tenancy.b)


def test_a_payload_that_is_not_json_is_refused_before_routing(api_client, tenancy):
    token = raw_token({"alg": "RS256", "kid": KID}, b"\xff\xfe not json")
    assert_invalid_token(get(api_client, token), "The token's payload is malformed.")
    assert nothing_fetched(tenancy.a, tenancy.b)


# --- Organizations --------------------------------------------------------------------------------

ACME, GLOBEX = "org_acme0000000001", "org_globex00000002"


@pytest.mark.parametrize(
    ("org_id", "detail"),
    [
        (7, "The token's org_id claim is not a non-empty string."),
        ([ACME], "The token's org_id claim is not a non-empty string."),
        ({"id": ACME}, "The token's org_id claim is not a non-empty string."),
        ("", "The token's org_id claim is not a non-empty string."),
        (
            "org_acme\r\nX-Injected: 1",
            "The token's org_id claim contains characters that are not allowed.",
        ),
    ],
)
def test_a_hostile_org_id_is_refused_for_every_issuer(api_client, tenancy, rsa_key, org_id, detail):
    for domain in (tenancy.a, tenancy.b):
        assert_invalid_token(get(api_client, domain.token(rsa_key, org_id=org_id)), detail)


@pytest.mark.parametrize("org_name", ["ACME", "\u0430cme", "acme\u200d", "\u212acme"])
def test_org_name_tricks_do_not_pass_an_allow_list_of_names(api_client, tenancy, rsa_key, org_name):
    tenancy.configure(ORGANIZATIONS=["acme"])
    token = tenancy.a.token(rsa_key, org_id=GLOBEX, org_name=org_name)
    assert_invalid_token(get(api_client, token), "The token's organization is not allowed here.")
    assert_accepted(get(api_client, tenancy.a.token(rsa_key, org_id=GLOBEX, org_name="acme")))


@pytest.mark.urls("auth0_jwt.tests.organization_urls")
def test_a_token_of_organization_a_is_refused_by_organization_bs_view(api_client, tenancy, rsa_key):
    token = tenancy.b.token(rsa_key, org_id=GLOBEX, org_name="globex")
    assert_invalid_token(
        api_client.get("/api/acme/", **bearer(token)),
        "The token is not for the organization this endpoint belongs to.",
    )
    forged = tenancy.b.token(rsa_key, org_id=GLOBEX, org_name="acme")  # the name of another org
    assert api_client.get("/api/acme/", **bearer(forged)).status_code == 401


# --- Discovery documents that point elsewhere -----------------------------------------------------


def test_a_discovery_document_naming_the_attackers_issuer(api_client, tenancy, attacker, rsa_key):
    a = tenancy.a
    a.configuration.update(issuer=attacker.issuer, jwks_uri=attacker.jwks_url)
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))  # not asked again at once
    assert a.hits == {DISCOVERY_PATH: 1}
    assert attacker.requests == 0


def test_a_discovery_document_sending_the_jwks_fetch_to_the_attacker(
    api_client, tenancy, attacker, rsa_key
):
    a = tenancy.a
    a.configuration["jwks_uri"] = attacker.jwks_url
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert attacker.requests == 0
    assert_accepted(get(api_client, tenancy.b.token(rsa_key)))  # B's own document is fine


def test_a_discovery_document_that_is_not_json(api_client, tenancy, rsa_key):
    a = tenancy.a
    a.configuration = "<html>login</html>"  # served as a JSON string: not an object
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert get_token_verifier().key_store.last_error == (
        f"{a.issuer}: OpenID discovery failed: the configuration is not a JSON object"
    )


def test_a_huge_discovery_document_is_not_read_to_the_end(api_client, tenancy, rsa_key):
    a = tenancy.a
    a.configuration = {"issuer": a.issuer, "jwks_uri": a.jwks_url, "pad": "x" * (2 * 1024 * 1024)}
    tenancy.configure(DISCOVERY=True)
    assert_keys_unavailable(get(api_client, a.token(rsa_key)))
    assert a.hits == {DISCOVERY_PATH: 1}  # the JWKS is never asked for
    assert "the configuration is larger than" in get_token_verifier().key_store.last_error
