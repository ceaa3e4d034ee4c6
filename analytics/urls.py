from django.urls import path

from analytics import summary_views, views

app_name = "analytics"

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/recompute/", views.recompute_start, name="recompute"),
    path("settings/progress/", views.recompute_progress, name="progress"),
    # 日报 / 周报 / 月报 and their e-mail subscriptions.
    path("summary/", summary_views.summary_page, name="summary"),
    path("summary/subscriptions/", summary_views.subscription_create, name="summary-subscribe"),
    path("summary/subscriptions/<int:pk>/delete/", summary_views.subscription_delete, name="summary-unsubscribe"),
]
