"""The customers API end to end: real RS256 tokens minted by the testing plugin (auth0_jwt.testing)
and verified in full, the real database."""

import datetime
import json
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from conftest import bearer
from customers.models import Customer
from customers.parsers import MAX_BODY_SIZE
from customers.services import DUPLICATE_EMAIL_MESSAGE
from customers.validators import PHONE_MESSAGE

pytestmark = pytest.mark.django_db

LIST_URL = "/api/customers/"
ALL_SCOPES = "read:customers write:customers"
NOT_FOUND = {"detail": "No customer of yours has this id."}
NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
ADA = {
    "name": "Ada Lovelace",
    "email": "Ada@Example.COM",
    "phone": "+44 (20) 7946-0958",
    "company": "Analytical Engines",
    "notes": "Met at the Difference Engine demo.",
}


def detail_url(customer_id) -> str:
    return f"{LIST_URL}{customer_id}/"


@pytest.fixture
def as_user(auth0_token):
    """Authorization headers for `sub` with `scope` (both scopes unless told), minted by the
    testing plugin."""

    def headers(sub="auth0|alice", scope=ALL_SCOPES, **claims):
        return bearer(auth0_token(sub=sub, scopes=scope, claims=claims))

    return headers


@pytest.fixture
def alice(as_user):
    return as_user("auth0|alice")


@pytest.fixture
def bob(as_user):
    return as_user("auth0|bob")


def user_of(sub: str):
    return get_user_model().objects.get(auth0_identity__sub=sub)


def create(api_client, headers, **fields):
    response = api_client.post(LIST_URL, {**ADA, **fields}, format="json", **headers)
    assert response.status_code == 201, response.content
    return response.json()


def post_raw(api_client, headers, body: bytes, content_type="application/json"):
    return api_client.generic("POST", LIST_URL, body, content_type=content_type, **headers)


def insufficient_scope(scope: str) -> tuple[dict, str]:
    return (
        {"detail": f"The access token lacks the scope this endpoint needs: {scope}."},
        f'Bearer realm="api", error="insufficient_scope", scope="{scope}"',
    )


# --- Create ---------------------------------------------------------------------------------------


def test_create_answers_201_with_the_normalised_customer_and_its_location(api_client, alice):
    response = api_client.post(LIST_URL, ADA, format="json", **alice)

    assert response.status_code == 201
    body = response.json()
    customer = Customer.objects.get()
    assert body == {
        "id": str(customer.id),
        "name": "Ada Lovelace",
        "email": "ada@example.com",
        "phone": "+442079460958",
        "company": "Analytical Engines",
        "notes": "Met at the Difference Engine demo.",
        "created_at": customer.created_at.isoformat().replace("+00:00", "Z"),
        "updated_at": customer.updated_at.isoformat().replace("+00:00", "Z"),
    }
    assert response["Location"] == f"http://testserver/api/customers/{customer.id}/"
    assert customer.owner == user_of("auth0|alice")


def test_create_needs_only_name_and_email(api_client, alice):
    response = api_client.post(
        LIST_URL, {"name": "Bo", "email": "bo@example.com"}, format="json", **alice
    )
    assert response.status_code == 201
    body = response.json()
    assert (body["phone"], body["company"], body["notes"]) == ("", "", "")


def test_create_takes_the_owner_from_the_token_never_from_the_body(api_client, alice, bob):
    create(api_client, bob, email="bob-own@example.com")
    bob_user = user_of("auth0|bob")
    forged_id = str(uuid.uuid4())

    body = create(
        api_client,
        alice,
        owner=bob_user.pk,
        id=forged_id,
        created_at="2000-01-01T00:00:00Z",
    )

    customer = Customer.objects.get(pk=body["id"])
    assert customer.owner == user_of("auth0|alice")
    assert body["id"] != forged_id
    assert not body["created_at"].startswith("2000")


