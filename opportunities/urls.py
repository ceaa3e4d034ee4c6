from django.urls import path

from opportunities import views

app_name = "opportunities"

urlpatterns = [
    path("", views.opportunity_list, name="list"),
    path("new/", views.opportunity_create, name="create"),
    path("board/", views.board, name="board"),
    path("board/column/", views.board_column, name="board_column"),
    path("funnel/", views.funnel, name="funnel"),
    path("<int:pk>/", views.opportunity_detail, name="detail"),
    path("<int:pk>/edit/", views.opportunity_edit, name="edit"),
    path("<int:pk>/move/", views.move, name="move"),
    path("<int:pk>/delete/", views.opportunity_remove, name="delete"),
]
