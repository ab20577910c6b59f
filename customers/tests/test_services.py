"""customers.services: normalisation, validation, duplicate emails, and all-or-nothing writes."""

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction

from customers.models import Customer
from customers.services import (
    DUPLICATE_EMAIL_MESSAGE,
    customer_create,
    customer_delete,
    customer_update,
)
from customers.validators import PHONE_MESSAGE

pytestmark = pytest.mark.django_db


def test_create_saves_a_normalised_customer(owner):
    customer = customer_create(
        owner=owner, name="Ada", email="  Ada@Example.COM ", phone="+1 (415) 555-0123"
    )

    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.owner, stored.name, stored.email, stored.phone) == (
        owner,
        "Ada",
        "ada@example.com",
        "+14155550123",
    )
    assert (stored.company, stored.notes) == ("", "")
    assert stored.created_at is not None and stored.updated_at is not None


@pytest.mark.parametrize(
    ("fields", "errors"),
    [
        ({"email": "nope"}, {"email": ["Enter a valid email address."]}),
        ({"phone": "0800 123"}, {"phone": [PHONE_MESSAGE]}),
        ({"name": ""}, {"name": ["This field cannot be blank."]}),
        (
            {"notes": "n" * 5001},
            {"notes": ["Ensure this value has at most 5000 characters (it has 5001)."]},
        ),
    ],
)
def test_create_refuses_invalid_fields_and_saves_nothing(owner, fields, errors):
    with pytest.raises(ValidationError) as caught:
        customer_create(owner=owner, **{"name": "Ada", "email": "ada@example.com", **fields})
    assert caught.value.message_dict == errors
    assert not Customer.objects.exists()


def test_create_refuses_a_duplicate_email_from_the_database_constraint(owner):
    customer_create(owner=owner, name="Ada", email="ada@example.com")

    with pytest.raises(ValidationError) as caught:
        customer_create(owner=owner, name="Second Ada", email="ADA@example.com")

    assert caught.value.message_dict == {"email": [DUPLICATE_EMAIL_MESSAGE]}
    assert caught.value.error_dict["email"][0].code == "unique"
    # The failed insert was rolled back to its savepoint: the transaction is still usable.
    assert list(Customer.objects.values_list("name", flat=True)) == ["Ada"]


def test_the_same_email_is_fine_for_another_owner(owner, other_owner):
    customer_create(owner=owner, name="Ada", email="ada@example.com")
    customer_create(owner=other_owner, name="Ada", email="ada@example.com")
    assert Customer.objects.count() == 2


def test_a_failed_create_inside_a_callers_transaction_leaves_it_usable(owner):
    with transaction.atomic():
        customer_create(owner=owner, name="Ada", email="ada@example.com")
        with pytest.raises(ValidationError):
            customer_create(owner=owner, name="Dup", email="ada@example.com")
        customer_create(owner=owner, name="Grace", email="grace@example.com")
    assert sorted(Customer.objects.values_list("name", flat=True)) == ["Ada", "Grace"]


@pytest.mark.django_db(transaction=True)
def test_a_refused_duplicate_commits_nothing(owner):
    """With real commits (no test transaction around it), the refused create leaves no row."""
    customer_create(owner=owner, name="Ada", email="ada@example.com")
    with pytest.raises(ValidationError):
        customer_create(owner=owner, name="Dup", email="ada@example.com")
    assert not connection.in_atomic_block
    assert list(Customer.objects.values_list("name", flat=True)) == ["Ada"]


def test_update_changes_the_given_fields_normalised(owner):
    customer = customer_create(owner=owner, name="Ada", email="ada@example.com", notes="old")
    before = customer.updated_at

    customer_update(
        customer=customer, data={"email": "LOVELACE@example.com", "phone": "+44 20 7946 0958"}
    )

    stored = Customer.objects.get(pk=customer.pk)
    assert (stored.email, stored.phone, stored.name, stored.notes) == (
        "lovelace@example.com",
        "+442079460958",
        "Ada",
        "old",
    )
    assert stored.updated_at > before


def test_update_without_a_change_does_not_touch_the_row(owner):
    customer = customer_create(owner=owner, name="Ada", email="ada@example.com")
    before = Customer.objects.get(pk=customer.pk).updated_at

    customer_update(customer=customer, data={"name": "Ada", "email": "ADA@example.com"})

    assert Customer.objects.get(pk=customer.pk).updated_at == before


def test_a_refused_update_changes_neither_the_row_nor_the_instance(owner):
    customer_create(owner=owner, name="Ada", email="ada@example.com")
    grace = customer_create(owner=owner, name="Grace", email="grace@example.com")

    with pytest.raises(ValidationError) as caught:
        customer_update(customer=grace, data={"name": "Renamed", "email": "ada@example.com"})

    assert caught.value.message_dict == {"email": [DUPLICATE_EMAIL_MESSAGE]}
    assert (grace.name, grace.email) == ("Grace", "grace@example.com")
    stored = Customer.objects.get(pk=grace.pk)
    assert (stored.name, stored.email) == ("Grace", "grace@example.com")


def test_an_invalid_update_changes_nothing(owner):
    customer = customer_create(owner=owner, name="Ada", email="ada@example.com")
    with pytest.raises(ValidationError) as caught:
        customer_update(customer=customer, data={"name": "Renamed", "phone": "12"})
    assert caught.value.message_dict == {"phone": [PHONE_MESSAGE]}
    assert customer.name == "Ada"
    assert Customer.objects.get(pk=customer.pk).name == "Ada"


@pytest.mark.parametrize("field", ["owner", "id", "created_at"])
def test_update_refuses_fields_that_are_not_editable(owner, other_owner, field):
    customer = customer_create(owner=owner, name="Ada", email="ada@example.com")
    with pytest.raises(ValueError, match=f"Not editable: {field}"):
        customer_update(customer=customer, data={field: other_owner, "name": "X"})
    assert Customer.objects.get(pk=customer.pk).owner == owner


def test_delete_removes_only_that_customer(owner):
    ada = customer_create(owner=owner, name="Ada", email="ada@example.com")
    customer_create(owner=owner, name="Grace", email="grace@example.com")

    customer_delete(customer=ada)

    assert list(Customer.objects.values_list("name", flat=True)) == ["Grace"]
