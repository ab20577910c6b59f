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
from auth0_jwt.verifier import decode_segment
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


def test_inspect_token_accepts_a_valid_token_and_explains_it(make_token, jwks_server):
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


def test_inspect_token_names_each_mismatch_and_exits_1(make_token, other_rsa_key, jwks_server):
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
    assert str(excinfo.value) == "AUTH0[\"LEEWAY\"] must be a number, got 'soon'."


# --- Production refusal ---------------------------------------------------------------------------


def test_server_refuses_to_start_without_a_tenant_when_debug_is_off():
    result = manage("check", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50)
    assert result.returncode == 1
    assert (
        '(auth0_jwt.E001) AUTH0["LOCAL_ISSUER"] is on while DEBUG is off: locally minted tokens '
        'are for development only; set AUTH0["DOMAIN"] and AUTH0["AUDIENCE"] for your Auth0 '
        "tenant and API."
    ) in result.stderr
    assert "Traceback" not in result.stderr


def test_mint_token_refuses_in_production_mode(tmp_path):
    result = manage(
        "mint_token", DJANGO_DEBUG="0", DJANGO_SECRET_KEY="x" * 50,
        LOCAL_ISSUER_KEY_DIR=str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    assert '(auth0_jwt.E001) AUTH0["LOCAL_ISSUER"] is on while DEBUG is off' in result.stderr
    assert not any(tmp_path.iterdir())  # no key was created


# --- DPoP: mint_token --dpop-key, dpop_proof, inspect_token ---------------------------------------


def test_mint_token_with_a_dpop_key_creates_it_owner_only_and_binds_the_token(local_mode, key_dir):
    from auth0_jwt.dpop import jwk_thumbprint
    from auth0_jwt.local_issuer import dpop_public_jwk, load_or_create_dpop_key

    path = key_dir.parent / "client" / "dpop-key.pem"
    token, status = run("mint_token", "--dpop-key", str(path))
    assert status == 0
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert oct(path.parent.stat().st_mode & 0o777) == "0o700"
    jkt = jwk_thumbprint(dpop_public_jwk(load_or_create_dpop_key(path)))
    assert local_claims(token, key_dir, audience=LOCAL_AUDIENCE)["cnf"] == {"jkt": jkt}
    again, _ = run("mint_token", "--dpop-key", str(path))  # the same key is used again
    assert local_claims(again, key_dir, audience=LOCAL_AUDIENCE)["cnf"] == {"jkt": jkt}


def test_mint_token_refuses_a_dpop_key_file_that_is_not_one(local_mode, tmp_path):
    path = tmp_path / "not-a-key.pem"
    path.write_text("hello")
    with pytest.raises(CommandError) as excinfo:
        run("mint_token", "--dpop-key", str(path))
    assert str(excinfo.value) == (
        f"{path} is not an unencrypted EC P-256 private key (PEM); delete it to create one."
    )


def test_dpop_proof_prints_a_proof_the_service_accepts(tmp_path):
    from auth0_jwt.dpop import DPoPVerifier
    from auth0_jwt.local_issuer import dpop_public_jwk, load_or_create_dpop_key

    path = tmp_path / "dpop-key.pem"
    token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    url = "http://127.0.0.1:8000/api/private/"
    out, status = run(
        "dpop_proof", "--key", str(path), "--method", "POST", "--url", url + "?q=1",
        "--token", f"DPoP {token}",
    )  # fmt: skip
    assert status == 0
    proof = out.strip()
    verified = DPoPVerifier().verify(proof, method="POST", url=url, access_token=token)
    assert verified.header["jwk"] == dpop_public_jwk(load_or_create_dpop_key(path))
    assert verified.claims["htu"] == url
    second, _ = run("dpop_proof", "--key", str(path), "--url", url)
    claims = decode_segment(second.strip(), 1, "payload")  # its own jti, no ath without --token
    assert claims["jti"] != verified.jti and "ath" not in claims and claims["htm"] == "GET"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--url", "ftp://x/"], "--url must be an http(s) URL, got 'ftp://x/'."),
        (["--url", "http://x/", "--method", "get"], "--method must be an HTTP method such as GET"),
        (["--url", "http://x/", "--token", "abc"], "--token is not a JWT (three base64url"),
    ],
)
def test_dpop_proof_usage_errors_are_one_line(tmp_path, options, message):
    with pytest.raises(CommandError) as excinfo:
        run("dpop_proof", "--key", str(tmp_path / "k.pem"), *options)
    assert str(excinfo.value).startswith(message)
    assert not (tmp_path / "k.pem").exists()


def test_inspect_token_says_whether_a_token_is_dpop_bound(make_token):
    out, status = run("inspect_token", make_token())
    assert "DPoP:        not bound (no cnf claim): a Bearer token" in out
    bound = make_token(cnf={"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"})
    out, status = run("inspect_token", f"DPoP {bound}")
    assert status == 0
    assert (
        "DPoP:        DPoP-bound: cnf.jkt=0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I "
        "(the key's RFC 7638 thumbprint)"
    ) in out
    assert out.rstrip().endswith(
        "Verdict:     ACCEPTED - with the DPoP scheme and a proof signed by the key cnf.jkt "
        "names; as a Bearer token it is refused."
    )


def test_inspect_token_rejects_a_bound_token_when_dpop_is_off(settings, make_token):
    settings.AUTH0 = {**settings.AUTH0, "DPOP": "off"}
    out, status = run("inspect_token", make_token(cnf={"jkt": "abc"}))
    assert status == 1
    assert out.rstrip().endswith(
        "Verdict:     REJECTED - the token is bound to a key (cnf), so it is refused as a "
        "Bearer token, and this service does not accept it with DPoP."
    )
    out, status = run("inspect_token", make_token(cnf={"x5t#S256": "abc"}))
    assert status == 1
    assert "DPoP:        cnf without a jkt thumbprint ({'x5t#S256': 'abc'}): refused" in out
