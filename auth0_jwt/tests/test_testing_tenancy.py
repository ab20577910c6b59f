"""The testing plugin mints what `mint_token` mints (issue 20): an Auth0 Organization's token
(`org_id`, `org_name`) and one of another domain of the tenant (`issuer_domain`)."""

import pytest

from auth0_jwt.verifier import decode_segment

pytestmark = pytest.mark.django_db


def test_an_organizations_token_is_accepted_with_its_organization(auth0_token, auth0_api_client):
    token = auth0_token(org_id="org_acme0000000001", org_name="acme")
    claims = decode_segment(token, 1, "payload")
    assert (claims["org_id"], claims["org_name"]) == ("org_acme0000000001", "acme")
    assert auth0_api_client(token=token).get("/api/private/").status_code == 200


def test_a_token_of_another_domain_names_it(auth0_token, auth0_api_client):
    token = auth0_token(issuer_domain="Login.Example.test")
    assert decode_segment(token, 1, "payload")["iss"] == "https://login.example.test/"
    response = auth0_api_client(token=token).get("/api/private/")  # not this project's issuer
    assert (response.status_code, response.json()) == (
        401,
        {"detail": "The token was not issued by the expected issuer."},
    )


def test_issuer_and_issuer_domain_are_exclusive(auth0_token):
    with pytest.raises(TypeError):
        auth0_token(issuer="https://a.test/", issuer_domain="b.test")
    with pytest.raises(ValueError):
        auth0_token(issuer_domain="b.test/path")
