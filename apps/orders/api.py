"""Order API: intake (per-shop token or a staff session), scoped reads, transitions and holds."""
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import mixins, permissions, serializers, status, viewsets
from rest_framework.decorators import action
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response

from apps.catalog.selectors import active_skus_by_code
from apps.core.api import ActionPermission, represented, validated
from apps.core.errors import PayloadTooLarge, ValidationFailed
from apps.core.money import ZERO
from apps.core.phones import InvalidPhone, normalise_phone
from apps.core.privacy import mask_detail, mask_name, mask_phone
from apps.customers.models import Customer

from . import selectors, services
from .errors import OrderNotFound, TransitionHasOwnFlow
from .filters import OrderFilter, OrderOrdering
from .normalisation import urgency
from .models import HoldType, Order, OrderEvent, OrderHold, OrderLine

MONEY = {"max_digits": 14, "decimal_places": 2}

# Steps that carry more than a status (a signature, picked goods, a package, a waybill): the bare
# transition endpoint would skip what they record, so callers are sent to their own API.
OWN_FLOW_TRANSITIONS = {
    "require_approval": "/api/v1/approvals/", "approve": "/api/v1/approvals/{id}/decide/",
    "reject": "/api/v1/approvals/{id}/decide/", "start_picking": "/api/v1/waves/",
    "return_to_ready": "/api/v1/warehouse-orders/{id}/release/", "finish_picking": "/api/v1/waves/{id}/scan/",
    "pack": "/api/v1/warehouse-orders/{id}/pack/", "ship": "/api/v1/warehouse-orders/{id}/ship/",
}


# --- intake -------------------------------------------------------------------------------------

class BuyerIn(serializers.Serializer):
    id = serializers.CharField(max_length=48, required=False, allow_blank=True)
    nickname = serializers.CharField(max_length=64, required=False, allow_blank=True)


class AddressIn(serializers.Serializer):
    receiver = serializers.CharField(max_length=64)
    phone = serializers.CharField(max_length=32)
    province = serializers.CharField(max_length=32)
    city = serializers.CharField(max_length=32)
    district = serializers.CharField(max_length=32)
    detail = serializers.CharField(max_length=255)
    postal_code = serializers.RegexField(r"^\d{6}$", required=False, allow_blank=True)

    def validate_phone(self, value):
        try:
            return normalise_phone(value)
        except InvalidPhone as exc:
            raise serializers.ValidationError(exc.message, code="invalid_phone") from exc


class LineIn(serializers.Serializer):
    sku = serializers.CharField(max_length=64, help_text=_("SKU code"))
    quantity = serializers.IntegerField(min_value=1, max_value=100_000)
    unit_price = serializers.DecimalField(min_value=ZERO, **MONEY)
    discount = serializers.DecimalField(min_value=ZERO, default=ZERO, **MONEY)
    line_total = serializers.DecimalField(min_value=ZERO, required=False, **MONEY)

    def validate(self, attrs):
        gross = attrs["unit_price"] * attrs["quantity"]
        if attrs["discount"] > gross:
            raise serializers.ValidationError(
                {"discount": [serializers.ErrorDetail(_("The discount is larger than the line amount."),
                                                      code="discount_exceeds_amount")]}
            )
        expected = gross - attrs["discount"]
        if "line_total" in attrs and attrs["line_total"] != expected:
            raise serializers.ValidationError(
                {"line_total": [serializers.ErrorDetail(
                    _("Line total %(given)s should be %(expected)s (quantity × unit price − discount).")
                    % {"given": attrs["line_total"], "expected": expected}, code="totals_mismatch")]}
            )
        attrs["line_total"] = expected
        return attrs


