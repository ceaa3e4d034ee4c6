from django.urls import path

from approvals import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("badge/", views.badge, name="badge"),
    path("<int:pk>/", views.detail, name="detail"),
    path("<int:pk>/approve/", views.approve, name="approve"),
    path("<int:pk>/reject/", views.reject, name="reject"),
    path("<int:pk>/withdraw/", views.withdraw, name="withdraw"),
    path("contracts/<int:pk>/submit/", views.contract_submit, name="contract_submit"),
    path("contracts/<int:pk>/withdraw/", views.contract_withdraw, name="contract_withdraw"),
    path("contracts/<int:pk>/approve/", views.contract_approve, name="contract_approve"),
    path("contracts/<int:pk>/reject/", views.contract_reject, name="contract_reject"),
]
