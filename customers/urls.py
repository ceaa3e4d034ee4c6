from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("bulk/", views.customer_bulk, name="bulk"),
    path("views/", views.saved_view_save, name="view_save"),
    path("views/<int:view_pk>/delete/", views.saved_view_remove, name="view_delete"),
    path("recycle-bin/", views.recycle_bin, name="recycle_bin"),
    path("recycle-bin/<int:pk>/restore/", views.customer_restore, name="restore"),
    path("regions/", views.region_options, name="regions"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/delete/", views.customer_remove, name="delete"),
    path("<int:pk>/reveal/", views.customer_reveal, name="reveal"),
    path("<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("<int:pk>/contacts/<int:contact_pk>/edit/", views.contact_edit, name="contact_edit"),
    path("<int:pk>/contacts/<int:contact_pk>/delete/", views.contact_remove, name="contact_delete"),
    path("<int:pk>/team/", views.team_member_add, name="team_add"),
    path("<int:pk>/team/<int:user_pk>/remove/", views.team_member_drop, name="team_remove"),
    path("<int:pk>/merge/", views.customer_merge, name="merge"),
    path("<int:pk>/merges/<int:merge_pk>/history/", views.merged_history, name="merged_history"),
]
