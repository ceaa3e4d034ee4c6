"""Web routes of payments (回款) and receivables (应收), mounted at /payments/ (crm/urls.py)."""

from django.urls import path

from contracts.views import payments as views

app_name = "payments"

urlpatterns = [
    path("", views.payment_list, name="list"),
    path("new/", views.payment_create, name="create"),
    path("receivables/", views.receivables, name="receivables"),
    path("plan/<int:contract_pk>/", views.payment_plan_edit, name="plan"),
    path("<int:pk>/confirm/", views.payment_confirm, name="confirm"),
    path("<int:pk>/reject/", views.payment_reject, name="reject"),
    path("<int:pk>/void/", views.payment_void, name="void"),
]
