"""The tutorial's three endpoints (public, private, private-scoped) and the customers API.

Views are thin: a serializer validates the input, a service or selector does the work, a
serializer shapes the output.
"""

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import status
from rest_framework.exceptions import APIException, NotFound, ParseError, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from auth0_jwt.permissions import HasRequiredScopes
from auth0_jwt.schema import ErrorSerializer
from customers import idempotency
from customers.models import Customer
from customers.pagination import CustomerPagination
from customers.parsers import LimitedJSONParser
from customers.permissions import DatabaseUserRequired
from customers.selectors import customer_get, customer_list
from customers.serializers import (
    CustomerFilterSerializer,
    CustomerInputSerializer,
    CustomerListQueryErrorSerializer,
    CustomerOutputSerializer,
    CustomerValidationErrorSerializer,
    MessageSerializer,
    PaginatedCustomerListSerializer,
    PrivateMessageSerializer,
)
from customers.services import customer_create, customer_delete, customer_update

HELLO = ["hello"]


@extend_schema_view(
    get=extend_schema(
        operation_id="public", summary="Hello, no token needed", responses=MessageSerializer
    )
)
@extend_schema(tags=HELLO)
class PublicView(APIView):
    """No token needed; a token, valid or not, is not even looked at."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request):
        return Response(
            {
                "message": "Hello from a public endpoint! "
                "You don't need to be authenticated to see this."
            }
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="private",
        summary="Hello, with any valid token",
        responses=PrivateMessageSerializer,
    )
)
@extend_schema(tags=HELLO)
class PrivateView(APIView):
    """Any valid access token."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        return Response(
            {
                "message": "Hello from a private endpoint! "
                "You need to be authenticated to see this.",
                "sub": request.auth.subject,
            }
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="private_scoped",
        summary="Hello, with the read:messages scope",
        responses=PrivateMessageSerializer,
    )
)
@extend_schema(tags=HELLO)
class PrivateScopedView(APIView):
    """A valid access token granting `read:messages` (as a scope or an RBAC permission)."""

    permission_classes = [IsAuthenticated, HasRequiredScopes]
    required_scopes = ["read:messages"]

    def get(self, request):
        return Response(
            {
                "message": "Hello from a private endpoint! You need to be authenticated and have "
                "a scope of read:messages to see this.",
                "sub": request.auth.subject,
            }
        )


# --- Customers ------------------------------------------------------------------------------------

READ_CUSTOMERS = ("read:customers",)
WRITE_CUSTOMERS = ("write:customers",)

CUSTOMER_ID = OpenApiParameter(
    "id", OpenApiTypes.UUID, OpenApiParameter.PATH, description="The customer's id."
)
NOT_FOUND = OpenApiResponse(
    ErrorSerializer, description="No customer of yours has this id (or the id is malformed)."
)
VALIDATION_FAILED = OpenApiResponse(
    CustomerValidationErrorSerializer,
    description="Refused input: messages by field (a duplicate email is an `email` error), or "
    "`detail` for a body that is not valid JSON.",
)
IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": r"^[\x21-\x7E]([\x20-\x7E]*[\x21-\x7E])?$",
    },
    OpenApiParameter.HEADER,
    description=(
        "Makes the create safe to retry (draft-ietf-httpapi-idempotency-key-header): a unique "
        "value per create, e.g. a UUID; 1 to 255 printable ASCII characters. A retry with the "
        "same key and the same body, by the same user (and organization), within 24 hours, "
        "gets the first answer "
        "again (a 201, or the 400 refusing the body; marked `Idempotent-Replayed: true`) and "
        "stores nothing new. Answers given before the create runs (400 for a bad key or "
        "malformed JSON, 401, 403, 413, 415), 409, 422 and 5xx stored nothing: the same key may "
        "be sent again. The same key with another body (or under another organization): 422. "
        "While the first request is still "
        "running, a retry waits for its answer, then 409."
    ),
)
IDEMPOTENT_REPLAYED = OpenApiParameter(
    "Idempotent-Replayed",
    str,
    OpenApiParameter.HEADER,
    enum=["true"],
    description="`true` when the answer is the stored answer of an earlier request with the "
    "same `Idempotency-Key`.",
    response=[201, 400],
)
IN_PROGRESS_RETRY_AFTER = OpenApiParameter(
    "Retry-After",
    int,
    OpenApiParameter.HEADER,
    description="Seconds to wait before retrying.",
    response=[409],
)
WRITE_ERRORS = {
    400: VALIDATION_FAILED,
    413: OpenApiResponse(ErrorSerializer, description="The request body is over 64 KiB."),
    415: OpenApiResponse(ErrorSerializer, description="The body is not `application/json`."),
}


