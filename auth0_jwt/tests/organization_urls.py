"""URLs for the organization tests (issue 20): a view that shows the token's organization, and
views restricted to one organization by id, by name, and to a list of them (DRF's
HasRequiredOrganization)."""

from django.http import JsonResponse
from django.urls import path
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth0_jwt.django import requires_auth
from auth0_jwt.permissions import HasRequiredOrganization, HasRequiredScopes


class OrganizationView(APIView):
    """Any valid token; answers with the organization it acts for."""

    permission_classes = [IsAuthenticated]

    def get(self, request):
        organization = request.auth.organization
        if organization is None:
            return Response({"sub": request.auth.subject, "organization": None})
        return Response(
            {
                "sub": request.auth.subject,
                "organization": {"id": organization.id, "name": organization.name},
            }
        )


class AcmeOnlyView(OrganizationView):
    permission_classes = [IsAuthenticated, HasRequiredOrganization]
    required_organization = "org_acme0000000001"


class GlobexByNameView(OrganizationView):
    permission_classes = [IsAuthenticated, HasRequiredOrganization]
    required_organization = "Globex"  # a name: compared lower-cased with org_name


class PartnersScopedView(OrganizationView):
    permission_classes = [IsAuthenticated, HasRequiredScopes, HasRequiredOrganization]
    required_organization = ["org_acme0000000001", "initech"]
    required_scopes = ["read:partners"]


class MisconfiguredView(OrganizationView):
    permission_classes = [IsAuthenticated, HasRequiredOrganization]


@requires_auth
async def async_organization(request):
    """A plain async view: the token is verified by `aauthenticate`, off the event loop when its
    keys must be fetched."""
    organization = request.auth.organization
    return JsonResponse(
        {
            "sub": request.auth.subject,
            "iss": request.auth.claims["iss"],
            "organization": organization.id if organization else None,
        }
    )


urlpatterns = [
    path("api/async-organization/", async_organization),
    path("api/organization/", OrganizationView.as_view()),
    path("api/acme/", AcmeOnlyView.as_view()),
    path("api/globex/", GlobexByNameView.as_view()),
    path("api/partners/", PartnersScopedView.as_view()),
    path("api/misconfigured/", MisconfiguredView.as_view()),
]
