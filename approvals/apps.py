from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = _("审批流")

    def ready(self):
        # The document types that go through approval chains: contracts and payments. Their
        # callbacks live with the documents (contracts/services/approval.py).
        from approvals import registry, views
        from contracts.services import approval, payments
        from contracts.views import contracts as contract_views

        registry.load_document_types()
        # The contract page's approval history and buttons; a new payment goes through a payment
        # chain when an admin configured one (otherwise a confirm-permission holder confirms it).
        contract_views.CONTRACT_PANELS["approvals"] = views.contract_approval_panel
        if approval.payment_approval_start not in payments.PAYMENT_CREATED_HOOKS:
            payments.PAYMENT_CREATED_HOOKS.append(approval.payment_approval_start)
