from django.contrib import admin
from django.urls import include, path
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from crm.api.errors import not_found_json
from crm.health import healthz
from staff import views as staff_views
from workbench import views as workbench_views

urlpatterns = [
    path("", workbench_views.workbench, name="workbench"),
    path("accounts/login/", staff_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", staff_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    path("customers/", include("customers.urls")),
    path("pool/", include("pool.urls")),
    path("", include("activities.urls")),
    path("notifications/", include("notifications.urls")),
    path("opportunities/", include("opportunities.urls")),
    path("contracts/", include("contracts.urls")),
    path("imports/", include("imports.urls")),
    path("approvals/", include("approvals.urls")),
    path("payments/", include("contracts.payments_urls")),
    path("analytics/", include("analytics.urls")),
    path("reports/", include("analytics.reports.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("crm.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
    path("healthz", healthz, name="healthz"),
]


def handler404(request, exception=None):
    """JSON in the API's error shape under /api/, Django's page elsewhere."""
    if request.path.startswith("/api/"):
        return not_found_json(request, exception)
    from django.views.defaults import page_not_found

    return page_not_found(request, exception)
