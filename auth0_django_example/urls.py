from django.contrib import admin
from django.urls import include, path

from auth0_jwt.views import jwks

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include("customers.urls")),
    path(".well-known/jwks.json", jwks, name="jwks"),
]
