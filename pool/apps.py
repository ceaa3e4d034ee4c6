from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoolConfig(AppConfig):
    name = "pool"
    verbose_name = _("公海")

    def ready(self):
        from customers import selectors as customer_selectors
        from customers import services as customer_services
        from customers import views as customer_views
        from pool import selectors, services, views

        customer_services.OWNER_LIMIT_CHECKS["pool.owned_limit"] = services.owner_limit_check
        customer_services.TRANSFER_FOLLOWERS["pool.clock"] = services.pool_clock_restart_on_transfer
        customer_selectors.TIMELINE_SOURCES["pool"] = selectors.pool_timeline
        customer_views.DETAIL_PANELS["pool"] = views.customer_panel
        services.register_reminders()
