from rest_framework.routers import SimpleRouter

from imports.api import views

router = SimpleRouter()
router.register("imports", views.ImportJobViewSet, basename="import")
router.register("exports", views.ExportJobViewSet, basename="export")

urlpatterns = router.urls
