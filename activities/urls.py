from django.urls import path

from activities import views

app_name = "activities"

urlpatterns = [
    path("tasks/", views.todo, name="todo"),
    path("tasks/calendar/", views.task_calendar, name="calendar"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("activities/customers/<int:customer_pk>/follow-ups/", views.follow_up_create, name="follow_up_create"),
    path("activities/attachments/<int:pk>/", views.attachment_download, name="attachment"),
]
