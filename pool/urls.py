from django.urls import path

from pool import views

app_name = "pool"

urlpatterns = [
    path("", views.pool_list, name="list"),
    path("returning/", views.returning_soon, name="returning"),
    path("settings/", views.pool_settings, name="settings"),
    path("<int:pk>/claim/", views.pool_claim, name="claim"),
    path("<int:pk>/assign/", views.pool_assign, name="assign"),
    path("customers/<int:pk>/release/", views.customer_release, name="release"),
    path("customers/<int:pk>/lock/", views.customer_lock, name="lock"),
]
