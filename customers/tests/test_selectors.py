"""customers.selectors: every read is one owner's; search, ordering and lookups by id."""

import datetime

import pytest
from django.utils import timezone

from customers.models import Customer
from customers.selectors import customer_get, customer_list, parse_ordering

pytestmark = pytest.mark.django_db


def add(owner, name, email, company="", minutes=0):
    customer = Customer.objects.create(owner=owner, name=name, email=email, company=company)
    Customer.objects.filter(pk=customer.pk).update(
        created_at=timezone.now() + datetime.timedelta(minutes=minutes)
    )
    return customer


def names(queryset):
    return [customer.name for customer in queryset]


def test_customer_list_returns_only_the_owners_customers_newest_first(owner, other_owner):
    add(owner, "Old", "old@example.com", minutes=0)
    add(owner, "New", "new@example.com", minutes=5)
    add(other_owner, "Not mine", "x@example.com", minutes=10)

    assert names(customer_list(owner=owner)) == ["New", "Old"]
    assert names(customer_list(owner=other_owner)) == ["Not mine"]


def test_customer_list_search_needs_every_word_in_some_field(owner):
    add(owner, "Grace Hopper", "grace@navy.example", company="US Navy")
    add(owner, "Alan Turing", "alan@example.com", company="Bletchley")

    assert names(customer_list(owner=owner, filters={"search": "hopper navy"})) == ["Grace Hopper"]
    assert names(customer_list(owner=owner, filters={"search": "turing navy"})) == []
    assert names(customer_list(owner=owner, filters={"search": "BLETCH"})) == ["Alan Turing"]
    assert names(customer_list(owner=owner, filters={"search": "   "})) != []


def test_customer_list_orders_by_the_given_fields_then_id(owner):
    same_time = timezone.now()
    for name in ("b", "a", "c"):
        customer = Customer.objects.create(owner=owner, name="same", email=f"{name}@example.com")
        Customer.objects.filter(pk=customer.pk).update(created_at=same_time)

    ordered = list(customer_list(owner=owner, filters={"ordering": ("name",)}))

    assert [c.id for c in ordered] == sorted(c.id for c in ordered)
    emails = [c.email for c in customer_list(owner=owner, filters={"ordering": ("-email",)})]
    assert emails == ["c@example.com", "b@example.com", "a@example.com"]


def test_customer_list_refuses_an_unknown_ordering(owner):
    with pytest.raises(ValueError, match="Cannot order customers by 'owner__password'"):
        customer_list(owner=owner, filters={"ordering": ("owner__password",)})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("name", ("name",)),
        ("-created_at, name", ("-created_at", "name")),
        (",,email,", ("email",)),
        ("", ()),
    ],
)
def test_parse_ordering(value, expected):
    assert parse_ordering(value) == expected


@pytest.mark.parametrize("value", ["owner", "name,secret", "--name", "+name"])
def test_parse_ordering_names_the_bad_term(value):
    with pytest.raises(ValueError) as caught:
        parse_ordering(value)
    assert str(caught.value) == value.split(",")[-1]


def test_customer_get_finds_the_owners_customer_by_uuid_or_string(owner):
    customer = add(owner, "Ada", "ada@example.com")
    assert customer_get(owner=owner, id=customer.id) == customer
    assert customer_get(owner=owner, id=str(customer.id)) == customer


def test_customer_get_hides_another_owners_customer(owner, other_owner):
    customer = add(owner, "Ada", "ada@example.com")
    assert customer_get(owner=other_owner, id=customer.id) is None


# A fixed UUID: pytest-xdist needs the same test ids in every worker.
@pytest.mark.parametrize(
    "value", ["", "nope", "1234", "g" * 32, "c717dbe7-16fb-4905-b123-5d69656dffba0"]
)
def test_customer_get_answers_none_for_a_malformed_id(owner, value):
    assert customer_get(owner=owner, id=value) is None
