from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivitiesConfig(AppConfig):
    name = "activities"
    verbose_name = _("跟进与待办")

    def ready(self):
        from activities import registrations

        registrations.register()