class IdempotencyKeyReused(APIException):
    """The Idempotency-Key was sent before with another request (another body)."""

    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_detail = (
        "This Idempotency-Key was already used with a different request. Send a new key for a "
        "new request, or the first request unchanged to get its answer."
    )
    default_code = "idempotency_key_reused"


class IdempotencyKeyInProgress(APIException):
    """A request with the same Idempotency-Key is still being processed."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = (
        "A request with this Idempotency-Key is still being processed. Try again shortly."
    )
    default_code = "idempotency_key_in_progress"

    def __init__(self):
        super().__init__()
        self.wait = int(idempotency.IN_PROGRESS_RETRY_AFTER)  # DRF sends it as Retry-After


class CustomerAPIView(APIView):
    """Customer endpoints: JSON bodies only, scopes per method, Django validation errors as 400;
    refused (403, database_user_required) to token users, which no customer can belong to."""

    permission_classes = [IsAuthenticated, HasRequiredScopes, DatabaseUserRequired]
    parser_classes = [LimitedJSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(as_serializer_error(exc))
        return super().handle_exception(exc)

    @staticmethod
    def organization(request) -> str | None:
        """The Auth0 organization (org_id) the token acts for: its customers are the ones this
        request sees; None: the token's user's own."""
        organization = request.auth.organization
        return organization.id if organization is not None else None

    def get_customer(self, request, id) -> Customer:
        customer = customer_get(owner=request.user, organization=self.organization(request), id=id)
        if customer is None:
            raise NotFound("No customer of yours has this id.")
        return customer


@extend_schema_view(
    get=extend_schema(
        operation_id="customers_list",
        summary="List your customers",
        parameters=[
            CustomerFilterSerializer,
            OpenApiParameter("page", int, description="Page number, from 1."),
            OpenApiParameter(
                "page_size",
                int,
                description=f"Customers per page (default {CustomerPagination.page_size}, "
                f"at most {CustomerPagination.max_page_size}).",
            ),
        ],
        responses={
            200: PaginatedCustomerListSerializer,
            400: OpenApiResponse(
                CustomerListQueryErrorSerializer, description="A refused query parameter."
            ),
            404: OpenApiResponse(ErrorSerializer, description="The page does not exist."),
        },
    ),
    post=extend_schema(
        operation_id="customers_create",
        summary="Create a customer",
        request=CustomerInputSerializer,
        parameters=[IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, IN_PROGRESS_RETRY_AFTER],
        responses={
            201: CustomerOutputSerializer,
            **WRITE_ERRORS,
            409: OpenApiResponse(
                ErrorSerializer,
                description="A request with this `Idempotency-Key` is still being processed "
                "after a few seconds of waiting for it; retry after `Retry-After` seconds.",
            ),
            422: OpenApiResponse(
                ErrorSerializer,
                description="This `Idempotency-Key` was used before with a different request body "
                "(or under another organization).",
            ),
        },
    ),
)
@extend_schema(tags=["customers"])
class CustomerListCreateView(CustomerAPIView):
    """Your customers. With a token of an Auth0 organization (`org_id`): the organization's
    customers, the same for every member; with a token without one: the ones created with tokens
    of your `sub` and no organization."""

    required_scopes = {
        "GET": READ_CUSTOMERS,
        "HEAD": READ_CUSTOMERS,
        "OPTIONS": READ_CUSTOMERS,
        "POST": WRITE_CUSTOMERS,
    }

    def get(self, request):
        """Your customers, newest first unless `ordering` says otherwise; paginated."""
        filters = CustomerFilterSerializer(data=request.query_params)
        filters.is_valid(raise_exception=True)
        customers = customer_list(
            owner=request.user,
            organization=self.organization(request),
            filters=filters.validated_data,
        )
        paginator = CustomerPagination()
        page = paginator.paginate_queryset(customers, request, view=self)
        return paginator.get_paginated_response(CustomerOutputSerializer(page, many=True).data)

    def post(self, request):
        """Create a customer, created by the token's user and belonging to the token's organization
        (or, without one, to the user); its email must be new among them.

        Send an `Idempotency-Key` to make the create safe to retry: a retry gets the first
        answer again instead of creating a second customer."""
        try:
            key = idempotency.parse_key(request.headers.get(idempotency.HEADER))
        except idempotency.InvalidIdempotencyKey as exc:
            raise ParseError(str(exc)) from None
        data = request.data  # a body that cannot be parsed is refused before a key is kept

        def create() -> idempotency.Answer:
            return self.create_customer(request, data)

        if key is None:
            return self.answer(create())
        # The organization is part of the request: a key sent again under another organization
        # never gets (or replays) this organization's answer.
        organization = self.organization(request)
        scope = request.path if organization is None else f"{request.path} org={organization}"
        fingerprint = idempotency.request_fingerprint(request.method, scope, data)
        try:
            answer, replayed = idempotency.answer_once(
                owner=request.user, key=key, fingerprint=fingerprint, perform=create
            )
        except idempotency.IdempotencyKeyReused:
            raise IdempotencyKeyReused() from None
        except idempotency.IdempotencyKeyInProgress:
            raise IdempotencyKeyInProgress() from None
        return self.answer(answer, replayed=replayed)

    def create_customer(self, request, data) -> idempotency.Answer:
        """The create's answer: 201 with the customer, or 400 with the refused fields."""
        serializer = CustomerInputSerializer(data=data)
        if not serializer.is_valid():
            return idempotency.Answer(status.HTTP_400_BAD_REQUEST, serializer.errors)
        try:
            customer = customer_create(
                owner=request.user,
                organization=self.organization(request),
                **serializer.validated_data,
            )
        except DjangoValidationError as exc:
            return idempotency.Answer(status.HTTP_400_BAD_REQUEST, as_serializer_error(exc))
        location = reverse("customer-detail", kwargs={"id": customer.id}, request=request)
        return idempotency.Answer(
            status.HTTP_201_CREATED, CustomerOutputSerializer(customer).data, location
        )

    @staticmethod
    def answer(answer: idempotency.Answer, *, replayed: bool = False) -> Response:
        headers = {"Location": answer.location} if answer.location else {}
        if replayed:
            headers["Idempotent-Replayed"] = "true"
        return Response(answer.body, status=answer.status, headers=headers)


