from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/recompute/", views.recompute_start, name="recompute"),
    path("settings/progress/", views.recompute_progress, name="progress"),
]