def test_create_accepts_the_write_scope_as_an_rbac_permission(auth0_api_client):
    client = auth0_api_client(sub="auth0|alice", permissions=["write:customers"])
    response = client.post(LIST_URL, ADA, format="json")
    assert response.status_code == 201


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"name": None}, {"name": ["This field may not be null."]}),
        ({"name": "   "}, {"name": ["This field may not be blank."]}),
        ({"name": "x" * 201}, {"name": ["Ensure this field has no more than 200 characters."]}),
        ({"name": "Ada\x00"}, {"name": ["Null characters are not allowed."]}),
        ({"email": "not-an-email"}, {"email": ["Enter a valid email address."]}),
        ({"email": ""}, {"email": ["This field may not be blank."]}),
        ({"phone": "555-0123"}, {"phone": [PHONE_MESSAGE]}),
        ({"phone": "+0123456789"}, {"phone": [PHONE_MESSAGE]}),
        ({"phone": "+1234567890123456"}, {"phone": [PHONE_MESSAGE]}),
        ({"phone": "+1 415 CALL NOW"}, {"phone": [PHONE_MESSAGE]}),
        (
            {"company": "c" * 201},
            {"company": ["Ensure this field has no more than 200 characters."]},
        ),
        ({"notes": "n" * 5001}, {"notes": ["Ensure this field has no more than 5000 characters."]}),
        # The schema says string: numbers, booleans and lists are not turned into text.
        ({"notes": 5}, {"notes": ["Not a valid string."]}),
        ({"name": True}, {"name": ["Not a valid string."]}),
        ({"company": ["x"]}, {"company": ["Not a valid string."]}),
        ({"phone": 14155550123}, {"phone": ["Not a valid string."]}),
        ({"email": 7}, {"email": ["Enter a valid email address."]}),
    ],
)
def test_create_refuses_invalid_fields_with_field_messages(api_client, alice, fields, errors):
    response = api_client.post(LIST_URL, {**ADA, **fields}, format="json", **alice)

    assert response.status_code == 400
    assert response.json() == errors
    assert not Customer.objects.exists()


def test_create_reports_every_missing_required_field(api_client, alice):
    response = api_client.post(LIST_URL, {}, format="json", **alice)
    assert response.status_code == 400
    assert response.json() == {
        "name": ["This field is required."],
        "email": ["This field is required."],
    }


def test_create_refuses_a_body_that_is_not_an_object(api_client, alice):
    response = api_client.post(LIST_URL, [ADA], format="json", **alice)
    assert response.status_code == 400
    assert response.json() == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_create_refuses_a_duplicate_email_of_the_same_owner_whatever_its_case(api_client, alice):
    create(api_client, alice, email="ada@example.com")

    response = api_client.post(
        LIST_URL,
        {**ADA, "name": "Other Ada", "email": "  ADA@example.com "},
        format="json",
        **alice,
    )

    assert response.status_code == 400
    assert response.json() == {"email": [DUPLICATE_EMAIL_MESSAGE]}
    assert list(Customer.objects.values_list("name", flat=True)) == ["Ada Lovelace"]


def test_two_owners_may_each_have_a_customer_with_the_same_email(api_client, alice, bob):
    create(api_client, alice)
    create(api_client, bob)
    assert Customer.objects.filter(email="ada@example.com").count() == 2


# --- Request bodies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b"name=Ada"),
        ("application/x-www-form-urlencoded", b"name=Ada&email=ada%40example.com"),
        ("multipart/form-data; boundary=xyz", b"--xyz--\r\n"),
        ("application/xml", b"<customer/>"),
    ],
)
def test_a_body_that_is_not_json_is_415(api_client, alice, content_type, body):
    response = post_raw(api_client, alice, body, content_type=content_type)
    media_type = content_type.split(";")[0] if "multipart" not in content_type else content_type
    assert response.status_code == 415
    assert response.json() == {"detail": f'Unsupported media type "{media_type}" in request.'}
    assert not Customer.objects.exists()


