"""The local development issuer: its key on disk, its JWKS, and tokens verified by the same code
path as Auth0's."""

import base64
import stat
import threading

import jwt
import pytest
from cryptography import x509
from django.core.management import call_command

from auth0_jwt.keystore import JWKSError
from auth0_jwt.local_issuer import KEY_FILE_NAME, LocalIssuer
from auth0_jwt.tests.conftest import LOCAL_AUDIENCE, LOCAL_ISSUER
from conftest import bearer


def new_issuer(key_dir):
    return LocalIssuer(key_dir=key_dir, issuer=LOCAL_ISSUER, audience=LOCAL_AUDIENCE)


def test_first_use_creates_an_owner_only_key_that_survives_restarts(key_dir):
    kid = new_issuer(key_dir).kid
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((key_dir / KEY_FILE_NAME).stat().st_mode) == 0o600
    assert new_issuer(key_dir).kid == kid  # a new process reads the same key


def test_concurrent_first_starts_agree_on_one_key(key_dir):
    kids, barrier = [], threading.Barrier(4)

    def start():
        barrier.wait()
        kids.append(new_issuer(key_dir).kid)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(kids)) == 1
    assert [p.name for p in key_dir.iterdir()] == [KEY_FILE_NAME]


def test_jwks_has_auth0_shape_and_its_certificate_holds_the_same_key(key_dir):
    document = new_issuer(key_dir).jwks()
    (key,) = document["keys"]
    assert sorted(key) == ["alg", "e", "kid", "kty", "n", "use", "x5c"]
    assert (key["kty"], key["use"], key["alg"]) == ("RSA", "sig", "RS256")
    certificate = x509.load_der_x509_certificate(base64.b64decode(key["x5c"][0]))
    jwk_key = jwt.PyJWK(key).key
    assert certificate.public_key().public_numbers() == jwk_key.public_numbers()


def test_unreadable_key_file_is_a_one_line_error(key_dir):
    (key_dir / KEY_FILE_NAME).mkdir(parents=True)  # a folder where the key file should be
    with pytest.raises(JWKSError) as excinfo:
        new_issuer(key_dir).jwks()
    assert str(excinfo.value) == f"Cannot read {key_dir / KEY_FILE_NAME}: Is a directory."


def test_corrupt_key_file_says_how_to_recover(key_dir):
    key_dir.mkdir()
    (key_dir / KEY_FILE_NAME).write_text("not a key")
    with pytest.raises(JWKSError) as excinfo:
        new_issuer(key_dir).jwks()
    assert str(excinfo.value) == (
        f"{key_dir / KEY_FILE_NAME} is not a valid key file; delete it to create a new key."
    )


def test_key_folder_below_a_file_is_a_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(JWKSError) as excinfo:
        new_issuer(blocker / "keys").jwks()
    assert str(excinfo.value) == f"Cannot read {blocker / 'keys' / KEY_FILE_NAME}: Not a directory."


@pytest.mark.django_db
def test_jwks_endpoint_publishes_the_public_key_in_local_mode(client, local_mode, key_dir):
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.json() == new_issuer(key_dir).jwks()
    assert "PRIVATE" not in response.content.decode()


@pytest.mark.django_db
def test_jwks_endpoint_is_404_when_auth0_is_the_issuer(client):
    assert client.get("/.well-known/jwks.json").status_code == 404


@pytest.mark.django_db
def test_minted_tokens_pass_the_real_verification_without_http(
    api_client, local_mode, jwks_server, capsys
):
    call_command("mint_token", "--scope", "read:messages")
    scoped = capsys.readouterr().out.strip()
    call_command("mint_token")
    plain = capsys.readouterr().out.strip()

    response = api_client.get("/api/private-scoped/", **bearer(scoped))
    assert response.status_code == 200
    assert response.json()["sub"] == "auth0|local-dev"
    assert api_client.get("/api/private/", **bearer(plain)).status_code == 200
    response = api_client.get("/api/private-scoped/", **bearer(plain))
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", scope="read:messages"'
    )
    assert jwks_server.fetches == 0
