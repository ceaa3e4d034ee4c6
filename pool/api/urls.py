from rest_framework.routers import SimpleRouter

from pool.api import views

router = SimpleRouter()
router.register("pool", views.PoolCustomerViewSet, basename="pool-customer")
# customers/{id}/claim/, …/release/, …/assign/, …/lock/, …/unlock/ (this app's actions only).
router.register("customers", views.PoolActionViewSet, basename="customer")

urlpatterns = router.urls
