from django.urls import path

from analytics.api import views

urlpatterns = [
    path(
        "customers/<int:pk>/profile/",
        views.CustomerProfileViewSet.as_view({"get": "retrieve"}),
        name="customer-profile",
    ),
]
