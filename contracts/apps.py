from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContractsConfig(AppConfig):
    name = "contracts"
    verbose_name = _("合同与回款")

    def ready(self):
        from contracts import reminders

        reminders.register_reminders()
