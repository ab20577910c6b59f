"""Serializers: input validation and output shapes only; the rules live in services/selectors."""

from django.db import models
from rest_framework import serializers

from customers.models import Customer
from customers.selectors import ORDERING_FIELDS, parse_ordering
from customers.validators import normalize_phone, validate_phone

SEARCH_MAX_LENGTH = 200


class MessageSerializer(serializers.Serializer):
    """The public endpoint's answer."""

    message = serializers.CharField()


class PrivateMessageSerializer(MessageSerializer):
    """The private endpoints' answer: the message and the token's subject."""

    sub = serializers.CharField(help_text="The access token's `sub` claim.")


class StringsOnlyMixin:
    """Takes JSON strings only: DRF's CharField would turn `42` into `"42"`, which the schema
    (type: string) does not allow."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictCharField(StringsOnlyMixin, serializers.CharField):
    pass


class StrictEmailField(StringsOnlyMixin, serializers.EmailField):
    pass


class PhoneField(StrictCharField):
    """A phone number, normalised (`+1 (415) 555-0123` -> `+14155550123`), then checked."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators.append(validate_phone)

    def to_internal_value(self, data):
        return normalize_phone(super().to_internal_value(data))


class CustomerInputSerializer(serializers.ModelSerializer):
    """What a client may send; `owner`, `id` and the timestamps are never taken from the body."""

    phone = PhoneField(
        required=False,
        allow_blank=True,
        default="",
        help_text="E.164, e.g. `+14155550123`; spaces, dots, dashes and brackets are ignored.",
    )

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
    }

    class Meta:
        model = Customer
        fields = ["name", "email", "phone", "company", "notes"]
        extra_kwargs = {
            "email": {"help_text": "Stored lower-cased; unique among your customers."},
            "company": {"default": ""},
            "notes": {"default": ""},
        }


class CustomerOutputSerializer(serializers.ModelSerializer):
    """A customer as the API shows it."""

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone", "company", "notes", "created_at", "updated_at"]
        read_only_fields = fields


class PaginatedCustomerListSerializer(serializers.Serializer):
    """One page of customers."""

    count = serializers.IntegerField(help_text="Customers matching the query, on all pages.")
    next = serializers.URLField(allow_null=True, help_text="The next page, or null.")
    previous = serializers.URLField(allow_null=True, help_text="The previous page, or null.")
    results = CustomerOutputSerializer(many=True)


class CustomerFilterSerializer(serializers.Serializer):
    """The list's query parameters (besides `page` and `page_size`)."""

    search = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=SEARCH_MAX_LENGTH,
        help_text="Words that must each appear in the name, email or company (any case).",
    )
    ordering = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        help_text=(
            "Comma-separated fields, `-` for descending: "
            + ", ".join(ORDERING_FIELDS)
            + ". Default: `-created_at`."
        ),
    )

    def validate_ordering(self, value: str) -> tuple[str, ...]:
        try:
            return parse_ordering(value)
        except ValueError as exc:
            raise serializers.ValidationError(
                f"Cannot order by {exc}; choose from {', '.join(ORDERING_FIELDS)} "
                "(prefix - for descending)."
            ) from None


class CustomerValidationErrorSerializer(serializers.Serializer):
    """A 400 answer: the messages for each field that was refused."""

    name = serializers.ListField(child=serializers.CharField(), required=False)
    email = serializers.ListField(child=serializers.CharField(), required=False)
    phone = serializers.ListField(child=serializers.CharField(), required=False)
    company = serializers.ListField(child=serializers.CharField(), required=False)
    notes = serializers.ListField(child=serializers.CharField(), required=False)
    non_field_errors = serializers.ListField(child=serializers.CharField(), required=False)
    detail = serializers.CharField(
        required=False, help_text="Instead of field messages when the body is not valid JSON."
    )


class CustomerListQueryErrorSerializer(serializers.Serializer):
    """A 400 answer to a list query: the messages for each refused parameter."""

    search = serializers.ListField(child=serializers.CharField(), required=False)
    ordering = serializers.ListField(child=serializers.CharField(), required=False)
    page_size = serializers.ListField(child=serializers.CharField(), required=False)
