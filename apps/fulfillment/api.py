"""Warehouse API: waves and their pick tasks, scan confirmation, short picks, packing, e-waybills,
shipping and intercepts. Scoped to the warehouses the actor works (out of scope is 404); every write is
a service. Also the carriers' tracking webhook, which authenticates by signature, not by user."""
import json

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_field, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from apps.core.api import ActionPermission
from apps.core.errors import PayloadTooLarge
from apps.core.money import ZERO
from apps.orders.models import Order

from . import selectors, services
from .errors import PickTaskNotFound, TrackingEventInvalid, WarehouseNotFound
from .models import Package, PickTask, Shipment, Wave
from .models.picking import Urgency
from .services.picking import MAX_UNITS_PER_SCAN
from .services.tracking import SIGNATURE_HEADER, tracking_verify_signature
from .services.waves import MAX_WAVE_ORDERS

ERROR = inline_serializer("FulfillmentError", {"code": serializers.CharField(), "message": serializers.CharField(),
                                               "details": serializers.DictField()})


# --- input ---------------------------------------------------------------------------------------

class WaveIn(serializers.Serializer):
    warehouse = serializers.CharField(max_length=32, help_text=_("Warehouse code"))
    carrier = serializers.CharField(max_length=16, required=False, allow_blank=True,
                                    help_text=_("Only orders going with this carrier (code)"))
    urgency = serializers.ChoiceField(choices=Urgency.choices, required=False, allow_blank=True)
    cut_off = serializers.DateTimeField(required=False, allow_null=True,
                                        help_text=_("Only orders promised to ship by this time"))
    size_limit = serializers.IntegerField(min_value=1, max_value=MAX_WAVE_ORDERS, required=False, allow_null=True)


class ScanIn(serializers.Serializer):
    barcode = serializers.CharField(max_length=128, trim_whitespace=True)
    lot_number = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_UNITS_PER_SCAN, default=1)
    task = serializers.IntegerField(required=False, allow_null=True,
                                    help_text=_("The task the scanner shows; default: the next open task"))


class ShortIn(serializers.Serializer):
    found = serializers.IntegerField(min_value=0, help_text=_("Units found at the location, scanned ones included"))
    reason = serializers.CharField(max_length=255)


class ReasonIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class PackIn(serializers.Serializer):
    weight_grams = serializers.IntegerField()
    length_mm = serializers.IntegerField()
    width_mm = serializers.IntegerField()
    height_mm = serializers.IntegerField()


class WaybillIn(serializers.Serializer):
    carrier = serializers.CharField(max_length=16)
    service_type = serializers.CharField(max_length=32)
    weight = serializers.DecimalField(max_digits=9, decimal_places=3, min_value=ZERO, required=False,
                                      allow_null=True, help_text=_("kg; default: the packed weight"))
    cod_amount = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    insured_value = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True)
    cargo_name = serializers.CharField(max_length=64, required=False, allow_null=True)
    packages = serializers.IntegerField(min_value=1, max_value=999, default=1)


# --- output --------------------------------------------------------------------------------------

