from django.urls import path

from workbench import api

urlpatterns = [
    path("workbench/", api.WorkbenchView.as_view(), name="workbench"),
]
