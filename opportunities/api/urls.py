from rest_framework.routers import SimpleRouter

from opportunities.api import views

router = SimpleRouter()
router.register("opportunities", views.OpportunityViewSet, basename="opportunity")
router.register("stage-groups", views.StageGroupViewSet, basename="stage-group")
router.register("stages", views.StageViewSet, basename="stage")
router.register("lost-reasons", views.LostReasonViewSet, basename="lost-reason")
router.register("reports", views.ReportViewSet, basename="report")

urlpatterns = router.urls
