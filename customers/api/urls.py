from rest_framework.routers import SimpleRouter

from customers.api import views

router = SimpleRouter()
router.register("customers", views.CustomerViewSet, basename="customer")
router.register("contacts", views.ContactViewSet, basename="contact")
router.register("customer-levels", views.CustomerLevelViewSet, basename="customer-level")
router.register("tags", views.TagViewSet, basename="tag")
router.register("sources", views.SourceViewSet, basename="source")
router.register("industries", views.IndustryViewSet, basename="industry")
router.register("custom-fields", views.CustomFieldViewSet, basename="custom-field")
router.register("customer-views", views.SavedViewViewSet, basename="customer-view")

urlpatterns = router.urls