@extend_schema_view(
    get=extend_schema(
        operation_id="customers_retrieve",
        summary="Get a customer",
        responses={200: CustomerOutputSerializer, 404: NOT_FOUND},
    ),
    put=extend_schema(
        operation_id="customers_update",
        summary="Replace a customer",
        request=CustomerInputSerializer,
        responses={200: CustomerOutputSerializer, 404: NOT_FOUND, **WRITE_ERRORS},
    ),
    patch=extend_schema(
        operation_id="customers_partial_update",
        summary="Change some fields of a customer",
        request=CustomerInputSerializer(partial=True),
        responses={200: CustomerOutputSerializer, 404: NOT_FOUND, **WRITE_ERRORS},
    ),
    delete=extend_schema(
        operation_id="customers_destroy",
        summary="Delete a customer",
        responses={204: None, 404: NOT_FOUND},
    ),
)
@extend_schema(tags=["customers"], parameters=[CUSTOMER_ID])
class CustomerDetailView(CustomerAPIView):
    """One of your customers (your organization's, with an organization token); another owner's
    or organization's customer answers 404, as if it did not exist."""

    required_scopes = {
        "GET": READ_CUSTOMERS,
        "HEAD": READ_CUSTOMERS,
        "OPTIONS": READ_CUSTOMERS,
        "PUT": WRITE_CUSTOMERS,
        "PATCH": WRITE_CUSTOMERS,
        "DELETE": WRITE_CUSTOMERS,
    }

    def get(self, request, id):
        """One of your customers."""
        return Response(CustomerOutputSerializer(self.get_customer(request, id)).data)

    def put(self, request, id):
        """Replace a customer: omitted optional fields (phone, company, notes) become empty."""
        return self.update(request, id, partial=False)

    def patch(self, request, id):
        """Change the fields given; the others keep their values."""
        return self.update(request, id, partial=True)

    def update(self, request, id, *, partial: bool):
        customer = self.get_customer(request, id)
        serializer = CustomerInputSerializer(data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        customer = customer_update(customer=customer, data=serializer.validated_data)
        return Response(CustomerOutputSerializer(customer).data)

    def delete(self, request, id):
        """Delete a customer."""
        customer_delete(customer=self.get_customer(request, id))
        return Response(status=status.HTTP_204_NO_CONTENT)
