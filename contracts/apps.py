from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = _("合同与回款")

    def ready(self):
        # What follows a customer transfer or merge, the contracts on the 360 page and timeline, a
        # won deal's offer to draft a contract, and the pool's exemption.
        from contracts import reminders
        from contracts.selectors import contracts as selectors
        from contracts.services import contracts as services
        from contracts.services import invoices
        from contracts.views import contracts as views
        from contracts.views import payments as payment_views
        from customers import selectors as customer_selectors
        from customers import services as customer_services
        from customers import views as customer_views
        from customers.api import views as customer_api
        from opportunities import services as opportunity_services
        from pool.registry import register_exemption

        customer_services.TRANSFER_FOLLOWERS["contracts"] = services.contracts_follow_transfer
        customer_services.MERGE_MOVERS["contracts"] = services.contracts_move_to_survivor
        customer_selectors.TIMELINE_SOURCES["contracts"] = selectors.customer_timeline_entries
        customer_views.DETAIL_PANELS["contracts"] = views.customer_panel
        customer_api.OVERVIEW_PARTS["contracts"] = customer_api.overview_list("api:contract-list")
        opportunity_services.DEAL_WON_HOOKS["contracts"] = services.deal_won_offer_contract
        # A customer with a contract in force (approved or active) never returns to the pool.
        register_exemption("contracts.active", selectors.ACTIVE_CONTRACT_SQL)
        # Reminders: contracts ending in 30 / 7 days, instalments due soon and overdue.
        reminders.register_reminders()
        customer_services.MERGE_MOVERS["invoice_titles"] = invoices.invoice_titles_merge
        # The contract page's payments panel: figures, plan, payments, invoices.
        views.CONTRACT_PANELS["payments"] = payment_views.contract_payments_panel
