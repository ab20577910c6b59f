"""One view, one organization, in every adapter (issue 20): plain Django views (requires_auth's
`organization`, the mixin's `required_organization`) and Django Ninja
(`Auth0Bearer(organization=...)`), sync and async, answer exactly as DRF's HasRequiredOrganization
does."""

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient

from auth0_jwt.tests.attacks.support import assert_insufficient_scope, assert_invalid_token
from conftest import bearer

pytestmark = [pytest.mark.django_db, pytest.mark.urls("auth0_jwt.tests.organization_urls")]

ACME, GLOBEX = "org_acme0000000001", "org_globex00000002"
OTHER = "The token is not for the organization this endpoint belongs to."
DRF_ACME = "/api/acme/"
SYNC_ACME = ["/plain/acme/", "/ninja/acme/"]
ASYNC_PARTNERS = ["/plain/partners-async/", "/ninja/partners-async/", "/api/partners/"]


@pytest.mark.parametrize("path", [DRF_ACME, *SYNC_ACME])
def test_a_token_of_the_organization_passes(client, make_token, path):
    response = client.get(path, **bearer(make_token(org_id=ACME)))
    assert response.status_code == 200
    assert response.json()["sub"] == "auth0|user-1"


@pytest.mark.parametrize("path", [DRF_ACME, *SYNC_ACME])
@pytest.mark.parametrize("claims", [{"org_id": GLOBEX}, {}, {"org_id": GLOBEX, "org_name": "acme"}])
def test_another_organization_or_none_gets_the_same_401_everywhere(
    client, make_token, path, claims
):
    assert_invalid_token(client.get(path, **bearer(make_token(**claims))), OTHER)


def test_the_mixin_takes_a_name(client, make_token):
    token = make_token(org_id=GLOBEX, org_name="globex")
    assert client.get("/plain/globex/", **bearer(token)).status_code == 200
    assert_invalid_token(client.get("/plain/globex/", **bearer(make_token(org_id=GLOBEX))), OTHER)


@pytest.mark.parametrize("path", ASYNC_PARTNERS)
def test_async_views_check_scopes_then_the_organization(make_token, path):
    async def get(token):
        response = await AsyncClient().get(path, headers={"Authorization": f"Bearer {token}"})
        return response

    ok = make_token(org_id=GLOBEX, org_name="initech", scope="read:partners")
    assert async_to_sync(get)(ok).status_code == 200
    assert_insufficient_scope(async_to_sync(get)(make_token(org_id=ACME)), "read:partners")
    wrong = make_token(org_id=GLOBEX, org_name="globex", scope="read:partners")
    assert_invalid_token(async_to_sync(get)(wrong), OTHER)


def test_a_bad_organization_argument_fails_at_decoration():
    from auth0_jwt.django import requires_auth
    from auth0_jwt.ninja import Auth0Bearer

    with pytest.raises(ValueError):
        requires_auth(organization=["acme", ""])
    with pytest.raises(ValueError):
        Auth0Bearer(organization=[42])
