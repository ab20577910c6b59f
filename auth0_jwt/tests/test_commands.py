"""mint_token, inspect_token and check_auth0: success and failure paths, and the production
refusal, through call_command and, for exit statuses and one-line errors, a real subprocess."""

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import jwt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from auth0_jwt.local_issuer import LocalIssuer
from auth0_jwt.tests.conftest import LOCAL_AUDIENCE, LOCAL_ISSUER
from conftest import AUDIENCE, ISSUER, KID

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    """Run a management command; return (stdout, exit status)."""
    out = io.StringIO()
    try:
        call_command(*args, stdout=out)
    except SystemExit as exc:
        return out.getvalue(), exc.code
    return out.getvalue(), 0


def manage(*args, **env):
    """`python manage.py ...` in a subprocess with a clean, explicit environment."""
    environment = {
        "PATH": os.environ["PATH"],
        "DJANGO_SETTINGS_MODULE": "auth0_django_example.settings",
        "AUTH0_DOMAIN": "",
        "AUTH0_ISSUER": "",
        "DJANGO_DEBUG": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def local_claims(token, key_dir, **options):
    public_key = LocalIssuer(key_dir=key_dir, issuer=LOCAL_ISSUER, audience=LOCAL_AUDIENCE)
    jwk = public_key.jwks()["keys"][0]
    return jwt.decode(
        token.strip(), jwt.PyJWK(jwk).key, algorithms=["RS256"], issuer=LOCAL_ISSUER, **options
    )


# --- mint_token -----------------------------------------------------------------------------------


def test_mint_token_defaults_to_a_readable_subject_and_one_hour(local_mode, key_dir):
    token, status = run("mint_token")
    claims = local_claims(token, key_dir, audience=LOCAL_AUDIENCE)
    assert status == 0
    assert claims["sub"] == "auth0|local-dev"
    assert claims["exp"] - claims["iat"] == 3600
    assert "scope" not in claims and "permissions" not in claims


def test_mint_token_options_shape_the_claims(local_mode, key_dir):
    token, _ = run(
        "mint_token",
        "--sub", "auth0|alice",
        "--scope", "read:messages write:messages",
        "--permissions", "read:customers,write:customers",
        "--expires-in", "120",
        "--audience", "https://other.example/",
        "--claim", "tier=3",
        "--claim", 'flags=["a", "b"]',
        "--claim", "https://example.com/role=admin",
    )  # fmt: skip
    claims = local_claims(token, key_dir, audience="https://other.example/")
    assert claims["sub"] == "auth0|alice"
    assert claims["scope"] == "read:messages write:messages"
    assert claims["permissions"] == ["read:customers", "write:customers"]
    assert claims["exp"] - claims["iat"] == 120
    assert (claims["tier"], claims["flags"], claims["https://example.com/role"]) == (
        3, ["a", "b"], "admin"
    )  # fmt: skip


@pytest.mark.parametrize("claim", ["novalue", "=x", "bad name=1"])
def test_mint_token_rejects_a_malformed_claim(local_mode, claim):
    with pytest.raises(CommandError) as excinfo:
        run("mint_token", "--claim", claim)
    assert str(excinfo.value) == f"--claim expects NAME=VALUE, got {claim!r}."


def test_mint_token_refuses_when_a_real_tenant_is_configured():
    with pytest.raises(CommandError) as excinfo:
        run("mint_token")
    assert str(excinfo.value) == (
        f"This service trusts the Auth0 issuer {ISSUER}, so it would reject a locally minted "
        "token: take a test token from your API's Test tab in the Auth0 dashboard instead."
    )


def test_mint_token_unknown_option_is_a_one_line_error(tmp_path):
    result = manage("mint_token", "--bogus", LOCAL_ISSUER_KEY_DIR=str(tmp_path))
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "manage.py mint_token: error: unrecognized arguments: --bogus (see --help)\n"
    )


# --- inspect_token --------------------------------------------------------------------------------


def test_inspect_token_accepts_a_valid_token_and_explains_it(make_token):
    token = make_token(scope="read:messages", permissions=["read:customers"])
    out, status = run("inspect_token", token)
    assert status == 0
    assert f"Header:      alg=RS256 kid={KID}" in out
    assert f"Signing key: {KID} is in the JWKS (http://127.0.0.1:" in out
    assert f"Issuer:      {ISSUER} (matches the configured issuer)" in out
    assert f"Audience:    {AUDIENCE} (matches this API's audience)" in out
    assert "Subject:     auth0|user-1" in out
    assert "(in 59 min)" in out or "(in 1 h 0 min)" in out
    assert "Scope:       read:messages" in out
    assert "Permissions: ['read:customers']" in out
    assert out.rstrip().endswith("Verdict:     ACCEPTED - this service would accept this token.")