class PickTaskOut(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    order_number = serializers.CharField(source="order.external_id")
    sku = serializers.CharField(source="sku.code")
    sku_name = serializers.CharField(source="sku.name_zh")
    barcode = serializers.CharField(source="sku.barcode", allow_null=True)
    batch_tracked = serializers.BooleanField(source="sku.batch_tracked")
    lot_number = serializers.CharField(source="batch.lot_number", allow_null=True, default=None)
    expires_on = serializers.DateField(source="batch.expires_on", allow_null=True, default=None)
    quantity_left = serializers.IntegerField()

    class Meta:
        model = PickTask
        fields = ["id", "sequence", "state", "location_code", "order", "order_number", "sku", "sku_name", "barcode",
                  "batch_tracked", "lot_number", "expires_on", "quantity", "picked_quantity", "quantity_left",
                  "found_quantity", "short_reason"]


class WaveOut(serializers.ModelSerializer):
    code = serializers.CharField()
    warehouse = serializers.CharField(source="warehouse.code")
    carrier = serializers.CharField(source="carrier.code", allow_null=True, default=None)
    order_count = serializers.IntegerField()
    task_count = serializers.IntegerField()
    open_count = serializers.IntegerField()
    picked_count = serializers.IntegerField()
    short_count = serializers.IntegerField()

    class Meta:
        model = Wave
        fields = ["id", "code", "warehouse", "carrier", "urgency", "cut_off", "size_limit", "state", "created_at",
                  "completed_at", "actor_label", "order_count", "task_count", "open_count", "picked_count",
                  "short_count"]


class WaveDetailOut(WaveOut):
    tasks = serializers.SerializerMethodField()

    class Meta(WaveOut.Meta):
        fields = WaveOut.Meta.fields + ["tasks"]

    @extend_schema_field(PickTaskOut(many=True))
    def get_tasks(self, wave) -> list[dict]:
        return PickTaskOut(selectors.wave_tasks(wave), many=True).data


class SkippedOut(serializers.Serializer):
    order_id = serializers.IntegerField()
    external_id = serializers.CharField()
    reason = serializers.CharField()
    message = serializers.CharField()


class WaveCreatedOut(WaveDetailOut):
    skipped = SkippedOut(many=True)

    class Meta(WaveDetailOut.Meta):
        fields = WaveDetailOut.Meta.fields + ["skipped"]


class ScanOut(serializers.Serializer):
    task = PickTaskOut()
    quantity = serializers.IntegerField()
    order_finished = serializers.BooleanField()
    order_waiting = serializers.BooleanField()
    wave_done = serializers.BooleanField()
    next_task = PickTaskOut(allow_null=True)


class PackageOut(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")

    class Meta:
        model = Package
        fields = ["order", "weight_grams", "length_mm", "width_mm", "height_mm", "packed_at", "actor_label"]


class ShipmentOut(serializers.ModelSerializer):
    order = serializers.IntegerField(source="order_id")
    carrier = serializers.CharField(source="carrier.code")

    class Meta:
        model = Shipment
        fields = ["id", "order", "carrier", "state", "service_type", "tracking_number", "sort_code",
                  "package_centre", "short_address", "weight", "cod_amount", "insured_value", "requested_at",
                  "issued_at"]


class OrderStatusOut(serializers.ModelSerializer):
    class Meta:
        model = Order
        fields = ["id", "external_id", "status", "status_changed_at"]


# --- views ---------------------------------------------------------------------------------------

class FulfillmentPermission(ActionPermission):
    """Scope (the warehouses worked) is applied by the selectors."""

    required = {
        "list": "fulfillment.view_wave", "retrieve": "fulfillment.view_wave", "create": "fulfillment.add_wave",
        "scan": "orders.pick_order", "short": "orders.pick_order", "release": "orders.pick_order",
        "pack": "orders.pack_order", "waybill": "orders.ship_order", "ship": "orders.ship_order",
        "cancel_waybill": "fulfillment.change_shipment", "intercept": "orders.intercept_order",
    }


class WavePagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 50


class WaveViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, FulfillmentPermission]
    serializer_class = WaveOut
    pagination_class = WavePagination
    filter_backends = []
    queryset = Wave.objects.none()  # for the schema; get_queryset scopes every request

    def get_queryset(self):
        state = self.request.query_params.get("state")
        return selectors.wave_list(actor=self.request.user, state=state if state in Wave.State.values else None)

    @extend_schema(responses={200: WaveDetailOut, 404: ERROR})
    def retrieve(self, request, pk=None):
        return Response(WaveDetailOut(selectors.wave_detail(actor=request.user, wave_id=pk)).data)

    @extend_schema(request=WaveIn, responses={201: WaveCreatedOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    def create(self, request):
        payload = WaveIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        warehouse = selectors.warehouses_worked_by(request.user).filter(code=data["warehouse"]).first()
        if warehouse is None:
            raise WarehouseNotFound(details={"warehouse": data["warehouse"]})
        result = services.wave_create(warehouse_id=warehouse.pk, actor=request.user,
                                      carrier_code=data.get("carrier") or None, urgency=data.get("urgency") or None,
                                      cut_off=data.get("cut_off"), size_limit=data.get("size_limit"))
        wave = selectors.wave_detail(actor=request.user, wave_id=result.wave.pk)
        wave.skipped = result.skipped
        return Response(WaveCreatedOut(wave).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ScanIn, responses={200: ScanOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def scan(self, request, pk=None):
        wave_id = selectors.visible_wave_id(actor=request.user, wave_id=pk)
        payload = ScanIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        result = services.pick_scan(wave_id=wave_id, barcode=data["barcode"], lot_number=data["lot_number"],
                                    quantity=data["quantity"], task_id=data.get("task"), actor=request.user)
        return Response(ScanOut({
            "task": result.task, "quantity": result.quantity, "order_finished": result.order_finished,
            "order_waiting": result.order_waiting, "wave_done": result.wave_done,
            "next_task": selectors.next_task(wave_id=wave_id),
        }).data)


class PickTaskViewSet(viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, FulfillmentPermission]
    serializer_class = PickTaskOut
    filter_backends = []
    queryset = PickTask.objects.none()

    @extend_schema(request=ShortIn, responses={200: PickTaskOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def short(self, request, pk=None):
        task = _visible_task(request.user, pk)
        payload = ShortIn(data=request.data)
        payload.is_valid(raise_exception=True)
        services.pick_short(task_id=task.pk, actor=request.user, **payload.validated_data)
        return Response(PickTaskOut(selectors.wave_tasks(task.wave).get(pk=task.pk)).data)


class WarehouseOrderViewSet(viewsets.GenericViewSet):
    """Order-level warehouse steps: leave the wave, pack, e-waybill, ship."""

    permission_classes = [permissions.IsAuthenticated, FulfillmentPermission]
    serializer_class = OrderStatusOut
    filter_backends = []
    queryset = Order.objects.none()

    def _order_id(self, pk) -> int:
        return selectors.warehouse_order(actor=self.request.user, order_id=pk).pk

    @extend_schema(request=ReasonIn, responses={200: OrderStatusOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def release(self, request, pk=None):
        order_id = self._order_id(pk)
        payload = ReasonIn(data=request.data)
        payload.is_valid(raise_exception=True)
        order = services.wave_release_order(order_id=order_id, actor=request.user, **payload.validated_data)
        return Response(OrderStatusOut(order).data)

    @extend_schema(request=PackIn, responses={201: PackageOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def pack(self, request, pk=None):
        order_id = self._order_id(pk)
        payload = PackIn(data=request.data)
        payload.is_valid(raise_exception=True)
        package = services.order_pack(order_id=order_id, actor=request.user, **payload.validated_data)
        return Response(PackageOut(package).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=WaybillIn, responses={200: ShipmentOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR,
                                                 503: ERROR})
    @action(detail=True, methods=["post"])
    def waybill(self, request, pk=None):
        order_id = self._order_id(pk)
        payload = WaybillIn(data=request.data)
        payload.is_valid(raise_exception=True)
        data = dict(payload.validated_data)
        shipment = services.shipment_request_waybill(order_id=order_id, carrier_code=data.pop("carrier"),
                                                     actor=request.user, **data)
        return Response(ShipmentOut(shipment).data)

    @extend_schema(request=ReasonIn, responses={200: ShipmentOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"], url_path="waybill/cancel")
    def cancel_waybill(self, request, pk=None):
        order_id = self._order_id(pk)
        payload = ReasonIn(data=request.data)
        payload.is_valid(raise_exception=True)
        shipment = services.shipment_cancel(order_id=order_id, actor=request.user, **payload.validated_data)
        return Response(ShipmentOut(shipment).data)

    @extend_schema(request=None, responses={200: OrderStatusOut, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def ship(self, request, pk=None):
        order = services.order_ship(order_id=self._order_id(pk), actor=request.user)
        return Response(OrderStatusOut(order).data)


    @extend_schema(request=ReasonIn, responses={200: OrderStatusOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR,
                                                503: ERROR})
    @action(detail=True, methods=["post"])
    def intercept(self, request, pk=None):
        """Ask the carrier to stop the parcel. 200: settled (intercepted, or back where it was when the
        carrier refused). 503 `intercept_unconfirmed`: no answer, the order stays intercepting; post again."""
        order_id = self._order_id(pk)
        payload = ReasonIn(data=request.data)
        payload.is_valid(raise_exception=True)
        order = services.order_request_intercept(order_id=order_id, actor=request.user, **payload.validated_data)
        return Response(OrderStatusOut(order).data)


# --- the carriers' tracking webhook --------------------------------------------------------------

MAX_WEBHOOK_BYTES = 64 * 1024  # one scan is a few hundred bytes


class CarrierWebhookThrottle(SimpleRateThrottle):
    """Per carrier and sending address. Generous: a carrier flushing a backlog posts in bursts, and
    what this guards against is a runaway sender, not normal traffic."""

    scope = "carrier_webhook"
    rate = "1200/min"

    def get_cache_key(self, request, view):
        ident = f"{view.kwargs.get('code', '')}:{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


TrackingAnswer = inline_serializer("TrackingAnswer", {
    "event_id": serializers.CharField(), "carrier": serializers.CharField(),
    "tracking_number": serializers.CharField(), "order_id": serializers.IntegerField(),
    "code": serializers.CharField(), "transition": serializers.CharField(allow_null=True),
    "from_status": serializers.CharField(), "status": serializers.CharField(),
    "applied": serializers.ListField(child=serializers.CharField()),
    "skipped": serializers.CharField(allow_null=True), "closed_hold_id": serializers.IntegerField(allow_null=True),
})


class TrackingWebhookView(APIView):
    """`POST /api/v1/carriers/<code>/tracking/`: one scan from a carrier (docs/carriers.md).

    Carriers are not users: no session, no token, so no CSRF either (DRF's APIView is exempt, and
    without SessionAuthentication nothing re-enforces it). The body must be signed with the
    carrier's shared secret (`X-Orderhub-Signature: sha256=<hex HMAC-SHA256 of the raw body>`),
    checked before the body is parsed. A redelivered event answers 200 with the first answer and
    `X-Orderhub-Replay: true`."""

    authentication_classes = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [CarrierWebhookThrottle]
    parser_classes = []  # the signature covers the raw bytes; the body is read from them

    @extend_schema(request=None, responses={200: TrackingAnswer, 400: ERROR, 401: ERROR, 404: ERROR})
    def post(self, request, code):
        raw = request.body
        if len(raw) > MAX_WEBHOOK_BYTES:
            raise PayloadTooLarge(details={"max_bytes": MAX_WEBHOOK_BYTES})
        carrier = tracking_verify_signature(carrier_code=code, raw_body=raw,
                                            signature=request.headers.get(SIGNATURE_HEADER))
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise TrackingEventInvalid(details={"_": [{"code": "malformed_json",
                                                       "message": gettext("The body is not JSON.")}]}) from None
        result = services.tracking_ingest(carrier_code=carrier.code, body=body)
        response = Response(result.answer)
        if not result.created:
            response["X-Orderhub-Replay"] = "true"
        return response


def _visible_task(user, pk) -> PickTask:
    try:
        task_id = int(pk)
    except (TypeError, ValueError):
        raise PickTaskNotFound(details={"task_id": pk}) from None
    task = PickTask.objects.select_related("wave").filter(
        pk=task_id, wave__in=selectors.waves_visible_to(user)).first()
    if task is None:
        raise PickTaskNotFound(details={"task_id": pk})
    return task
