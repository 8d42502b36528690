from rest_framework.routers import SimpleRouter

from .api import StockViewSet

router = SimpleRouter()
router.register("stock", StockViewSet, basename="stock")

urlpatterns = router.urls
