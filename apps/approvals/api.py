"""Approval API: the inbox, a request with its context, and the signers' actions."""
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, permissions, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from apps.orders.api import ERROR

from . import selectors, services
from .errors import ApprovalNotFound
from .models import ApprovalDecision, ApprovalRequest

MONEY = {"max_digits": 14, "decimal_places": 2}


class OrderBrief(serializers.Serializer):
    id = serializers.IntegerField()
    external_id = serializers.CharField()
    shop = serializers.CharField(source="shop.code")
    customer = serializers.CharField(source="customer.name")
    status = serializers.CharField()
    grand_total = serializers.DecimalField(**MONEY)
    promised_ship_by = serializers.DateTimeField()


class DecisionOut(serializers.ModelSerializer):
    user = serializers.CharField(source="user.username")
    slot_user = serializers.CharField(source="slot_user.username")

    class Meta:
        model = ApprovalDecision
        fields = ["id", "user", "slot_user", "outcome", "comment", "decided_at"]


class AssignmentOut(serializers.Serializer):
    id = serializers.IntegerField()
    user = serializers.CharField(source="user.username")
    slot_user = serializers.CharField(source="slot_user.username")
    kind = serializers.CharField()
    state = serializers.CharField()
    note = serializers.CharField()
    assigned_at = serializers.DateTimeField()


class StepOut(serializers.Serializer):
    id = serializers.IntegerField()
    position = serializers.IntegerField()
    name = serializers.CharField()
    mode = serializers.CharField()
    state = serializers.CharField()
    due_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()
    escalation_count = serializers.IntegerField()
    assignments = AssignmentOut(many=True)
    decisions = DecisionOut(many=True)


class ApprovalListOut(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.CharField()
    is_automatic = serializers.BooleanField()
    requested_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField()
    order = OrderBrief()
    current_step = serializers.SerializerMethodField()

    def get_current_step(self, obj) -> dict | None:
        steps = getattr(obj, "current_steps", None) or []
        return {"id": steps[0].pk, "name": steps[0].name, "due_at": steps[0].due_at} if steps else None


class CreditOut(serializers.Serializer):
    limit = serializers.DecimalField(**MONEY)
    used = serializers.DecimalField(**MONEY, help_text=_("Open receivables of the customer's other orders"))
    this_order = serializers.DecimalField(**MONEY, help_text=_("The unpaid part of this order"))
    available = serializers.DecimalField(**MONEY)
    score = serializers.IntegerField()
    payment_terms_days = serializers.IntegerField()
    blacklisted = serializers.BooleanField()


class MarginOut(serializers.Serializer):
    revenue = serializers.DecimalField(**MONEY)
    cost = serializers.DecimalField(**MONEY)
    amount = serializers.DecimalField(**MONEY)
    rate = serializers.DecimalField(max_digits=6, decimal_places=1, allow_null=True)
    complete = serializers.BooleanField()


class HistoryOut(serializers.Serializer):
    orders = serializers.IntegerField()
    amount = serializers.DecimalField(**MONEY)
    completed = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    returned = serializers.IntegerField()
    return_rate = serializers.DecimalField(max_digits=5, decimal_places=1, allow_null=True)


class ContextOut(serializers.Serializer):
    triggers = serializers.JSONField()
    credit = CreditOut()
    history = HistoryOut()
    margin = MarginOut(allow_null=True)


class ApprovalDetailOut(ApprovalListOut):
    triggers = serializers.JSONField()
    withdraw_reason = serializers.CharField()
    steps = StepOut(many=True, source="steps.all")
    context = serializers.SerializerMethodField()

    @extend_schema(exclude=True)
    def get_context(self, obj) -> dict:
        return ContextOut(selectors.approval_context(obj)).data

    def get_current_step(self, obj) -> dict | None:
        step = selectors.current_step(obj)
        return {"id": step.pk, "name": step.name, "due_at": step.due_at} if step else None


class DecideIn(serializers.Serializer):
    outcome = serializers.ChoiceField(choices=ApprovalDecision.Outcome.choices)
    comment = serializers.CharField(max_length=2000)
    step_id = serializers.IntegerField(required=False,
                                       help_text=_("The step you are answering; refused if it was decided meanwhile."))


class HandOverIn(serializers.Serializer):
    to_user = serializers.IntegerField(help_text=_("User id of the new signer"))
    comment = serializers.CharField(max_length=500)


class AddSignerIn(serializers.Serializer):
    user = serializers.IntegerField(help_text=_("User id of the signer to add"))
    comment = serializers.CharField(max_length=500)


class WithdrawIn(serializers.Serializer):
    reason = serializers.CharField(max_length=500)


class InboxPagination(PageNumberPagination):
    page_size = 50


class ApprovalViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The approval inbox. `tab=mine` (default) lists what waits for your signature, `pending` every
    open request you can see, `decided` the closed ones."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = ApprovalListOut
    pagination_class = InboxPagination
    queryset = ApprovalRequest.objects.none()

    def get_queryset(self):
        tab = self.request.query_params.get("tab", "mine")
        return selectors.approval_inbox(user=self.request.user, tab=tab if tab in selectors.INBOX_TABS else "mine")

    @extend_schema(parameters=[OpenApiParameter("tab", str, enum=list(selectors.INBOX_TABS))])
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _detail(self, request_id):
        approval = selectors.approval_detail(user=self.request.user, request_id=request_id)
        return Response(ApprovalDetailOut(approval).data)

    @extend_schema(responses={200: ApprovalDetailOut, 404: ERROR})
    def retrieve(self, request, pk=None):
        return self._detail(_int_or_404(pk))

    def _act(self, pk, payload_class, act):
        request_id = _int_or_404(pk)
        # Out of scope is 404 before anything else: a refusal about the request's steps would tell a
        # stranger it exists.
        selectors.ensure_in_scope(user=self.request.user, request_id=request_id)
        payload = payload_class(data=self.request.data)
        payload.is_valid(raise_exception=True)
        act(request_id, payload.validated_data)
        return self._detail(request_id)

    @extend_schema(request=DecideIn, responses={200: ApprovalDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        return self._act(pk, DecideIn, lambda rid, data: services.approval_decide(
            request_id=rid, actor=request.user, **data))

    @extend_schema(request=HandOverIn, responses={200: ApprovalDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def delegate(self, request, pk=None):
        return self._act(pk, HandOverIn, lambda rid, data: services.approval_delegate(
            request_id=rid, actor=request.user, to_user_id=data["to_user"], comment=data["comment"]))

    @extend_schema(request=HandOverIn, responses={200: ApprovalDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def transfer(self, request, pk=None):
        return self._act(pk, HandOverIn, lambda rid, data: services.approval_delegate(
            request_id=rid, actor=request.user, to_user_id=data["to_user"], comment=data["comment"], transfer=True))

    @extend_schema(request=AddSignerIn, responses={200: ApprovalDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def signers(self, request, pk=None):
        return self._act(pk, AddSignerIn, lambda rid, data: services.approval_add_signer(
            request_id=rid, actor=request.user, user_id=data["user"], comment=data["comment"]))

    @extend_schema(request=WithdrawIn, responses={200: ApprovalDetailOut, 400: ERROR, 403: ERROR, 404: ERROR, 409: ERROR})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        return self._act(pk, WithdrawIn, lambda rid, data: services.approval_withdraw(
            request_id=rid, actor=request.user, reason=data["reason"]))


def _int_or_404(pk) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise ApprovalNotFound(details={"request_id": pk}) from None
