from django.urls import path

from customers import views

urlpatterns = [
    path("public/", views.PublicView.as_view(), name="public"),
    path("private/", views.PrivateView.as_view(), name="private"),
    path("private-scoped/", views.PrivateScopedView.as_view(), name="private-scoped"),
]
