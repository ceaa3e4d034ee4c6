"""The contracts app's API routes: products and contracts here; the approvals and payments parts
register their viewsets on the same router."""

from rest_framework.routers import SimpleRouter

from contracts.api import contracts

router = SimpleRouter()
router.register("products", contracts.ProductViewSet, basename="product")
router.register("contracts", contracts.ContractViewSet, basename="contract")

urlpatterns = router.urls