def test_patch_with_a_body_that_is_not_json_is_415(api_client, alice):
    customer = create(api_client, alice)
    response = api_client.generic(
        "PATCH", detail_url(customer["id"]), b"name=Eve", content_type="text/plain", **alice
    )
    assert response.status_code == 415
    assert Customer.objects.get().name == "Ada Lovelace"


def test_a_body_over_the_limit_is_413_and_nothing_is_written(api_client, alice):
    body = json.dumps({**ADA, "notes": "n" * MAX_BODY_SIZE}).encode()
    response = post_raw(api_client, alice, body)
    assert response.status_code == 413
    assert response.json() == {"detail": f"The request body is larger than {MAX_BODY_SIZE} bytes."}
    assert not Customer.objects.exists()


def test_a_body_just_under_the_limit_is_parsed_and_validated(api_client, alice):
    document = {**ADA, "notes": ""}
    padding = MAX_BODY_SIZE - len(json.dumps(document).encode())
    body = json.dumps({**ADA, "notes": "n" * padding}).encode()
    assert len(body) == MAX_BODY_SIZE

    response = post_raw(api_client, alice, body)

    assert response.status_code == 400
    assert response.json() == {"notes": ["Ensure this field has no more than 5000 characters."]}


def test_malformed_json_is_400(api_client, alice):
    response = post_raw(api_client, alice, b'{"name": "Ada",')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")


def test_deeply_nested_json_is_400_not_a_server_error(api_client, alice):
    response = post_raw(api_client, alice, b"[" * 30_000 + b"]" * 30_000)
    assert response.status_code == 400
    assert response.json() == {"detail": "JSON parse error - the document is nested too deeply."}


def test_json_with_nan_is_400(api_client, alice):
    response = post_raw(api_client, alice, b'{"name": NaN, "email": "a@example.com"}')
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")


# --- Read -----------------------------------------------------------------------------------------


def test_get_answers_the_customer(api_client, alice):
    created = create(api_client, alice)
    response = api_client.get(detail_url(created["id"]), **alice)
    assert response.status_code == 200
    assert response.json() == created


def test_head_on_a_customer_needs_the_read_scope_too(api_client, alice, as_user):
    created = create(api_client, alice)
    assert api_client.head(detail_url(created["id"]), **alice).status_code == 200
    response = api_client.head(detail_url(created["id"]), **as_user(scope="write:customers"))
    assert response.status_code == 403


def test_another_owners_customer_is_404_for_every_method(api_client, alice, bob):
    created = create(api_client, alice)
    url = detail_url(created["id"])

    responses = [
        api_client.get(url, **bob),
        api_client.put(url, {**ADA, "name": "Eve"}, format="json", **bob),
        api_client.patch(url, {"name": "Eve"}, format="json", **bob),
        api_client.delete(url, **bob),
    ]

    assert [r.status_code for r in responses] == [404, 404, 404, 404]
    assert all(r.json() == NOT_FOUND for r in responses)
    assert Customer.objects.get().name == "Ada Lovelace"


@pytest.mark.parametrize(
    "customer_id",
    ["not-a-uuid", "123", "0" * 40, "00000000-0000-0000-0000-00000000000g", "%20", "..."],
)
def test_a_malformed_id_is_a_json_404(api_client, alice, customer_id):
    response = api_client.get(detail_url(customer_id), **alice)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


def test_an_unknown_id_is_404(api_client, alice):
    response = api_client.get(detail_url(uuid.uuid4()), **alice)
    assert response.status_code == 404
    assert response.json() == NOT_FOUND


# --- List: ownership, pagination, search, ordering ------------------------------------------------


