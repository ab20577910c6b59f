"""The customers admin: listed, searchable, filterable, and normalising like the API."""

import pytest
from django.contrib.auth import get_user_model

from customers.models import Customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    user = get_user_model().objects.create_superuser("admin", "admin@example.com", "pw")
    client.force_login(user)
    return client


@pytest.fixture
def customers():
    owner = get_user_model().objects.create(username="auth0.alice")
    return [
        Customer.objects.create(owner=owner, name="Ada", email="ada@example.com", company="AE"),
        Customer.objects.create(owner=owner, name="Grace", email="grace@navy.example"),
    ]


def test_changelist_searches_name_email_company_and_owner(admin_client, customers):
    response = admin_client.get("/admin/customers/customer/", {"q": "navy"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [customers[1]]
    response = admin_client.get("/admin/customers/customer/", {"q": "auth0.alice"})
    assert response.context["cl"].result_count == 2


def test_changelist_filters_on_empty_company(admin_client, customers):
    response = admin_client.get("/admin/customers/customer/", {"company__isempty": "1"})
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [customers[1]]


def test_admin_form_normalises_email_and_phone_and_refuses_duplicates(admin_client, customers):
    owner = customers[0].owner
    data = {
        "owner": owner.pk,
        "name": "Alan",
        "email": "Alan@Example.com",
        "phone": "+44 (20) 7946-0958",
        "company": "",
        "notes": "",
    }
    response = admin_client.post("/admin/customers/customer/add/", data)
    assert response.status_code == 302
    alan = Customer.objects.get(name="Alan")
    assert (alan.email, alan.phone) == ("alan@example.com", "+442079460958")

    response = admin_client.post(
        "/admin/customers/customer/add/", {**data, "name": "Dup", "email": "ADA@example.com"}
    )
    assert response.status_code == 200
    assert not Customer.objects.filter(name="Dup").exists()
    assert response.context["adminform"].form.errors == {
        "__all__": ["Customer with this Owner and Email already exists."]
    }