class OrderIntake(serializers.Serializer):
    shop = serializers.CharField(max_length=32, required=False,
                                 help_text=_("Shop code; implied by a shop token, required for staff."))
    external_id = serializers.CharField(max_length=64, help_text=_("The platform's order number"))
    placed_at = serializers.DateTimeField(required=False)
    paid_at = serializers.DateTimeField(required=False, allow_null=True)
    paid_amount = serializers.DecimalField(min_value=ZERO, required=False, **MONEY)
    buyer = BuyerIn(required=False)
    customer_code = serializers.CharField(max_length=64, required=False, allow_blank=True)
    address = AddressIn()
    lines = serializers.ListField(child=LineIn(), min_length=1, max_length=settings.ORDERHUB_MAX_ORDER_LINES)
    shipping_fee = serializers.DecimalField(min_value=ZERO, default=ZERO, **MONEY)
    discount_total = serializers.DecimalField(min_value=ZERO, default=ZERO, **MONEY)
    goods_total = serializers.DecimalField(min_value=ZERO, required=False, **MONEY)
    grand_total = serializers.DecimalField(min_value=ZERO, **MONEY)
    buyer_remark = serializers.CharField(max_length=1000, required=False, allow_blank=True)
    seller_remark = serializers.CharField(max_length=1000, required=False, allow_blank=True)

    def validate_external_id(self, value):
        shop = self.context["shop"]
        if not shop.accepts_order_number(value):
            raise serializers.ValidationError(
                _("“%(number)s” is not an order number of this shop's platform (%(platform)s).")
                % {"number": value, "platform": shop.get_platform_display()},
                code="order_number_mismatch",
            )
        return value

    def validate_lines(self, lines):
        """Resolve SKU codes in one query; each unknown code is reported at its own line."""
        skus = active_skus_by_code(line["sku"] for line in lines)
        errors = []
        for line in lines:
            sku = skus.get(line["sku"])
            errors.append({} if sku else {"sku": [serializers.ErrorDetail(
                _("Unknown or inactive SKU “%(code)s”.") % {"code": line["sku"]}, code="unknown_sku")]})
            line["sku"] = sku or line["sku"]
        if any(errors):
            raise serializers.ValidationError(errors)
        return lines

    def validate_customer_code(self, value):
        if value and not Customer.objects.filter(code=value).exists():
            raise serializers.ValidationError(_("Unknown customer “%(code)s”.") % {"code": value},
                                              code="unknown_customer")
        return value

    def validate(self, attrs):
        errors = {}
        if attrs.get("customer_code"):
            attrs["customer"] = Customer.objects.get(code=attrs["customer_code"])
        goods_total = sum((line["line_total"] for line in attrs["lines"]), ZERO)
        if "goods_total" in attrs and attrs["goods_total"] != goods_total:
            errors["goods_total"] = [serializers.ErrorDetail(
                _("Goods total %(given)s does not equal the sum of the lines, %(expected)s.")
                % {"given": attrs["goods_total"], "expected": goods_total}, code="totals_mismatch")]
        expected = goods_total + attrs["shipping_fee"] - attrs["discount_total"]
        if attrs["grand_total"] != expected:
            errors["grand_total"] = [serializers.ErrorDetail(
                _("Amount payable %(given)s should be %(expected)s (goods + shipping − discount).")
                % {"given": attrs["grand_total"], "expected": expected}, code="totals_mismatch")]
        paid = attrs.get("paid_amount")
        if paid is not None and (paid > attrs["grand_total"] or not attrs.get("paid_at")):
            errors["paid_amount"] = [serializers.ErrorDetail(
                _("A paid amount needs paid_at and cannot exceed the amount payable."), code="invalid_payment")]
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# --- output -------------------------------------------------------------------------------------

class PersonalDataMixin:
    """Full phone numbers and street addresses only for actors allowed to see them."""

    def personal(self, value, masker):
        return value if self.context.get("personal_data_visible") else masker(value)


class OrderListOut(PersonalDataMixin, serializers.ModelSerializer):
    shop = serializers.CharField(source="shop.code")
    status_label = serializers.CharField(source="get_status_display")
    receiver_name = serializers.SerializerMethodField()
    receiver_phone = serializers.SerializerMethodField()
    urgency = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    class Meta:
        model = Order
        fields = ["id", "external_id", "shop", "platform", "status", "status_label", "payment_status",
                  "buyer_nickname", "receiver_name", "receiver_phone", "currency", "grand_total",
                  "placed_at", "status_changed_at", "promised_ship_by", "urgency", "tags"]

    def get_urgency(self, order) -> str | None:
        return urgency(order, self.context.get("now"))

    def get_tags(self, order) -> list[str]:
        return sorted(tag.tag for tag in order.tags.all())

    def get_receiver_name(self, order) -> str:
        return self.personal(order.receiver_name, mask_name)

    def get_receiver_phone(self, order) -> str:
        return self.personal(order.receiver_phone, mask_phone)


