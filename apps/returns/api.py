"""Returns API: list/detail scoped like orders (out of scope is 404), create, and one POST per step.

Create takes JSON, or multipart/form-data when photos are attached: the same fields, `lines` as a
JSON string and up to 6 `photos` files (checked by content: JPEG, PNG or WebP, at most 5 MB each).
Multipart streams files to disk instead of inflating them 4/3 in a base64 JSON body.
"""
import json
from datetime import datetime, time, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.api import DecimalJSONParser, MethodPermission
from apps.orders.api import ERROR
from apps.orders.errors import OrderNotFound
from apps.orders.selectors import orders_visible_to

from . import selectors, services
from .errors import ReturnLinesInvalid
from .models import ReasonNode, ReturnEvent, ReturnKind, ReturnLine, ReturnPhoto, ReturnRequest
from .suggestions import suggest_reasons

# --- output -------------------------------------------------------------------------------------


class ReasonOut(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.code", default=None)

    class Meta:
        model = ReasonNode
        fields = ["code", "parent", "level", "name_zh", "name_en", "platform_codes", "requires_text"]


class ReturnLineOut(serializers.ModelSerializer):
    line_no = serializers.IntegerField(source="order_line.line_no")
    sku = serializers.CharField(source="order_line.sku.code")

    class Meta:
        model = ReturnLine
        fields = ["id", "order_line", "line_no", "sku", "quantity", "outcome", "refund_amount"]


class ReturnPhotoOut(serializers.ModelSerializer):
    class Meta:
        model = ReturnPhoto
        fields = ["id", "image", "content_type", "size_bytes", "uploaded_at"]


class ReturnEventOut(serializers.ModelSerializer):
    class Meta:
        model = ReturnEvent
        fields = ["name", "from_state", "to_state", "actor_label", "payload", "created_at"]


class ReturnSummaryOut(serializers.ModelSerializer):
    order_external_id = serializers.CharField(source="order.external_id")
    reason = serializers.CharField(source="reason.code")

    class Meta:
        model = ReturnRequest
        fields = ["id", "order", "order_external_id", "kind", "state", "reason", "refund_amount", "linked_order",
                  "created_at", "state_changed_at"]


class ReturnOut(ReturnSummaryOut):
    lines = ReturnLineOut(many=True)
    photos = ReturnPhotoOut(many=True)
    events = ReturnEventOut(many=True)
    allowed = serializers.SerializerMethodField(help_text=_("Steps possible from the current state"))

    class Meta(ReturnSummaryOut.Meta):
        fields = ReturnSummaryOut.Meta.fields + ["reason_text", "return_tracking_no", "refunded_at", "lines",
                                                 "photos", "events", "allowed"]

    def get_allowed(self, request) -> list[str]:
        return sorted(t.name for t in request.get_available_state_transitions())


# --- input --------------------------------------------------------------------------------------


class ReturnLineIn(serializers.Serializer):
    order_line_id = serializers.IntegerField()
    quantity = serializers.IntegerField()


class ReturnCreateIn(serializers.Serializer):
    order_id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=ReturnKind.choices)
    reason_code = serializers.CharField(max_length=64)
    reason_text = serializers.CharField(max_length=2000, required=False, allow_blank=True, default="")
    lines = ReturnLineIn(many=True)


class OutcomeIn(serializers.Serializer):
    return_line_id = serializers.IntegerField()
    outcome = serializers.CharField(max_length=16)


class StepIn(serializers.Serializer):
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    tracking_no = serializers.CharField(max_length=64, required=False, allow_blank=True, default="")
    outcomes = OutcomeIn(many=True, required=False)


# --- views --------------------------------------------------------------------------------------


class ReturnPagination(PageNumberPagination):
    page_size = 50
    max_page_size = 200
    page_size_query_param = "page_size"


def _detail(request, return_id, *, status_code=status.HTTP_200_OK):
    return Response(ReturnOut(selectors.return_detail(actor=request.user, return_id=return_id)).data,
                    status=status_code)


