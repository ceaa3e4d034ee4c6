from django.apps import AppConfig


class ScopeAppConfig(AppConfig):
    name = "crm.tests.scopeapp"
    label = "scopeapp"
    default_auto_field = "django.db.models.BigAutoField"
