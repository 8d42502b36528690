from django.contrib import admin
from django.db.models import F
from guardian.admin import GuardedModelAdmin

from apps.core.admin import ReadOnlyModelAdmin

from . import selectors
from .models import Batch, Reservation, StockAlert, StockLevel, StockMove, Warehouse


@admin.register(Warehouse)
class WarehouseAdmin(GuardedModelAdmin):
    list_display = ["code", "name", "province", "city", "is_active"]
    search_fields = ["code", "name"]


class ReadOnlyAdmin(ReadOnlyModelAdmin):
    """Stock changes only through inventory.services (which write the ledger); the admin shows it,
    scoped to the warehouses the user may see."""

    warehouse_path = "warehouse"

    def get_queryset(self, request):
        visible = selectors.warehouses_visible_to(request.user).values("pk")
        return super().get_queryset(request).filter(**{f"{self.warehouse_path}__in": visible})


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["lot_number", "sku", "manufactured_on", "expires_on", "quarantined_at"]
    list_filter = ["quarantined_at"]
    search_fields = ["lot_number", "sku__code"]
    list_select_related = ["sku"]
    # Earliest expiry first, as stock leaves the shelf; undated lots last on every database.
    ordering = [F("expires_on").asc(nulls_last=True), "sku__code", "lot_number"]
    readonly_fields = ["sku", "lot_number", "manufactured_on", "expires_on", "quarantined_at", "quarantine_reason"]

    def has_add_permission(self, request):
        return False


@admin.register(StockLevel)
class StockLevelAdmin(ReadOnlyAdmin):
    list_display = ["warehouse", "sku", "batch", "bucket", "on_hand", "reserved", "updated_at"]
    list_filter = ["bucket", "warehouse"]
    search_fields = ["=sku__code", "batch__lot_number"]
    list_select_related = ["warehouse", "sku", "batch"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    warehouse_path = "stock_level__warehouse"
    list_display = ["order_line", "stock_level", "quantity", "state", "expires_at", "created_at"]
    list_filter = ["state"]
    search_fields = ["=order_line__order__external_id"]
    list_select_related = ["order_line", "stock_level"]
    show_full_result_count = False


@admin.register(StockMove)
class StockMoveAdmin(ReadOnlyAdmin):
    warehouse_path = "stock_level__warehouse"
    list_display = ["created_at", "type", "sku", "stock_level", "on_hand_delta", "reserved_delta", "order",
                    "actor_label", "is_intervention"]
    list_filter = ["type", "is_intervention"]
    search_fields = ["=sku__code", "=order__external_id", "reference"]
    list_select_related = ["sku", "stock_level", "order"]
    show_full_result_count = False


@admin.register(StockAlert)
class StockAlertAdmin(ReadOnlyAdmin):
    list_display = ["kind", "warehouse", "sku", "batch", "available", "suggested_quantity", "raised_at", "resolved_at"]
    list_filter = ["kind", "warehouse", "resolved_at"]
    search_fields = ["=sku__code"]
    list_select_related = ["warehouse", "sku", "batch"]
