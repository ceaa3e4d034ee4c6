from django.urls import path

from analytics.api import views
from analytics.reports.api import ReportView

urlpatterns = [
    path(
        "customers/<int:pk>/profile/",
        views.CustomerProfileViewSet.as_view({"get": "retrieve"}),
        name="customer-profile",
    ),
    path("reports/<slug:key>/", ReportView.as_view(), name="report-detail"),
]
