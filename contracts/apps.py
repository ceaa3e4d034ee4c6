from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = _("合同与回款")

    def ready(self):
        # The payments part's registrations (the lead merges them with the contracts part's).
        from contracts import reminders
        from contracts.services import invoices
        from customers import services as customer_services

        reminders.register_reminders()
        customer_services.MERGE_MOVERS["invoice_titles"] = invoices.invoice_titles_merge