class LineOut(serializers.ModelSerializer):
    sku = serializers.CharField(source="sku.code")

    class Meta:
        model = OrderLine
        fields = ["line_no", "sku", "name", "quantity", "unit_price", "discount", "line_total"]


class EventOut(serializers.ModelSerializer):
    class Meta:
        model = OrderEvent
        fields = ["id", "type", "name", "from_status", "to_status", "actor_label", "payload",
                  "is_intervention", "created_at"]


class HoldOut(serializers.ModelSerializer):
    class Meta:
        model = OrderHold
        fields = ["id", "type", "reason", "owner_role", "is_automatic", "opened_at", "released_at",
                  "resolution", "is_open"]


class OrderDetailOut(OrderListOut):
    customer = serializers.CharField(source="customer.code")
    warehouse = serializers.CharField(source="warehouse.code", allow_null=True, default=None)
    address_detail = serializers.SerializerMethodField()
    lines = LineOut(many=True)
    events = EventOut(many=True)
    holds = HoldOut(many=True)

    class Meta(OrderListOut.Meta):
        fields = OrderListOut.Meta.fields + [
            "customer", "warehouse", "province", "city", "district", "address_detail", "postal_code",
            "goods_total", "shipping_fee", "discount_total", "paid_amount", "paid_at", "buyer_remark",
            "seller_remark", "lines", "events", "holds",
        ]

    def get_address_detail(self, order) -> str:
        return self.personal(order.address_detail, mask_detail)


class IntakeOut(serializers.Serializer):
    """The acknowledgement of an intake: what a platform integration stores. The full order is at
    its detail URL; answering with just this keeps intake at one write path and no re-read."""

    id = serializers.IntegerField()
    external_id = serializers.CharField()
    shop = serializers.CharField(source="shop.code")
    status = serializers.CharField()
    payment_status = serializers.CharField()
    grand_total = serializers.DecimalField(**MONEY)
    placed_at = serializers.DateTimeField()
    replayed = serializers.BooleanField()


class TransitionIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    amount = serializers.DecimalField(min_value=ZERO, required=False, help_text=_("Only for “pay”: the amount received; defaults to the full amount payable."), **MONEY)


class HoldIn(serializers.Serializer):
    type = serializers.ChoiceField(choices=HoldType.choices)
    reason = serializers.CharField(max_length=500)


class ComplaintIn(serializers.Serializer):
    text = serializers.CharField(max_length=2000)


class HoldReleaseIn(serializers.Serializer):
    resolution = serializers.CharField(max_length=500)


ERROR = inline_serializer("Error", {"code": serializers.CharField(), "message": serializers.CharField(),
                                    "details": serializers.DictField()})


# --- views --------------------------------------------------------------------------------------

class OrderPermission(ActionPermission):
    required = {"list": "orders.view_order", "retrieve": "orders.view_order", "create": "orders.add_order"}


class OrderPagination(CursorPagination):
    ordering = ("-placed_at", "-id")
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


class OrderViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [permissions.IsAuthenticated, OrderPermission]
    filterset_class = OrderFilter
    filter_backends = [DjangoFilterBackend, OrderOrdering]
    ordering_fields = ["placed_at", "promised_ship_by"]  # ?ordering=promised_ship_by: most urgent first
    ordering = ["-placed_at", "-id"]  # by default newest first, with a unique tie-break for the cursor
    pagination_class = OrderPagination
    serializer_class = OrderListOut
    queryset = Order.objects.none()  # for the schema; get_queryset scopes every request

    def get_queryset(self):
        return selectors.order_list(actor=self.request.user)

    def get_serializer_context(self):
        context = super().get_serializer_context()
        context["personal_data_visible"] = selectors.can_view_personal_data(self.request.user)
        context["now"] = timezone.now()
        return context

    def _detail_response(self, order_id):
        order = selectors.order_detail(actor=self.request.user, order_id=order_id)
        return Response(OrderDetailOut(order, context=self.get_serializer_context()).data)

    @extend_schema(responses={200: OrderDetailOut, 404: ERROR})
    def retrieve(self, request, pk=None):
        return self._detail_response(_int_or_404(pk))

    @extend_schema(
        request=OrderIntake,
        responses={201: IntakeOut, 200: OpenApiResponse(IntakeOut, description=_("Replay: the existing order")),
                   400: ERROR, 401: ERROR, 403: ERROR},
    )
    def create(self, request):
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.ORDERHUB_MAX_INTAKE_BYTES:
            raise PayloadTooLarge(details={"bytes": length, "limit": settings.ORDERHUB_MAX_INTAKE_BYTES})
        if not isinstance(request.data, dict):
            raise ValidationFailed(details={"_": [{"code": "invalid", "message": str(_("Expected a JSON object."))}]})
        shop = selectors.shop_for_intake(actor=request.user, code=request.data.get("shop"))
        data = validated(OrderIntake, request.data, shop=shop)
        result = services.order_create(shop=shop, data=data, actor=request.user,
                                       raw_payload=request.data)
        order = result.order
        order.replayed = not result.created
        response = Response(represented(IntakeOut, order),
                            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK)
        if result.payload_differs:
            response["X-Orderhub-Replay-Differs"] = "true"
        return response

    @extend_schema(
        request=TransitionIn,
        parameters=[OpenApiParameter("name", str, OpenApiParameter.PATH,
                                     enum=sorted(services.TRANSITION_PERMISSIONS),
                                     description=_("Transition to perform"))],
        responses={200: OrderDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR},
    )
    @action(detail=True, methods=["post"], url_path=r"transitions/(?P<name>[a-z_]+)")
    def transition(self, request, pk=None, name=None):
        order_id = selectors.order_detail(actor=request.user, order_id=_int_or_404(pk)).pk
        if name in OWN_FLOW_TRANSITIONS:
            raise TransitionHasOwnFlow(details={"transition": name, "use": OWN_FLOW_TRANSITIONS[name]})
        payload = TransitionIn(data=request.data)
        payload.is_valid(raise_exception=True)
        if name == "pay":
            services.order_pay(order_id=order_id, actor=request.user, amount=payload.validated_data.get("amount"))
        else:
            services.order_transition(order_id=order_id, name=name, actor=request.user,
                                      reason=payload.validated_data["reason"])
        return self._detail_response(order_id)

    @extend_schema(request=HoldIn, responses={201: HoldOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"], url_path="holds")
    def open_hold(self, request, pk=None):
        order_id = selectors.order_detail(actor=request.user, order_id=_int_or_404(pk)).pk
        payload = HoldIn(data=request.data)
        payload.is_valid(raise_exception=True)
        hold = services.order_hold_open(order_id=order_id, actor=request.user, **payload.validated_data)
        return Response(HoldOut(hold).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ComplaintIn, responses={201: OrderDetailOut, 400: ERROR, 403: ERROR, 404: ERROR})
    @action(detail=True, methods=["post"], url_path="complaints")
    def record_complaint(self, request, pk=None):
        """What the buyer complained about (return-reason suggestions read it)."""
        order_id = selectors.order_detail(actor=request.user, order_id=_int_or_404(pk)).pk
        payload = ComplaintIn(data=request.data)
        payload.is_valid(raise_exception=True)
        services.order_record_complaint(order_id=order_id, text=payload.validated_data["text"], actor=request.user)
        response = self._detail_response(order_id)
        response.status_code = status.HTTP_201_CREATED
        return response

    @extend_schema(request=HoldReleaseIn, responses={200: HoldOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"], url_path=r"holds/(?P<hold_id>\d+)/release")
    def release_hold(self, request, pk=None, hold_id=None):
        order_id = selectors.order_detail(actor=request.user, order_id=_int_or_404(pk)).pk
        payload = HoldReleaseIn(data=request.data)
        payload.is_valid(raise_exception=True)
        hold = services.order_hold_release(order_id=order_id, hold_id=int(hold_id), actor=request.user,
                                           resolution=payload.validated_data["resolution"])
        return Response(HoldOut(hold).data)


def _int_or_404(pk) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise OrderNotFound(details={"order_id": pk}) from None
