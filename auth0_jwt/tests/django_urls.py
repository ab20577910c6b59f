"""URLs of the plain-Django adapter's tests: the plain views under /django/, and, where DRF is
installed, the package's DRF views (urls.py) and an adrf view beside them, for the side-by-side
tests. A project without DRF (django_views_settings.py) gets the plain views only."""

from django.apps import apps
from django.urls import path

from auth0_jwt.tests import django_views as views

urlpatterns = [
    path("django/public/", views.public),
    path("django/async/public/", views.apublic),
    path("django/private/", views.private),
    path("django/async/private/", views.aprivate),
    path("django/private-scoped/", views.private_scoped),
    path("django/async/private-scoped/", views.aprivate_scoped),
    path("django/messages/", views.messages),
    path("django/async/whoami/", views.awhoami),
    path("django/unprotected-post/", views.unprotected_post),
    path("django/cbv/decorated/", views.DecoratedMessagesView.as_view()),
    path("django/cbv/mixin/", views.MixinMessagesView.as_view()),
    path("django/async/cbv/mixin/", views.AsyncMixinMessagesView.as_view()),
]

if apps.is_installed("rest_framework"):
    from auth0_jwt.tests.async_drf_views import AsyncPrivateScopedView
    from auth0_jwt.tests.urls import urlpatterns as drf_urlpatterns

    urlpatterns += [
        *drf_urlpatterns,
        path("adrf/private-scoped/", AsyncPrivateScopedView.as_view()),
    ]
