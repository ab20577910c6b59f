from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from auth0_jwt.views import jwks

# A database outage met outside a view (a middleware) is a 503; anything else, Django's own pages.
handler400 = "auth0_django_example.database_errors.bad_request"
handler500 = "auth0_django_example.database_errors.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("customers.urls")),
    path(".well-known/jwks.json", jwks, name="jwks"),
]
