"""Writes of customers. Each service is one transaction: it saves everything or nothing.

Email uniqueness per owner scope (the organization, or the user) is enforced by the database
constraints alone, so two concurrent requests cannot both create the same customer; a constraint's
IntegrityError becomes the same field error a single request gets.
"""

from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from customers.models import Customer
from customers.validators import normalize_email, normalize_phone

EDITABLE_FIELDS = ("name", "email", "phone", "company", "notes")
DUPLICATE_EMAIL_MESSAGE = "You already have a customer with this email."
DUPLICATE_ORGANIZATION_EMAIL_MESSAGE = "Your organization already has a customer with this email."
NORMALIZERS = {"email": normalize_email, "phone": normalize_phone}


def _normalized(field: str, value: str) -> str:
    normalize = NORMALIZERS.get(field)
    return normalize(value) if normalize else value


def _email_taken(customer: Customer) -> bool:
    if customer.organization:
        scope = Customer.objects.filter(organization=customer.organization)
    else:
        scope = Customer.objects.filter(owner_id=customer.owner_id, organization="")
    return scope.filter(email=customer.email).exclude(pk=customer.pk).exists()


def _validate_and_save(customer: Customer, **save_options) -> None:
    """Validate the fields, then save; a duplicate email becomes a field error."""
    customer.full_clean(
        exclude=["owner", "organization"], validate_unique=False, validate_constraints=False
    )
    try:
        # A savepoint, so the transaction stays usable for the check below (PostgreSQL).
        with transaction.atomic():
            customer.save(**save_options)
    except IntegrityError:
        if _email_taken(customer):
            message = (
                DUPLICATE_ORGANIZATION_EMAIL_MESSAGE
                if customer.organization
                else DUPLICATE_EMAIL_MESSAGE
            )
            raise ValidationError({"email": ValidationError(message, code="unique")}) from None
        raise


@transaction.atomic
def customer_create(
    *,
    owner,
    organization: str | None = None,
    name: str,
    email: str,
    phone: str = "",
    company: str = "",
    notes: str = "",
) -> Customer:
    """Create a customer by `owner`, belonging to `organization` (an Auth0 org_id) when given, else
    to `owner`; raises ValidationError with field messages."""
    customer = Customer(
        owner=owner,
        organization=organization or "",
        name=name,
        email=normalize_email(email),
        phone=normalize_phone(phone),
        company=company,
        notes=notes,
    )
    _validate_and_save(customer, force_insert=True)
    return customer


@transaction.atomic
def customer_update(*, customer: Customer, data: Mapping[str, Any]) -> Customer:
    """Change the given fields of `customer`; on a ValidationError nothing changes, in the
    database or on the instance."""
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"Not editable: {', '.join(sorted(unknown))}")
    original = {field: getattr(customer, field) for field in data}
    changed = []
    for field, value in data.items():
        value = _normalized(field, value)
        if getattr(customer, field) != value:
            setattr(customer, field, value)
            changed.append(field)
    if not changed:
        return customer
    try:
        _validate_and_save(customer, update_fields=[*changed, "updated_at"])
    except (ValidationError, IntegrityError):
        for field, value in original.items():
            setattr(customer, field, value)
        raise
    return customer


@transaction.atomic
def customer_delete(*, customer: Customer) -> None:
    """Delete `customer`."""
    customer.delete()