def make_customers(owner, count, **fields):
    start = timezone.now() - datetime.timedelta(days=1)
    customers = Customer.objects.bulk_create(
        Customer(owner=owner, name=f"Customer {i:03}", email=f"c{i:03}@example.com", **fields)
        for i in range(count)
    )
    # Distinct creation times, oldest first, so the default order is predictable.
    for i, customer in enumerate(customers):
        Customer.objects.filter(pk=customer.pk).update(
            created_at=start + datetime.timedelta(seconds=i)
        )
    return customers


@pytest.fixture
def alice_user(api_client, alice):
    api_client.get(LIST_URL, **alice)  # the first request creates the user
    return user_of("auth0|alice")


def test_list_shows_only_the_callers_customers(api_client, alice, bob):
    mine = create(api_client, alice)
    create(api_client, bob, name="Bob's customer")

    response = api_client.get(LIST_URL, **alice)

    assert response.status_code == 200
    assert response.json() == {"count": 1, "next": None, "previous": None, "results": [mine]}


def test_list_is_paginated_newest_first(api_client, alice, alice_user):
    make_customers(alice_user, 25)

    first = api_client.get(LIST_URL, **alice).json()
    second = api_client.get(LIST_URL, {"page": 2}, **alice).json()

    assert first["count"] == 25
    assert [c["name"] for c in first["results"]] == [f"Customer {i:03}" for i in range(24, 4, -1)]
    assert first["next"] == "http://testserver/api/customers/?page=2"
    assert first["previous"] is None
    assert [c["name"] for c in second["results"]] == [f"Customer {i:03}" for i in range(4, -1, -1)]
    assert second["next"] is None
    assert second["previous"] == "http://testserver/api/customers/"


def test_page_size_is_honoured_and_capped_at_100(api_client, alice, alice_user):
    make_customers(alice_user, 101)

    small = api_client.get(LIST_URL, {"page_size": 5}, **alice).json()
    huge = api_client.get(LIST_URL, {"page_size": 10_000}, **alice).json()

    assert len(small["results"]) == 5
    assert small["next"] == "http://testserver/api/customers/?page=2&page_size=5"
    assert len(huge["results"]) == 100
    assert huge["count"] == 101


@pytest.mark.parametrize("page_size", ["0", "-5", "abc", "null", "1.5", "", "\uff15"])
def test_a_page_size_that_is_not_a_whole_number_from_1_is_400(
    api_client, alice, alice_user, page_size
):
    response = api_client.get(LIST_URL, {"page_size": page_size}, **alice)
    assert response.status_code == 400
    assert response.json() == {"page_size": ["Must be a whole number from 1 up."]}


@pytest.mark.parametrize("page", ["3", "0", "-1", "abc"])
def test_a_page_that_does_not_exist_is_404(api_client, alice, alice_user, page):
    make_customers(alice_user, 25)
    response = api_client.get(LIST_URL, {"page": page}, **alice)
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}


def test_search_matches_name_email_and_company_case_insensitively(api_client, alice, bob):
    create(api_client, alice, name="Grace Hopper", email="grace@navy.example", company="US Navy")
    create(api_client, alice, name="Ada Lovelace", email="ada@example.com", company="")
    create(api_client, alice, name="Alan Turing", email="alan@bletchley.example", company="GCCS")
    create(api_client, bob, name="Grace Bob", email="grace@bob.example")

    def names(query):
        response = api_client.get(LIST_URL, {"search": query}, **alice)
        assert response.status_code == 200
        return sorted(c["name"] for c in response.json()["results"])

    assert names("grace") == ["Grace Hopper"]
    assert names("NAVY") == ["Grace Hopper"]
    assert names("bletchley") == ["Alan Turing"]
    assert names("gccs") == ["Alan Turing"]
    assert names("a") == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert names("alan gccs") == ["Alan Turing"]
    assert names("alan navy") == []
    assert names("") == ["Ada Lovelace", "Alan Turing", "Grace Hopper"]
    assert names("100%_") == []


