"""Every app's API routes under /api/v1/. A new app adds one include line here, and a case in
the scope test registry (crm/tests/test_api_scope.py) for each of its routes."""

from django.urls import include, path

app_name = "api"

urlpatterns = [
    path("", include("staff.api.urls")),
    path("", include("customers.api.urls")),
    path("", include("pool.api.urls")),
    path("", include("activities.api.urls")),
    path("", include("notifications.api.urls")),
    path("", include("opportunities.api.urls")),
    path("", include("imports.api.urls")),
    path("", include("contracts.api.urls")),
    path("", include("approvals.api.urls")),
    path("", include("contracts.api.payments_urls")),
    path("", include("analytics.api.urls")),
    path("", include("workbench.api_urls")),
]
