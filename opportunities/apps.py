from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpportunitiesConfig(AppConfig):
    name = "opportunities"
    verbose_name = _("商机")

    def ready(self):
        # What follows a customer transfer or merge, and the deals' entries on the 360 timeline.
        from customers import selectors as customer_selectors
        from customers import services as customer_services
        from customers import views as customer_views
        from customers.api import views as customer_api
        from opportunities import selectors, services, views

        customer_services.TRANSFER_FOLLOWERS["opportunities"] = services.opportunities_follow_transfer
        customer_services.MERGE_MOVERS["opportunities"] = services.opportunities_move_to_survivor
        customer_selectors.TIMELINE_SOURCES["opportunities"] = selectors.customer_timeline_entries
        customer_views.DETAIL_PANELS["opportunities"] = views.customer_panel
        customer_api.OVERVIEW_PARTS["opportunities"] = customer_api.overview_list("api:opportunity-list")
        # The pool's "M days without a deal or an open deal" rule spares customers with an open
        # deal (index on customer_id; a handful of stages).
        from pool.registry import register_open_deal

        register_open_deal("opportunities.open", selectors.OPEN_DEAL_SQL)
