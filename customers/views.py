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
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.reverse import reverse
from rest_framework.serializers import as_serializer_error
from rest_framework.views import APIView

from auth0_jwt.permissions import HasRequiredScopes
from auth0_jwt.schema import ErrorSerializer
from customers.models import Customer
from customers.pagination import CustomerPagination
from customers.parsers import LimitedJSONParser
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
WRITE_ERRORS = {
    400: VALIDATION_FAILED,
    413: OpenApiResponse(ErrorSerializer, description="The request body is over 64 KiB."),
    415: OpenApiResponse(ErrorSerializer, description="The body is not `application/json`."),
}


class CustomerAPIView(APIView):
    """Customer endpoints: JSON bodies only, scopes per method, Django validation errors as 400."""

    permission_classes = [IsAuthenticated, HasRequiredScopes]
    parser_classes = [LimitedJSONParser]

    def handle_exception(self, exc):
        if isinstance(exc, DjangoValidationError):
            exc = ValidationError(as_serializer_error(exc))
        return super().handle_exception(exc)

    def get_customer(self, request, id) -> Customer:
        customer = customer_get(owner=request.user, id=id)
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
        responses={201: CustomerOutputSerializer, **WRITE_ERRORS},
    ),
)
@extend_schema(tags=["customers"])
class CustomerListCreateView(CustomerAPIView):
    """Your customers: the ones created with tokens of your `sub`."""

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
        customers = customer_list(owner=request.user, filters=filters.validated_data)
        paginator = CustomerPagination()
        page = paginator.paginate_queryset(customers, request, view=self)
        return paginator.get_paginated_response(CustomerOutputSerializer(page, many=True).data)

    def post(self, request):
        """Create a customer owned by the token's user; its email must be new among yours."""
        serializer = CustomerInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        customer = customer_create(owner=request.user, **serializer.validated_data)
        location = reverse("customer-detail", kwargs={"id": customer.id}, request=request)
        return Response(
            CustomerOutputSerializer(customer).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": location},
        )


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
    """One of your customers; another owner's customer answers 404, as if it did not exist."""

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