@pytest.mark.parametrize(
    ("ordering", "expected"),
    [
        ("name", ["Ada", "Bea", "Cy"]),
        ("-name", ["Cy", "Bea", "Ada"]),
        ("company,name", ["Bea", "Cy", "Ada"]),
        ("-company,-name", ["Ada", "Cy", "Bea"]),
        ("created_at", ["Cy", "Ada", "Bea"]),
        ("", ["Bea", "Ada", "Cy"]),
    ],
)
def test_list_ordering(api_client, alice, alice_user, ordering, expected):
    start = timezone.now()
    for minutes, (name, company) in enumerate([("Cy", "Acme"), ("Ada", "Zeta"), ("Bea", "Acme")]):
        customer = Customer.objects.create(
            owner=alice_user, name=name, email=f"{name.lower()}@example.com", company=company
        )
        Customer.objects.filter(pk=customer.pk).update(
            created_at=start + datetime.timedelta(minutes=minutes)
        )

    response = api_client.get(LIST_URL, {"ordering": ordering}, **alice)

    assert response.status_code == 200
    assert [c["name"] for c in response.json()["results"]] == expected


@pytest.mark.parametrize("ordering", ["owner", "password", "name,owner__username", "?", "--name"])
def test_an_unknown_ordering_is_400(api_client, alice, ordering):
    response = api_client.get(LIST_URL, {"ordering": ordering}, **alice)
    bad = ordering.split(",")[-1]
    assert response.status_code == 400
    assert response.json() == {
        "ordering": [
            f"Cannot order by {bad}; choose from name, email, company, created_at, updated_at "
            "(prefix - for descending)."
        ]
    }


def test_an_overlong_search_is_400(api_client, alice):
    response = api_client.get(LIST_URL, {"search": "x" * 201}, **alice)
    assert response.status_code == 400
    assert response.json() == {"search": ["Ensure this field has no more than 200 characters."]}


# --- Update and delete ----------------------------------------------------------------------------


def test_put_replaces_the_customer_and_empties_omitted_optional_fields(api_client, alice):
    created = create(api_client, alice)

    response = api_client.put(
        detail_url(created["id"]),
        {"name": "Augusta Ada King", "email": "COUNTESS@example.com"},
        format="json",
        **alice,
    )

    assert response.status_code == 200
    body = response.json()
    assert {k: body[k] for k in ("id", "name", "email", "phone", "company", "notes")} == {
        "id": created["id"],
        "name": "Augusta Ada King",
        "email": "countess@example.com",
        "phone": "",
        "company": "",
        "notes": "",
    }
    assert body["created_at"] == created["created_at"]
    customer = Customer.objects.get()
    assert (customer.name, customer.email, customer.notes) == (
        "Augusta Ada King",
        "countess@example.com",
        "",
    )
    assert customer.updated_at > customer.created_at


def test_put_needs_the_required_fields(api_client, alice):
    created = create(api_client, alice)
    response = api_client.put(detail_url(created["id"]), {"notes": "x"}, format="json", **alice)
    assert response.status_code == 400
    assert response.json() == {
        "name": ["This field is required."],
        "email": ["This field is required."],
    }
    assert Customer.objects.get().notes == ADA["notes"]


def test_patch_changes_only_the_given_fields(api_client, alice):
    created = create(api_client, alice)

    response = api_client.patch(
        detail_url(created["id"]), {"company": "Babbage & Co"}, format="json", **alice
    )

    assert response.status_code == 200
    assert response.json() == {
        **created,
        "company": "Babbage & Co",
        "updated_at": response.json()["updated_at"],
    }
    assert Customer.objects.get().company == "Babbage & Co"


def test_patch_keeping_ones_own_email_is_not_a_duplicate(api_client, alice):
    created = create(api_client, alice)
    response = api_client.patch(
        detail_url(created["id"]),
        {"email": "ADA@example.com", "name": "A."},
        format="json",
        **alice,
    )
    assert response.status_code == 200
    assert response.json()["name"] == "A."


