"""URLs of the package's test project with its Django Ninja APIs (ninja_api.py) beside the DRF
views of urls.py; tests that compare the two use
`@pytest.mark.urls("auth0_jwt.tests.ninja_urls")`."""

from django.urls import path

from auth0_jwt.tests.ninja_api import api, bare_api, whole_api, whole_scoped_api
from auth0_jwt.tests.urls import urlpatterns as drf_urlpatterns

urlpatterns = [
    *drf_urlpatterns,
    path("ninja/", api.urls),
    path("ninja-api/", whole_api.urls),
    path("ninja-api-scoped/", whole_scoped_api.urls),
    path("ninja-bare/", bare_api.urls),
]
