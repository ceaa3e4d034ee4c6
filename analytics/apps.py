from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AnalyticsConfig(AppConfig):
    name = "analytics"
    verbose_name = _("客户画像")

    def ready(self):
        # The profile card on the customer's 360 page.
        from analytics import views
        from customers import views as customer_views
        from customers.api import views as customer_api

        customer_views.DETAIL_PANELS["profile"] = views.customer_panel
        customer_api.OVERVIEW_PARTS["profile"] = lambda customer: ("api:customer-profile", (customer.pk,), {})