def test_a_refused_patch_changes_nothing_at_all(api_client, alice):
    first = create(api_client, alice)
    second = create(api_client, alice, name="Grace", email="grace@example.com")

    response = api_client.patch(
        detail_url(second["id"]),
        {"name": "Renamed", "notes": "changed", "email": "ADA@example.com"},
        format="json",
        **alice,
    )

    assert response.status_code == 400
    assert response.json() == {"email": [DUPLICATE_EMAIL_MESSAGE]}
    assert api_client.get(detail_url(second["id"]), **alice).json() == second
    assert api_client.get(detail_url(first["id"]), **alice).json() == first


def test_a_patch_with_one_invalid_field_changes_no_field(api_client, alice):
    created = create(api_client, alice)
    response = api_client.patch(
        detail_url(created["id"]), {"name": "Renamed", "phone": "12"}, format="json", **alice
    )
    assert response.status_code == 400
    assert response.json() == {"phone": [PHONE_MESSAGE]}
    assert Customer.objects.get().name == "Ada Lovelace"


def test_delete_removes_the_customer(api_client, alice):
    created = create(api_client, alice)

    response = api_client.delete(detail_url(created["id"]), **alice)

    assert response.status_code == 204
    assert response.content == b""
    assert not Customer.objects.exists()
    assert api_client.get(detail_url(created["id"]), **alice).status_code == 404
    assert api_client.delete(detail_url(created["id"]), **alice).status_code == 404


# --- Tokens and scopes ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_no_token_is_401_with_a_bearer_challenge(api_client, method):
    url = LIST_URL if method in ("get", "post") else detail_url(uuid.uuid4())
    response = getattr(api_client, method)(url, ADA, format="json")
    assert response.status_code == 401
    assert response.json() == NOT_PROVIDED
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP algs="ES256"'


def test_an_expired_token_is_401_invalid_token(auth0_api_client):
    response = auth0_api_client(scopes=ALL_SCOPES, expired=True).get(LIST_URL)
    assert response.status_code == 401
    assert response.json() == {"detail": "The token has expired."}
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="The token has expired."'
    )


@pytest.mark.parametrize(
    ("method", "on_detail", "granted", "needed"),
    [
        ("get", False, "write:customers", "read:customers"),
        ("post", False, "read:customers", "write:customers"),
        ("get", True, "write:customers", "read:customers"),
        ("put", True, "read:customers", "write:customers"),
        ("patch", True, "read:customers", "write:customers"),
        ("delete", True, "read:customers", "write:customers"),
        ("get", False, "read:messages", "read:customers"),
        ("post", False, "write:customer", "write:customers"),
        ("post", False, "write:customers:all", "write:customers"),
        ("get", False, "", "read:customers"),
    ],
)
def test_a_token_without_the_scope_is_403_insufficient_scope(
    api_client, alice, as_user, method, on_detail, granted, needed
):
    created = create(api_client, alice)
    url = detail_url(created["id"]) if on_detail else LIST_URL

    response = getattr(api_client, method)(
        url, {**ADA, "email": "x@example.com"}, format="json", **as_user(scope=granted)
    )

    body, challenge = insufficient_scope(needed)
    assert response.status_code == 403
    assert response.json() == body
    assert response["WWW-Authenticate"] == challenge
    assert list(Customer.objects.values("name", "email")) == [
        {"name": "Ada Lovelace", "email": "ada@example.com"}
    ]


def test_the_scope_check_comes_before_the_body_is_read(api_client, as_user):
    response = post_raw(api_client, as_user(scope="read:customers"), b"x" * (MAX_BODY_SIZE + 1))
    assert response.status_code == 403


def test_read_scope_from_rbac_permissions_is_enough_to_list(auth0_api_client):
    response = auth0_api_client(sub="auth0|alice", permissions=["read:customers"]).get(LIST_URL)
    assert response.status_code == 200
    assert response.json()["count"] == 0
