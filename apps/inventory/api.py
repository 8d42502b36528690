"""Stock API: availability, batches, ledger and alerts (scoped reads); receipts, counts, transfers
and quarantine (writes through inventory.services)."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from apps.catalog.models import SKU
from apps.core.errors import ValidationFailed

from . import selectors, services
from .errors import UnknownSKU, UnknownStockLevel, UnknownWarehouse
from .models import StockAlert, StockLevel, StockMove

SKU_PARAM = OpenApiParameter("sku", str, description=_("SKU code"))
WAREHOUSE_PARAM = OpenApiParameter("warehouse", str, description=_("Warehouse code"))


class AvailabilityOut(serializers.Serializer):
    warehouse = serializers.CharField(source="warehouse__code")
    sku = serializers.CharField(source="sku__code")
    name = serializers.CharField(source="sku__name_zh")
    on_hand = serializers.IntegerField(source="total_on_hand")
    reserved = serializers.IntegerField(source="total_reserved")
    available = serializers.IntegerField(source="total_available")
    expired_or_blocked = serializers.IntegerField(source="total_blocked")
    quarantined = serializers.IntegerField(source="total_quarantined")


class BatchLevelOut(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code")
    lot_number = serializers.CharField(source="batch.lot_number")
    manufactured_on = serializers.DateField(source="batch.manufactured_on")
    expires_on = serializers.DateField(source="batch.expires_on")
    quarantined = serializers.SerializerMethodField()
    available = serializers.IntegerField()

    class Meta:
        model = StockLevel
        fields = ["id", "warehouse", "lot_number", "manufactured_on", "expires_on", "bucket", "on_hand", "reserved",
                  "available", "quarantined"]

    def get_quarantined(self, level) -> bool:
        return level.batch.quarantined_at is not None


class MoveOut(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="stock_level.warehouse.code")
    lot_number = serializers.CharField(source="stock_level.batch.lot_number", default=None)
    bucket = serializers.CharField(source="stock_level.bucket")
    order = serializers.CharField(source="order.external_id", default=None)

    class Meta:
        model = StockMove
        fields = ["id", "created_at", "type", "warehouse", "lot_number", "bucket", "on_hand_delta", "reserved_delta",
                  "order", "reference", "note", "actor_label", "is_intervention"]


class AlertOut(serializers.ModelSerializer):
    warehouse = serializers.CharField(source="warehouse.code")
    sku = serializers.CharField(source="sku.code")
    lot_number = serializers.CharField(source="batch.lot_number", default=None)

    class Meta:
        model = StockAlert
        fields = ["id", "kind", "warehouse", "sku", "lot_number", "available", "suggested_quantity", "details",
                  "raised_at", "resolved_at"]


class ReceiptIn(serializers.Serializer):
    warehouse = serializers.CharField(max_length=32)
    sku = serializers.CharField(max_length=64)
    quantity = serializers.IntegerField(min_value=1, max_value=10_000_000)
    lot_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    manufactured_on = serializers.DateField(required=False, allow_null=True, default=None)
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)
    reference = serializers.CharField(max_length=128, required=False, allow_blank=True, default="")


class AdjustIn(serializers.Serializer):
    counted = serializers.IntegerField(min_value=0)
    reason = serializers.CharField(max_length=255)


class TransferIn(serializers.Serializer):
    to_warehouse = serializers.CharField(max_length=32)
    quantity = serializers.IntegerField(min_value=1)


class QuarantineIn(serializers.Serializer):
    reason = serializers.CharField(max_length=255)


class LedgerPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 100


class StockPermission(permissions.BasePermission):
    required = {"availability": "inventory.view_stocklevel", "batches": "inventory.view_batch",
                "ledger": "inventory.view_stockmove", "alerts": "inventory.view_stockalert",
                "receive": "inventory.receive_stock", "adjust": "inventory.adjust_stock",
                "transfer": "inventory.transfer_stock", "quarantine": "inventory.quarantine_stock"}

    def has_permission(self, request, view):
        # Unknown actions (OPTIONS metadata, the browsable API probing forms) get nothing.
        perm = self.required.get(view.action)
        return perm is not None and request.user.has_perm(perm)


def _required_param(request, name):
    value = request.query_params.get(name)
    if not value:
        raise ValidationFailed(details={name: [{"code": "required", "message": str(_("This field is required."))}]})
    return value


class StockViewSet(viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, StockPermission]
    queryset = StockLevel.objects.none()
    serializer_class = AvailabilityOut
    lookup_value_regex = r"\d+"

    def _visible_warehouse_id(self, code):
        warehouse = selectors.warehouses_visible_to(self.request.user).filter(code=code, is_active=True).first()
        if warehouse is None:
            raise UnknownWarehouse(details={"warehouse": code})
        return warehouse.pk

    def _visible_level(self, pk):
        level = selectors.level_visible(actor=self.request.user, level_id=int(pk))
        if level is None:
            raise UnknownStockLevel(details={"stock_level_id": pk})
        return level

    @extend_schema(parameters=[SKU_PARAM, WAREHOUSE_PARAM], responses=AvailabilityOut(many=True))
    @action(detail=False, methods=["get"])
    def availability(self, request):
        rows = selectors.stock_availability(actor=request.user, sku_code=request.query_params.get("sku"),
                                            warehouse_code=request.query_params.get("warehouse"))
        page = self.paginate_queryset(rows)
        return Response(AvailabilityOut(page if page is not None else rows, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("sku", str, required=True)], responses=BatchLevelOut(many=True))
    @action(detail=False, methods=["get"])
    def batches(self, request):
        levels = selectors.stock_batches(actor=request.user, sku_code=_required_param(request, "sku"))
        return Response(BatchLevelOut(levels, many=True).data)

    @extend_schema(parameters=[OpenApiParameter("sku", str, required=True)], responses=MoveOut(many=True))
    @action(detail=False, methods=["get"], pagination_class=LedgerPagination)
    def ledger(self, request):
        moves = selectors.stock_ledger(actor=request.user, sku_code=_required_param(request, "sku"))
        page = self.paginate_queryset(moves)
        return self.get_paginated_response(MoveOut(page, many=True).data)

    @extend_schema(responses=AlertOut(many=True))
    @action(detail=False, methods=["get"])
    def alerts(self, request):
        return Response(AlertOut(selectors.stock_alerts(actor=request.user), many=True).data)

    @extend_schema(request=ReceiptIn, responses={201: BatchLevelOut})
    @action(detail=False, methods=["post"], url_path="receipts")
    def receive(self, request):
        data = ReceiptIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        warehouse_id = self._visible_warehouse_id(values.pop("warehouse"))
        sku = SKU.objects.filter(code=values.pop("sku"), is_active=True).first()
        if sku is None:
            raise UnknownSKU(details={"sku": data.validated_data["sku"]})
        level = services.stock_receive(warehouse_id=warehouse_id, sku_id=sku.pk, actor=request.user, **values)
        return Response(_level_out(level), status=status.HTTP_201_CREATED)

    @extend_schema(request=AdjustIn, responses=BatchLevelOut)
    @action(detail=True, methods=["post"], url_path="adjust")
    def adjust(self, request, pk=None):
        level = self._visible_level(pk)
        data = AdjustIn(data=request.data)
        data.is_valid(raise_exception=True)
        level = services.stock_adjust(level_id=level.pk, actor=request.user, **data.validated_data)
        return Response(_level_out(level))

    @extend_schema(request=TransferIn, responses=BatchLevelOut)
    @action(detail=True, methods=["post"], url_path="transfer")
    def transfer(self, request, pk=None):
        level = self._visible_level(pk)
        data = TransferIn(data=request.data)
        data.is_valid(raise_exception=True)
        target = services.stock_transfer(level_id=level.pk, actor=request.user,
                                         to_warehouse_id=self._visible_warehouse_id(data.validated_data["to_warehouse"]),
                                         quantity=data.validated_data["quantity"])
        return Response(_level_out(target))

    @extend_schema(request=QuarantineIn, responses=BatchLevelOut)
    @action(detail=True, methods=["post"], url_path="quarantine")
    def quarantine(self, request, pk=None):
        level = self._visible_level(pk)
        if level.batch_id is None:
            raise ValidationFailed(details={"batch": [{"code": "no_batch", "message": str(_("This level has no batch."))}]})
        data = QuarantineIn(data=request.data)
        data.is_valid(raise_exception=True)
        services.stock_quarantine_batch(batch_id=level.batch_id, actor=request.user, **data.validated_data)
        return Response(_level_out(StockLevel.objects.get(pk=level.pk)))


def _level_out(level):
    level = StockLevel.objects.select_related("warehouse", "batch").get(pk=level.pk)
    if level.batch_id:
        return BatchLevelOut(level).data
    return {"id": level.pk, "warehouse": level.warehouse.code, "lot_number": None, "bucket": level.bucket,
            "on_hand": level.on_hand, "reserved": level.reserved, "available": level.available}
