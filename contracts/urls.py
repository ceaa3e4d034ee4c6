from django.urls import path, re_path

from contracts.views import contracts as views

app_name = "contracts"

urlpatterns = [
    path("", views.contract_list, name="list"),
    path("new/", views.contract_create, name="create"),
    path("customer-fields/", views.customer_fields, name="customer_fields"),
    path("<int:pk>/", views.contract_detail, name="detail"),
    path("<int:pk>/edit/", views.contract_edit, name="edit"),
    path("<int:pk>/delete/", views.contract_remove, name="delete"),
    path("<int:pk>/renew/", views.contract_renew, name="renew"),
    # Only this page's status actions: submit / approve / … are the approvals part's own routes.
    re_path(r"^(?P<pk>[0-9]+)/(?P<action>activate|complete|terminate|void)/$", views.contract_action, name="action"),
]
