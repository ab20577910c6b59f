# ruff: noqa: F811 - the tenancy fixtures are imported from tenancy_support, then requested by name
"""mint_token --org-id/--org-name/--issuer-domain, and check_auth0 and inspect_token per domain
(issue 20): the local issuer signing for two domains, and two custom domains over real HTTPS on
127.0.0.1."""

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auth0_jwt.tests.tenancy_support import (  # noqa: F401 - fixtures
    RESOLVER_PATH,
    _tenancy_domains,
    _tenancy_tls,
    domains,
    resolved,
    tenancy,
    tenant_jwk,
)
from auth0_jwt.verifier import decode_segment
from conftest import AUDIENCE, KID, bearer

LOCAL_DOMAINS = ["tenant.local.test", "login.local.test"]


def run(*args):
    """Run a management command; return (stdout, stderr, exit status)."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=err)
    except SystemExit as exc:
        return out.getvalue(), err.getvalue(), exc.code
    return out.getvalue(), err.getvalue(), 0


@pytest.fixture
def local_domains(settings, tmp_path, jwks_server):
    """The local development issuer, signing for two domains of a pretend tenant."""
    settings.DEBUG = True
    single = ("DOMAIN", "ISSUER", "JWKS_URL")
    settings.AUTH0 = {
        **{name: value for name, value in settings.AUTH0.items() if name not in single},
        "DOMAINS": LOCAL_DOMAINS,
        "AUDIENCE": AUDIENCE,
        "LOCAL_ISSUER": True,
        "LOCAL_ISSUER_KEY_DIR": tmp_path / "local-issuer",
    }
    return settings


def claims_of(token: str) -> dict:
    return decode_segment(token.strip(), 1, "payload")


# --- mint_token -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_mint_token_mints_for_a_second_domain_and_the_service_takes_it(local_domains, client):
    out, err, status = run("mint_token", "--issuer-domain", "login.local.test")
    assert (status, err) == (0, "")
    assert claims_of(out)["iss"] == "https://login.local.test/"
    response = client.get("/api/private/", HTTP_AUTHORIZATION=f"Bearer {out.strip()}")
    assert response.status_code == 200
    out, _, _ = run("mint_token")
    assert claims_of(out)["iss"] == "https://tenant.local.test/"  # the first domain by default


@pytest.mark.django_db
def test_mint_token_mints_an_organizations_token(local_domains, api_client):
    out, err, status = run("mint_token", "--org-id", "org_acme0000000001", "--org-name", "acme")
    assert (status, err) == (0, "")
    claims = claims_of(out)
    assert (claims["org_id"], claims["org_name"]) == ("org_acme0000000001", "acme")
    local_domains.AUTH0 = {**local_domains.AUTH0, "ORGANIZATIONS": ["acme"]}
    assert api_client.get("/api/private/", **bearer(out.strip())).status_code == 200


def test_mint_token_notes_an_issuer_the_service_refuses(local_domains):
    out, err, status = run("mint_token", "--issuer-domain", "https://Evil.example.test/")
    assert status == 0
    assert claims_of(out)["iss"] == "https://evil.example.test/"
    assert err == (
        "Note: https://evil.example.test/ is not one of this service's issuers "
        "(https://tenant.local.test/, https://login.local.test/), so it will refuse this token.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--issuer-domain", "login.local.test/path"], "--issuer-domain must be a host name such "
         "as \"login.example.com\", got 'login.local.test/path'."),
        (["--org-id", " "], "--org-id must not be empty."),
        (["--org-name", "acme"], "--org-name needs a non-empty name and --org-id (Auth0 sends "
         "org_name beside org_id)."),
        (["--org-id", "org_x", "--org-name", ""], "--org-name needs a non-empty name and --org-id "
         "(Auth0 sends org_name beside org_id)."),
    ],
)  # fmt: skip
def test_mint_token_refuses_bad_organization_and_domain_arguments(local_domains, args, message):
    with pytest.raises(CommandError) as raised:
        run("mint_token", *args)
    assert str(raised.value) == message


# --- check_auth0 ----------------------------------------------------------------------------------


def test_check_auth0_reports_each_domain(tenancy):
    a, b = tenancy.a, tenancy.b
    out, _, status = run("check_auth0")
    assert status == 0
    blocks = out.split("\n\n")
    assert blocks[0] == f'Audience:  {AUDIENCE}\nDomains:   2 (AUTH0["DOMAINS"])'
    for block, domain in zip(blocks[1:3], (a, b), strict=True):
        lines = block.splitlines()
        assert lines[:2] == [f"Issuer:    {domain.issuer}", f"JWKS:      {domain.jwks_url}"]
        assert lines[2].startswith("Fetched:   1 key(s) in ")
        assert lines[3:] == [f"  kid={KID} alg=RS256 RSA 2048 bits", "OK"]
    assert blocks[3] == "OK: tokens of each of the 2 issuers can be verified.\n"


def test_check_auth0_names_the_domain_that_fails(tenancy):
    tenancy.b.status = 500
    out = io.StringIO()
    with pytest.raises(CommandError) as raised:
        call_command("check_auth0", stdout=out)
    assert str(raised.value) == f"1 of 2 issuers cannot be verified: {tenancy.b.issuer}."
    block = out.getvalue().split("\n\n")[2]
    assert block.startswith(f"Issuer:    {tenancy.b.issuer}\nJWKS:      {tenancy.b.jwks_url}\n")
    assert block.rstrip().endswith(" ms: the JWKS endpoint answered HTTP 500.")
    assert "FAILED: JWKS unusable after " in block


def test_check_auth0_reports_discovery_and_its_failures(tenancy):
    a, b = tenancy.a, tenancy.b
    b.configuration["issuer"] = a.issuer
    tenancy.configure(DISCOVERY=True, ORGANIZATIONS="required")
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("check_auth0", stdout=out)
    text = out.getvalue()
    assert "Organizations: required (any organization)\n" in text
    assert (
        f"Discovery: {a.issuer}.well-known/openid-configuration\nJWKS:      {a.jwks_url}\n" in text
    )
    assert f"the configuration names the issuer '{a.issuer}', not {b.issuer}." in text
    assert b.hits == {"/.well-known/openid-configuration": 1}


def test_check_auth0_calls_the_resolver(tenancy, resolved):
    resolved["domains"] = [tenancy.b.domain]
    tenancy.configure(domains=[], DOMAINS=None, DOMAINS_RESOLVER=RESOLVER_PATH)
    out, _, status = run("check_auth0")
    assert status == 0
    assert f"Domains:   1 (resolved by {RESOLVER_PATH})" in out
    assert f"Issuer:    {tenancy.b.issuer}" in out
    resolved["error"] = RuntimeError("down")
    with pytest.raises(CommandError) as raised:
        run("check_auth0")
    assert str(raised.value) == "The domains resolver failed: RuntimeError: down."


# --- inspect_token --------------------------------------------------------------------------------


def test_inspect_token_looks_the_key_up_at_the_tokens_own_domain(tenancy, rsa_key):
    a, b = tenancy.a, tenancy.b
    out, _, status = run("inspect_token", b.token(rsa_key, org_id="org_acme0000000001"))
    assert status == 0
    assert f"Signing key: {KID} is in the JWKS ({b.jwks_url})" in out
    assert f"Issuer:      {b.issuer} (one of the 2 configured issuers)" in out
    assert "Organization: org_id=org_acme0000000001 org_name=(none)\n" in out
    assert (a.requests, b.jwks_fetches) == (0, 1)


def test_inspect_token_fetches_nothing_for_an_unconfigured_issuer(tenancy, rsa_key):
    a, b = tenancy.a, tenancy.b
    out, _, status = run("inspect_token", a.token(rsa_key, iss="https://evil.example.test/"))
    assert status == 1
    assert (
        "Signing key: not looked up: the token's issuer is not configured (nothing fetched)" in out
    )
    assert (
        f"Issuer:      https://evil.example.test/ (is NOT one of the configured issuers: "
        f"{a.issuer}, {b.issuer})"
    ) in out
    assert out.rstrip().endswith(
        "Verdict:     REJECTED - The token was not issued by the expected issuer."
    )
    assert (a.requests, b.requests) == (0, 0)


def test_inspect_token_explains_the_organization_policy(tenancy, rsa_key):
    tenancy.configure(ORGANIZATIONS=["org_acme0000000001", "Globex"])
    out, _, status = run("inspect_token", tenancy.a.token(rsa_key))
    assert status == 1
    assert (
        "Organization: none (no org_id claim); refused - The token has no organization (org_id "
        "claim), and this API accepts organization tokens only.\n"
    ) in out
    token = tenancy.a.token(rsa_key, org_id="org_x", org_name="globex")
    out, _, status = run("inspect_token", token)
    assert status == 0
    assert (
        "Organization: org_id=org_x org_name=globex; this service's policy: required, one of: "
        "org_acme0000000001, globex\n"
    ) in out
    out, _, status = run("inspect_token", tenancy.a.token(rsa_key, org_id=42))
    assert status == 1
    assert "Organization: refused - The token's org_id claim is not a non-empty string.\n" in out
