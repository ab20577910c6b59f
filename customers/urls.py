from django.urls import path

from customers import views

urlpatterns = [
    path("public/", views.PublicView.as_view(), name="public"),
    path("private/", views.PrivateView.as_view(), name="private"),
    path("private-scoped/", views.PrivateScopedView.as_view(), name="private-scoped"),
    path("customers/", views.CustomerListCreateView.as_view(), name="customer-list"),
    # A str, not a uuid converter: a malformed id then gets the API's JSON 404, not Django's page.
    path("customers/<str:id>/", views.CustomerDetailView.as_view(), name="customer-detail"),
]
