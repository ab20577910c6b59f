"""Customers per Auth0 organization (issue 20), end to end with real tokens: with an organization
token, customers belong to the organization (every member with the scope sees and changes the same
ones, members of another organization see none: 404); without one, a user's own customers as
before. The creator is recorded; an email is unique within its owner scope."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from conftest import bearer
from customers.models import Customer
from customers.services import DUPLICATE_EMAIL_MESSAGE, DUPLICATE_ORGANIZATION_EMAIL_MESSAGE

pytestmark = pytest.mark.django_db

LIST_URL = "/api/customers/"
BOTH = "read:customers write:customers"
NOT_FOUND = {"detail": "No customer of yours has this id."}
ACME, GLOBEX = "org_acme0000000001", "org_globex00000002"
ADA = {"name": "Ada Lovelace", "email": "ada@example.com"}


@pytest.fixture
def headers(make_token):
    """Authorization headers of `sub`, acting for organization `org` (None: no organization)."""

    def make(sub, org=None, scope=BOTH, **claims):
        if org is not None:
            claims["org_id"] = org
        return bearer(make_token(sub=sub, scope=scope, **claims))

    return make


def create(api_client, headers, body=ADA, **extra):
    return api_client.post(LIST_URL, body, format="json", **headers, **extra)


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [customer["id"] for customer in response.json()["results"]]


def detail(customer_id) -> str:
    return f"{LIST_URL}{customer_id}/"


def test_every_member_of_the_organization_sees_and_changes_the_same_customers(api_client, headers):
    alice, bob = headers("auth0|alice", ACME), headers("auth0|bob", ACME)
    created = create(api_client, alice)
    assert created.status_code == 201
    customer_id = created.json()["id"]
    assert ids(api_client.get(LIST_URL, **bob)) == [customer_id]
    assert api_client.get(detail(customer_id), **bob).json()["email"] == "ada@example.com"
    changed = api_client.patch(detail(customer_id), {"company": "Acme"}, format="json", **bob)
    assert (changed.status_code, changed.json()["company"]) == (200, "Acme")
    assert api_client.get(detail(customer_id), **alice).json()["company"] == "Acme"
    assert api_client.delete(detail(customer_id), **bob).status_code == 204
    assert ids(api_client.get(LIST_URL, **alice)) == []


def test_members_of_another_organization_see_none_of_them(api_client, headers):
    customer_id = create(api_client, headers("auth0|alice", ACME)).json()["id"]
    mallory = headers("auth0|mallory", GLOBEX)
    assert ids(api_client.get(LIST_URL, **mallory)) == []
    for method in ("get", "delete"):
        response = getattr(api_client, method)(detail(customer_id), **mallory)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    for method in ("put", "patch"):
        response = getattr(api_client, method)(detail(customer_id), ADA, format="json", **mallory)
        assert (response.status_code, response.json()) == (404, NOT_FOUND)
    assert Customer.objects.get(id=customer_id).name == "Ada Lovelace"


def test_the_same_user_in_another_organization_sees_none_of_them(api_client, headers):
    customer_id = create(api_client, headers("auth0|alice", ACME)).json()["id"]
    assert ids(api_client.get(LIST_URL, **headers("auth0|alice", GLOBEX))) == []
    response = api_client.get(detail(customer_id), **headers("auth0|alice", GLOBEX))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_a_token_without_organization_keeps_its_users_own_customers(api_client, headers):
    own = create(api_client, headers("auth0|alice")).json()["id"]
    shared = create(api_client, headers("auth0|alice", ACME)).json()["id"]
    assert ids(api_client.get(LIST_URL, **headers("auth0|alice"))) == [own]
    assert ids(api_client.get(LIST_URL, **headers("auth0|alice", ACME))) == [shared]
    response = api_client.get(detail(shared), **headers("auth0|alice"))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)
    response = api_client.get(detail(own), **headers("auth0|bob", ACME))
    assert (response.status_code, response.json()) == (404, NOT_FOUND)


def test_the_creator_is_recorded(api_client, headers):
    customer_id = create(api_client, headers("auth0|alice", ACME)).json()["id"]
    customer = Customer.objects.select_related("owner").get(id=customer_id)
    assert (customer.owner.username, customer.organization) == ("auth0.alice", ACME)
    api_client.patch(
        detail(customer_id), {"notes": "x"}, format="json", **headers("auth0|bob", ACME)
    )
    customer.refresh_from_db()
    assert customer.owner.username == "auth0.alice"


def test_an_email_is_unique_within_its_owner_scope(api_client, headers):
    assert create(api_client, headers("auth0|alice", ACME)).status_code == 201
    duplicate = create(api_client, headers("auth0|bob", ACME), {**ADA, "email": "ADA@example.com"})
    assert (duplicate.status_code, duplicate.json()) == (
        400,
        {"email": [DUPLICATE_ORGANIZATION_EMAIL_MESSAGE]},
    )
    assert create(api_client, headers("auth0|mallory", GLOBEX)).status_code == 201
    assert create(api_client, headers("auth0|alice")).status_code == 201  # her own scope
    duplicate = create(api_client, headers("auth0|alice"))
    assert (duplicate.status_code, duplicate.json()) == (400, {"email": [DUPLICATE_EMAIL_MESSAGE]})
    assert create(api_client, headers("auth0|bob")).status_code == 201
    # Changing an email into one the organization has is refused the same way.
    other = create(api_client, headers("auth0|bob", ACME), {**ADA, "email": "b@example.com"})
    response = api_client.patch(
        detail(other.json()["id"]), {"email": "ada@example.com"}, format="json",
        **headers("auth0|alice", ACME),
    )  # fmt: skip
    assert (response.status_code, response.json()) == (
        400,
        {"email": [DUPLICATE_ORGANIZATION_EMAIL_MESSAGE]},
    )


def test_the_scopes_still_apply_within_an_organization(api_client, headers):
    customer_id = create(api_client, headers("auth0|alice", ACME)).json()["id"]
    reader = headers("auth0|bob", ACME, scope="read:customers")
    assert ids(api_client.get(LIST_URL, **reader)) == [customer_id]
    assert api_client.delete(detail(customer_id), **reader).status_code == 403


def test_an_idempotency_key_never_replays_another_organizations_answer(api_client, headers):
    key = {"HTTP_IDEMPOTENCY_KEY": "create-ada-1"}
    first = create(api_client, headers("auth0|alice", ACME), **key)
    assert first.status_code == 201
    again = create(api_client, headers("auth0|alice", ACME), **key)
    assert (again.status_code, again.json()) == (201, first.json())
    other = create(api_client, headers("auth0|alice", GLOBEX), **key)
    assert other.status_code == 422
    assert first.json()["id"] not in str(other.content)
    assert ids(api_client.get(LIST_URL, **headers("auth0|alice", GLOBEX))) == []


@pytest.mark.parametrize("org_id", [42, "", ["org_x"], "org_\x00"])
def test_a_token_with_a_hostile_org_id_never_reaches_the_customers(api_client, make_token, org_id):
    token = make_token(sub="auth0|alice", scope=BOTH, org_id=org_id)
    response = api_client.get(LIST_URL, **bearer(token))
    assert response.status_code == 401
    assert response.json()["detail"].startswith("The token's org_id claim ")


# --- The migration --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_existing_customers_stay_their_owners_after_the_migration():
    executor = MigrationExecutor(connection)
    before, after = [("customers", "0002_idempotencykey")], [("customers", "0003_organization")]
    executor.migrate(before)
    old_apps = executor.loader.project_state(before).apps
    user_model = old_apps.get_model(*get_user_model()._meta.label.split("."))
    old_customer = old_apps.get_model("customers", "Customer")
    alice = user_model.objects.create(username="alice")
    bob = user_model.objects.create(username="bob")
    for owner in (alice, bob):  # the same email under two owners
        old_customer.objects.create(owner=owner, name="Ada", email="ada@example.com")

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new_customer = executor.loader.project_state(after).apps.get_model("customers", "Customer")
    assert sorted(new_customer.objects.values_list("owner__username", "organization")) == [
        ("alice", ""),
        ("bob", ""),
    ]
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # back to the latest state
