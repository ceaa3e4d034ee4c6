from django.urls import path
from rest_framework.routers import SimpleRouter

from staff.api import views

router = SimpleRouter()
router.register("staff/users", views.UserViewSet, basename="staff-user")

urlpatterns = [
    path("auth/token/", views.TokenObtainView.as_view(), name="auth-token"),
    path("auth/token/refresh/", views.TokenRefreshView.as_view(), name="auth-token-refresh"),
    path("me/", views.MeView.as_view(), name="me"),
    path("staff/departments/", views.DepartmentTreeView.as_view(), name="staff-department-tree"),
    *router.urls,
]
