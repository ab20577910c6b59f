"""URLs for the organization tests (issue 20): a view that shows the token's organization, and
views restricted to one organization by id, by name, and to a list of them (DRF's
HasRequiredOrganization)."""

from django.http import JsonResponse
from django.urls import path
from django.views import View
from ninja import NinjaAPI
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from auth0_jwt.django import Auth0TokenRequiredMixin, requires_auth
from auth0_jwt.ninja import Auth0Bearer, install
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


@requires_auth(organization="org_acme0000000001")
def plain_acme(request):
    return JsonResponse({"sub": request.auth.subject})


@requires_auth(scopes=["read:partners"], organization=["org_acme0000000001", "initech"])
async def plain_partners_async(request):
    return JsonResponse({"sub": request.auth.subject})


class PlainGlobexView(Auth0TokenRequiredMixin, View):
    required_organization = "globex"

    def get(self, request):
        return JsonResponse({"sub": request.auth.subject})


ninja_api = NinjaAPI(title="Organizations", urls_namespace="auth0-jwt-organizations")
install(ninja_api)


@ninja_api.get("acme/", auth=Auth0Bearer(organization="org_acme0000000001"))
def ninja_acme(request):
    return {"sub": request.auth.subject}


@ninja_api.get(
    "partners-async/",
    auth=Auth0Bearer(scopes=["read:partners"], organization=["org_acme0000000001", "initech"]),
)
async def ninja_partners_async(request):
    return {"sub": request.auth.subject}


urlpatterns = [
    path("plain/acme/", plain_acme),
    path("plain/partners-async/", plain_partners_async),
    path("plain/globex/", PlainGlobexView.as_view()),
    path("ninja/", ninja_api.urls),
    path("api/async-organization/", async_organization),
    path("api/organization/", OrganizationView.as_view()),
    path("api/acme/", AcmeOnlyView.as_view()),
    path("api/globex/", GlobexByNameView.as_view()),
    path("api/partners/", PartnersScopedView.as_view()),
    path("api/misconfigured/", MisconfiguredView.as_view()),
]
