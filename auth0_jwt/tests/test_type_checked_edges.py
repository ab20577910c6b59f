"""Edges the type checker (mypy --strict, `make lint`) pointed at: inputs whose types the code did
not handle, answered now with the module's own error instead of an AttributeError or TypeError."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from auth0_jwt.dpop import DPoPVerifier
from auth0_jwt.keystore import JWKSError, parse_jwks
from auth0_jwt.local_issuer import KEY_FILE_NAME, LocalIssuer
from auth0_jwt.tests.conftest import LOCAL_AUDIENCE, LOCAL_ISSUER
from auth0_jwt.tests.test_keystore import certificate_b64, self_signed_certificate
from conftest import KID, public_jwk


def test_rsa_key_whose_x5c_holds_an_ed25519_key_is_skipped_not_an_error(rsa_key):
    ed25519_key = ed25519.Ed25519PrivateKey.generate()
    bad = public_jwk(rsa_key, kid="bad", x5c=[certificate_b64(ed25519_key, algorithm=None)])
    keys, skipped = parse_jwks({"keys": [bad, public_jwk(rsa_key)]}, algorithms=("RS256",))
    assert list(keys) == [KID]
    assert skipped == ["key 0: the x5c certificate does not match the key parameters"]


def test_rsa_key_whose_x5c_holds_an_ec_key_is_skipped(rsa_key):
    bad = public_jwk(
        rsa_key, kid="bad", x5c=[certificate_b64(ec.generate_private_key(ec.SECP256R1()))]
    )
    keys, skipped = parse_jwks({"keys": [bad, public_jwk(rsa_key)]}, algorithms=("RS256",))
    assert list(keys) == [KID]
    assert skipped == ["key 0: the x5c certificate does not match the key parameters"]


def test_local_issuer_key_file_holding_an_ec_key_says_how_to_recover(key_dir):
    key = ec.generate_private_key(ec.SECP256R1())
    key_dir.mkdir()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + self_signed_certificate(key).public_bytes(serialization.Encoding.PEM)
    (key_dir / KEY_FILE_NAME).write_bytes(pem)
    issuer = LocalIssuer(key_dir=key_dir, issuer=LOCAL_ISSUER, audience=LOCAL_AUDIENCE)
    with pytest.raises(JWKSError) as excinfo:
        issuer.jwks()
    assert str(excinfo.value) == (
        f"{key_dir / KEY_FILE_NAME} is not a valid key file; delete it to create a new key."
    )


def test_a_verifier_without_nonces_has_no_current_nonce():
    with pytest.raises(RuntimeError) as excinfo:
        DPoPVerifier().current_nonce()
    assert str(excinfo.value) == "DPoP server nonces are off: this verifier has no nonce_secret"
