"""The real URLs plus the test-only scope app's API, mounted under /api/v1/ like any app."""

from django.urls import include, path

from crm.urls import handler404  # noqa: F401
from crm.urls import urlpatterns as crm_urlpatterns

urlpatterns = [
    path("api/v1/", include(("crm.tests.scopeapp.api", "test"))),
    *crm_urlpatterns,
]