class ReturnListView(APIView):
    permission_classes = [permissions.IsAuthenticated, MethodPermission]
    parser_classes = [DecimalJSONParser, MultiPartParser]
    required = {"GET": "returns.view_returnrequest", "POST": "returns.add_returnrequest"}

    @extend_schema(responses={200: ReturnSummaryOut(many=True)})
    def get(self, request):
        order_id = request.query_params.get("order")
        returns = selectors.return_list(actor=request.user, state=request.query_params.get("state") or None,
                                        order_id=int(order_id) if order_id and order_id.isdigit() else None)
        paginator = ReturnPagination()
        page = paginator.paginate_queryset(returns, request, view=self)
        return paginator.get_paginated_response(ReturnSummaryOut(page, many=True).data)

    @extend_schema(request=ReturnCreateIn, responses={201: ReturnOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    def post(self, request):
        data = request.data
        photos = []
        if hasattr(data, "getlist"):  # multipart: lines come as a JSON string, photos as files
            photos = request.FILES.getlist("photos")
            data = {key: data.get(key) for key in ("order_id", "kind", "reason_code", "reason_text", "lines")
                    if data.get(key) is not None}
            try:
                data["lines"] = json.loads(data.get("lines") or "[]")
            except ValueError as exc:
                raise ReturnLinesInvalid(details={"problems": [{"code": "lines_not_json"}]}) from exc
        payload = ReturnCreateIn(data=data)
        payload.is_valid(raise_exception=True)
        values = payload.validated_data
        if not orders_visible_to(request.user).filter(pk=values["order_id"]).exists():
            raise OrderNotFound(details={"order_id": values["order_id"]})
        created = services.return_create(order_id=values["order_id"], kind=values["kind"],
                                         lines=[dict(line) for line in values["lines"]],
                                         reason_code=values["reason_code"], reason_text=values["reason_text"],
                                         photos=photos, actor=request.user)
        return _detail(request, created.pk, status_code=status.HTTP_201_CREATED)


class ReturnDetailView(APIView):
    permission_classes = [permissions.IsAuthenticated, MethodPermission]
    required = {"GET": "returns.view_returnrequest"}

    @extend_schema(responses={200: ReturnOut, 404: ERROR})
    def get(self, request, return_id):
        return _detail(request, return_id)


class ReturnStepView(APIView):
    """POST /returns/<id>/<step>/: approve, reject (reason), await_return (tracking_no), receive,
    inspect (outcomes), refund, exchange, reship, close. The service checks the step's permission."""

    permission_classes = [permissions.IsAuthenticated, MethodPermission]
    required = {"POST": "returns.view_returnrequest"}

    @extend_schema(operation_id="v1_returns_step", request=StepIn,
                   responses={200: ReturnOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    def post(self, request, return_id, step):
        if step not in services.STEP_SERVICES:
            return Response({"code": "unknown_step", "message": str(_("Unknown step.")),
                             "details": {"step": step, "known": sorted(services.STEP_SERVICES)}},
                            status=status.HTTP_404_NOT_FOUND)
        selectors.return_detail(actor=request.user, return_id=return_id)  # scope first: out of scope is 404
        payload = StepIn(data=request.data)
        payload.is_valid(raise_exception=True)
        services.STEP_SERVICES[step](return_id, request.user, payload.validated_data)
        return _detail(request, return_id)


class ReasonListView(APIView):
    permission_classes = [permissions.IsAuthenticated, MethodPermission]
    required = {"GET": "returns.view_reasonnode"}

    @extend_schema(responses={200: ReasonOut(many=True)})
    def get(self, request):
        nodes = selectors.reason_tree().select_related("parent")
        leaves = selectors.leaf_codes()
        return Response([{**ReasonOut(node).data, "is_leaf": node.code in leaves} for node in nodes])


class SuggestionsIn(serializers.Serializer):
    order = serializers.IntegerField(help_text=_("The order being returned"))
    lines = serializers.CharField(required=False, allow_blank=True, default="",
                                  help_text=_("Order line ids, comma-separated (all lines when empty)"))

    def validate_lines(self, value) -> list[int]:
        parts = [part.strip() for part in value.split(",") if part.strip()]
        if not all(part.isdigit() for part in parts):
            raise serializers.ValidationError(_("Order line ids must be numbers."), code="invalid")
        return [int(part) for part in parts]


class ReasonSuggestionsView(APIView):
    """The three likeliest reasons for returning an order's lines, each with the signals behind its
    score (apps.returns.suggestions)."""

    permission_classes = [permissions.IsAuthenticated, MethodPermission]
    required = {"GET": "returns.add_returnrequest"}

    @extend_schema(parameters=[SuggestionsIn], responses={200: dict, 400: ERROR, 404: ERROR})
    def get(self, request):
        query = SuggestionsIn(data=request.query_params)
        query.is_valid(raise_exception=True)
        order = orders_visible_to(request.user).filter(pk=query.validated_data["order"]).first()
        if order is None:
            raise OrderNotFound(details={"order_id": query.validated_data["order"]})
        ranked = suggest_reasons(order=order, order_line_ids=query.validated_data["lines"] or None)
        return Response({"order": order.pk, "suggestions": [suggestion.as_dict() for suggestion in ranked]})


class AnalyticsIn(serializers.Serializer):
    since = serializers.DateField(help_text=_("First day (inclusive)"))
    until = serializers.DateField(help_text=_("Last day (inclusive)"))

    def validate(self, attrs):
        if attrs["until"] < attrs["since"]:
            raise serializers.ValidationError({"until": _("Must not be before the first day.")}, code="invalid")
        return attrs


class ReasonAnalyticsView(APIView):
    """Return reasons over a date range (local days): by category, by reason, by SKU, and the share
    of "other"."""

    permission_classes = [permissions.IsAuthenticated, MethodPermission]
    required = {"GET": "returns.view_returnrequest"}

    @extend_schema(parameters=[AnalyticsIn], responses={200: dict, 400: ERROR})
    def get(self, request):
        period = AnalyticsIn(data=request.query_params)
        period.is_valid(raise_exception=True)
        start = timezone.make_aware(datetime.combine(period.validated_data["since"], time.min))
        end = timezone.make_aware(datetime.combine(period.validated_data["until"] + timedelta(days=1), time.min))
        return Response(selectors.reason_analytics(actor=request.user, since=start, until=end))
