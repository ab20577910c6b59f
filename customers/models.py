"""Customers: the resource the API serves. A customer created with a token of an Auth0
organization belongs to that organization (every member sees and changes it); one created with a
token without an organization belongs to the user of the token. The creator is kept either way."""

import uuid

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models
from django.db.models import Q

from customers.validators import validate_phone

NAME_MAX_LENGTH = 200
# An Auth0 organization id (org_...); auth0_jwt refuses longer ones (MAX_ORGANIZATION_LENGTH).
ORGANIZATION_MAX_LENGTH = 255
NOTES_MAX_LENGTH = 5000


class Customer(models.Model):
    """A customer record, visible and changeable only within its owner scope: its organization's
    members, or (without an organization) its owner."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customers"
    )  # who created it; the owner scope too when `organization` is empty
    # The Auth0 organization (org_id) of the token that created it; empty: its owner's own.
    organization = models.CharField(
        max_length=ORGANIZATION_MAX_LENGTH, blank=True, default="", editable=False
    )
    name = models.CharField(max_length=NAME_MAX_LENGTH)
    # Stored lower-cased (customers.services normalises it), so uniqueness ignores case.
    email = models.EmailField(max_length=254)
    phone = models.CharField(max_length=16, blank=True, validators=[validate_phone])
    company = models.CharField(max_length=NAME_MAX_LENGTH, blank=True)
    # A TextField's max_length is not a model validator by itself; the validator makes it one.
    notes = models.TextField(
        max_length=NOTES_MAX_LENGTH, blank=True, validators=[MaxLengthValidator(NOTES_MAX_LENGTH)]
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            # An email is unique within its owner scope: the organization, or the user.
            models.UniqueConstraint(
                fields=["owner", "email"],
                condition=Q(organization=""),
                name="customers_customer_unique_owner_email",
                violation_error_message="Customer with this Owner and Email already exists.",
            ),
            models.UniqueConstraint(
                fields=["organization", "email"],
                condition=~Q(organization=""),
                name="customers_customer_unique_organization_email",
                violation_error_message="Customer with this Organization and Email already exists.",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="customers_owner_created_idx"),
            models.Index(fields=["owner", "name"], name="customers_owner_name_idx"),
            models.Index(fields=["organization", "-created_at"], name="customers_org_created_idx"),
            models.Index(fields=["organization", "name"], name="customers_org_name_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} <{self.email}>"


IDEMPOTENCY_KEY_MAX_LENGTH = 255


class IdempotencyKey(models.Model):
    """The answer to a POST /api/customers/ sent with an `Idempotency-Key`, kept so that a retry
    with the same key (by the same owner) gets that answer again instead of a second customer.

    The row is written in the transaction of the create it answers: it is committed with the
    customer, or not at all (customers/idempotency.py).
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=IDEMPOTENCY_KEY_MAX_LENGTH)
    # SHA-256 of the method, the path and the JSON body as parsed: the same key with another
    # request is refused (422).
    fingerprint = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField(default=0)
    body = models.TextField(blank=True)  # the answer's JSON
    location = models.CharField(max_length=2048, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "key"], name="customers_idempotencykey_unique_owner_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
