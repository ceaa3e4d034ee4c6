"""API routes of payment plans, payments, invoice titles, invoices and the receivables report
(included from contracts/api/urls.py at merge; see contracts/api/payments.py)."""

from rest_framework.routers import SimpleRouter

from contracts.api import payments as views

router = SimpleRouter()
router.register("payment-plans", views.PaymentPlanViewSet, basename="payment-plan")
router.register("payments", views.PaymentViewSet, basename="payment")
router.register("invoice-titles", views.InvoiceTitleViewSet, basename="invoice-title")
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("reports", views.ReceivablesReportViewSet, basename="receivables-report")

urlpatterns = router.urls