def test_inspect_token_names_each_mismatch_and_exits_1(make_token, other_rsa_key):
    now = int(time.time())
    token = make_token(
        key=other_rsa_key, kid="rotated-away", aud="https://wrong/", iat=now - 7200, exp=now - 3600
    )
    out, status = run("inspect_token", f"Bearer {token}")
    assert status == 1
    assert "Signing key: rotated-away is NOT in the JWKS (http://127.0.0.1:" in out
    assert f"; it has: {KID}" in out
    assert f"Audience:    https://wrong/ (does NOT match this API's audience {AUDIENCE})" in out
    assert "(1 h 0 min ago)" in out
    assert out.rstrip().endswith(
        "Verdict:     REJECTED - The token was signed with a key this API does not know."
    )


def test_inspect_token_reads_stdin(make_token, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(make_token() + "\n"))
    out, status = run("inspect_token", "-")
    assert status == 0
    assert "ACCEPTED" in out


@pytest.mark.parametrize("text", ["hello", "a.b", "!!!.???.***"])
def test_inspect_token_on_something_that_is_not_a_jwt_is_a_one_line_error(text):
    with pytest.raises(CommandError) as excinfo:
        run("inspect_token", text)
    assert str(excinfo.value) in {
        "This is not a JWT: expected three segments separated by dots.",
        "The token's header is malformed.",
    }


def test_inspect_token_reports_an_unreachable_jwks(make_token, jwks_server):
    jwks_server.status = 500
    out, status = run("inspect_token", make_token())
    assert status == 1
    assert "Signing key: cannot tell: the JWKS (http://127.0.0.1:" in out
    assert "is unavailable: the JWKS endpoint answered HTTP 500" in out
    assert out.rstrip().endswith(
        "Verdict:     REJECTED - the signing keys could not be loaded "
        "(the JWKS endpoint answered HTTP 500)."
    )


# --- check_auth0 ----------------------------------------------------------------------------------


def test_check_auth0_lists_the_keys_of_a_usable_jwks(jwks_server):
    out, status = run("check_auth0")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"Issuer:    {ISSUER}"
    assert lines[2] == f"JWKS:      {jwks_server.jwks_url}"
    assert lines[3].startswith("Fetched:   1 key(s) in ")
    assert lines[4] == f"  kid={KID} alg=RS256 RSA 2048 bits"
    assert lines[5] == "OK: tokens signed by these keys can be verified."


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (500, None, "the JWKS endpoint answered HTTP 500"),
        (200, b"<html></html>", "the JWKS endpoint did not return JSON"),
        (200, b'{"keys": []}', "the JWKS holds no usable signing key"),
    ],
)
def test_check_auth0_explains_an_unusable_jwks(jwks_server, status, body, reason):
    jwks_server.status, jwks_server.body = status, body
    with pytest.raises(CommandError) as excinfo:
        run("check_auth0")
    assert str(excinfo.value).startswith("JWKS unusable after ")
    assert str(excinfo.value).endswith(f" ms: {reason}.")


def test_check_auth0_explains_a_timeout(settings, jwks_server):
    settings.AUTH0 = {**settings.AUTH0, "JWKS_TIMEOUT": 0.2}
    jwks_server.delay = 1
    with pytest.raises(CommandError) as excinfo:
        run("check_auth0")
    assert str(excinfo.value).endswith(" ms: the JWKS host did not answer within 0.2 s.")


def test_check_auth0_explains_a_tls_failure(settings, jwks_server):
    https_url = jwks_server.jwks_url.replace("http://", "https://")
    settings.AUTH0 = {**settings.AUTH0, "JWKS_URL": https_url}
    with pytest.raises(CommandError) as excinfo:
        run("check_auth0")
    assert str(excinfo.value).endswith(" ms: TLS handshake with the JWKS host failed.")


def test_check_auth0_reports_a_bad_setting(settings):
    settings.AUTH0 = {**settings.AUTH0, "LEEWAY": "soon"}
    with pytest.raises(CommandError) as excinfo:
        run("check_auth0")
    assert str(excinfo.value) == "AUTH0_LEEWAY must be a number, got 'soon'."


# --- Production refusal ---------------------------------------------------------------------------


def test_server_refuses_to_start_without_a_tenant_when_debug_is_off():
    result = manage("check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode == 1
    assert (
        "(auth0_jwt.E001) No Auth0 tenant is configured and DJANGO_DEBUG is off: set AUTH0_DOMAIN "
        "and AUTH0_API_IDENTIFIER (or DJANGO_DEBUG=1 to use the local development issuer)."
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_mint_token_refuses_in_production_mode(tmp_path):
    result = manage(
        "mint_token", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50,
        LOCAL_ISSUER_KEY_DIR=str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert "(auth0_jwt.E001) No Auth0 tenant is configured" in result.stderr
    assert not any(tmp_path.iterdir())  # no key was created
