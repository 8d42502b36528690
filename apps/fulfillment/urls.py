from django.urls import path
from rest_framework.routers import SimpleRouter

from .api import PickTaskViewSet, TrackingWebhookView, WarehouseOrderViewSet, WaveViewSet

router = SimpleRouter()
router.register("waves", WaveViewSet, basename="wave")
router.register("pick-tasks", PickTaskViewSet, basename="pick-task")
router.register("warehouse-orders", WarehouseOrderViewSet, basename="warehouse-order")

urlpatterns = [
    path("carriers/<slug:code>/tracking/", TrackingWebhookView.as_view(), name="carrier-tracking-webhook"),
    *router.urls,
]
