from rest_framework.routers import SimpleRouter

from .api import PickTaskViewSet, WarehouseOrderViewSet, WaveViewSet

router = SimpleRouter()
router.register("waves", WaveViewSet, basename="wave")
router.register("pick-tasks", PickTaskViewSet, basename="pick-task")
router.register("warehouse-orders", WarehouseOrderViewSet, basename="warehouse-order")

urlpatterns = router.urls
