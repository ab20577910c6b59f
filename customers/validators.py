"""Normalisation and validation of customer contact details, shared by the API and the admin."""

import re

from django.core.exceptions import ValidationError

# E.164: a plus, a country code that does not start with 0, at most 15 digits in all.
E164 = re.compile(r"\+[1-9]\d{6,14}")
# What people type between the digits for readability; removed before validation.
PHONE_SEPARATORS = re.compile(r"[\s\-.()]")
PHONE_MESSAGE = "Enter a phone number in international form, e.g. +14155550123."


def normalize_email(value: str) -> str:
    """Emails are compared and stored lower-cased and trimmed."""
    return value.strip().lower()


def normalize_phone(value: str) -> str:
    """`+1 (415) 555-0123` -> `+14155550123`; anything else is left for `validate_phone`."""
    return PHONE_SEPARATORS.sub("", value)


def validate_phone(value: str) -> None:
    """A normalised phone number must be E.164: `+`, then 7 to 15 digits."""
    if value and not E164.fullmatch(value):
        raise ValidationError(PHONE_MESSAGE, code="invalid_phone")
