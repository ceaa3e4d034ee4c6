from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("审批流")

    def ready(self):
        # The document types that go through approval chains: contracts and payments. Their
        # callbacks live with the documents (contracts/services/approval.py).
        from approvals import registry

        registry.load_document_types()
