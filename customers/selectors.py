"""Reads of customers. Every read is scoped to one owner scope: an organization (its customers,
whoever created them), or one user (their customers without an organization). Customers of another
scope do not exist."""

import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from django.db.models import Q, QuerySet

from customers.models import Customer

ORDERING_FIELDS = ("name", "email", "company", "created_at", "updated_at")
DEFAULT_ORDERING = ("-created_at",)
SEARCH_FIELDS = ("name", "email", "company")


def parse_ordering(value: str) -> tuple[str, ...]:
    """`"name,-created_at"` -> `("name", "-created_at")`; raises ValueError naming a bad term."""
    terms = tuple(term.strip() for term in value.split(",") if term.strip())
    for term in terms:
        if term.removeprefix("-") not in ORDERING_FIELDS:
            raise ValueError(term)
    return terms


def owner_scope(*, owner, organization: str | None = None) -> Q:
    """The customers of `organization` (an Auth0 org_id) when given, else `owner`'s own ones (those
    created without an organization)."""
    if organization:
        return Q(organization=organization)
    return Q(owner=owner, organization="")


def customer_list(
    *, owner, organization: str | None = None, filters: Mapping[str, Any] | None = None
) -> QuerySet[Customer]:
    """The customers of the owner scope (`organization`, else `owner`): `search` (every word must
    match name, email or company) and `ordering` (a sequence of `ORDERING_FIELDS`, `-` for
    descending) are optional filters."""
    filters = filters or {}
    customers = Customer.objects.filter(owner_scope(owner=owner, organization=organization))
    for word in (filters.get("search") or "").split():
        match = Q()
        for field in SEARCH_FIELDS:
            match |= Q(**{f"{field}__icontains": word})
        customers = customers.filter(match)
    ordering: Sequence[str] = filters.get("ordering") or DEFAULT_ORDERING
    for term in ordering:
        if term.removeprefix("-") not in ORDERING_FIELDS:
            raise ValueError(f"Cannot order customers by {term!r}.")
    # The id makes the order total, so pages never overlap or skip rows.
    return customers.order_by(*ordering, "id")


def customer_get(*, owner, id: uuid.UUID | str, organization: str | None = None) -> Customer | None:
    """The owner scope's customer with this id, or None (also for a malformed id or another
    scope's customer)."""
    try:
        customer_id = id if isinstance(id, uuid.UUID) else uuid.UUID(str(id))
    except ValueError:
        return None
    scope = owner_scope(owner=owner, organization=organization)
    return Customer.objects.filter(scope, id=customer_id).first()
