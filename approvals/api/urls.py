from django.urls import path
from rest_framework.routers import SimpleRouter

from approvals.api import views

router = SimpleRouter()
router.register("approvals", views.ApprovalViewSet, basename="approval")

urlpatterns = [
    *router.urls,
    path("contracts/<int:pk>/submit/", views.ContractSubmitView.as_view(), name="contract-submit"),
    path("contracts/<int:pk>/approve/", views.ContractApproveView.as_view(), name="contract-approve"),
    path("contracts/<int:pk>/reject/", views.ContractRejectView.as_view(), name="contract-reject"),
    path("contracts/<int:pk>/withdraw/", views.ContractWithdrawView.as_view(), name="contract-withdraw"),
    path(
        "contracts/<int:pk>/approval-history/",
        views.ContractApprovalHistoryView.as_view(),
        name="contract-approval-history",
    ),
]
