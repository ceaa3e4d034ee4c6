from django.urls import path

from analytics.reports import views

app_name = "reports"

urlpatterns = [
    path("", views.report_index, name="index"),
    path("<slug:key>/", views.report_page, name="detail"),
    path("<slug:key>/xlsx/", views.report_xlsx, name="xlsx"),
]
