"""Customers: the resource the API serves, each owned by the user of the token that created it."""

import uuid

from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.db import models

from customers.validators import validate_phone

NAME_MAX_LENGTH = 200
NOTES_MAX_LENGTH = 5000


class Customer(models.Model):
    """A customer record, visible and changeable only by its owner."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customers"
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
            models.UniqueConstraint(
                fields=["owner", "email"], name="customers_customer_unique_owner_email"
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "-created_at"], name="customers_owner_created_idx"),
            models.Index(fields=["owner", "name"], name="customers_owner_name_idx"),
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
