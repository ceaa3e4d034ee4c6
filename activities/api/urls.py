from rest_framework.routers import SimpleRouter

from activities.api import views

router = SimpleRouter()
router.register("activities", views.FollowUpViewSet, basename="followup")
router.register("tasks", views.TaskViewSet, basename="task")

urlpatterns = router.urls
