"""Approvals: the seed's policies as data, countersign, escalation, delegation, self-approval, errors."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone, translation
from guardian.shortcuts import assign_perm

from apps.approvals import services
from apps.approvals.errors import (
    AlreadySigner,
    ApprovalNotPending,
    CommentRequired,
    IneligibleSigner,
    NotAnApprover,
    SelfApproval,
    StepAlreadyDecided,
)
from apps.approvals.examples import install_example_policies
from apps.approvals.models import ApprovalDecision, ApprovalPolicy, ApprovalRequest, ApprovalStep
from apps.approvals.tasks import escalate_overdue_approvals
from apps.orders import services as order_services
from apps.orders.errors import TransitionForbidden
from apps.orders.models import Order
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, make_user, reserve_fully

pytestmark = pytest.mark.django_db


class Team:
    """One shop, its two regional managers, their director, a production signer and a sales agent."""

    def __init__(self):
        self.shop = ShopFactory(code="b2b-test", platform="b2b")
        self.other_shop = ShopFactory(code="other-shop")
        production = Group.objects.create(name="production")
        production.permissions.add(*Permission.objects.filter(
            content_type__app_label="orders", codename__in=["approve_order", "view_order"]))
        self.director = make_user("manager", username="director")
        self.wang = self._manager("wang")
        self.li = self._manager("li")
        self.outsider = make_user("manager", username="outsider")
        assign_perm("orders.approve_for_shop", self.outsider, self.other_shop)
        self.producer = make_user(username="producer")
        self.producer.groups.add(production)
        self.sales = make_user("cs_agent", username="sales", shops=[self.shop])
        self.policies = install_example_policies(manager_group=Group.objects.get(name="manager"),
                                                 production_group=production, countersigners=[self.wang, self.li])
        # Reload so permission caches see the groups.
        from apps.accounts.models import User
        for name in ("director", "wang", "li", "outsider", "producer", "sales"):
            setattr(self, name, User.objects.get(username=name))

    def _manager(self, username):
        user = make_user("manager", username=username)
        user.manager = self.director
        user.save()
        assign_perm("orders.approve_for_shop", user, self.shop)
        return user

    def order(self, amount, *, score=60, made_to_order=False, created_by=None):
        goods = Decimal(amount)
        order = OrderFactory(status="pending_review", shop=self.shop, customer=CustomerFactory(credit_score=score),
                             goods_total=goods, shipping_fee=Decimal("0"), grand_total=goods, created_by=created_by)
        reserve_fully(order)
        if made_to_order:
            sku = order.lines.get().sku
            sku.is_made_to_order = True
            sku.save()
        order_services.order_audit(order_id=order.pk)
        order.refresh_from_db()
        return order


@pytest.fixture
def team():
    return Team()


def request_of(order) -> ApprovalRequest:
    return ApprovalRequest.objects.get(order=order)


def decide(order, user, outcome="approve", comment="同意"):
    return services.approval_decide(request_id=request_of(order).pk, actor=user, outcome=outcome, comment=comment)


def signers(step):
    return sorted(step.assignments.filter(state="pending").values_list("user__username", flat=True))


# --- the seed's policies as data -----------------------------------------------------------------

def test_small_orders_need_no_approval(team):
    order = team.order("4999.99")
    assert order.status == "ready"
    assert not ApprovalRequest.objects.exists()


def test_amount_above_5000_goes_to_the_shops_regional_managers(team):
    order = team.order("8000.00")
    assert order.status == "pending_approval"
    request = request_of(order)
    (step,) = request.steps.all()
    assert (step.name, step.mode, step.state) == ("区域经理审批", "any", "pending")
    # Managers who approve for this shop; not the outsider (other shop) nor the director (no scope).
    assert signers(step) == ["li", "wang"]
    assert request.triggers[0]["policy"] == "大额订单：区域经理审批"
    assert {"code": "amount_above", "value": "8000.00", "limit": "5000.00"} in request.triggers[0]["reasons"]
    decide(order, team.wang)
    order.refresh_from_db()
    assert order.status == "ready"
    assert request_of(order).state == "approved"
    assert order.events.filter(name="approve", actor=team.wang).exists()


def test_trusted_customer_is_approved_automatically(team):
    order = team.order("30000.00", score=92)
    assert order.status == "ready"
    request = request_of(order)
    assert request.is_automatic and request.state == "approved" and not request.steps.exists()
    assert request.triggers[0]["outcome"] == "auto_approve"
    assert order.events.filter(name="approval_auto_approved").exists()


def test_made_to_order_adds_a_production_signature_before_the_manager(team):
    order = team.order("8000.00", made_to_order=True)
    steps = list(request_of(order).steps.order_by("position"))
    assert [(s.name, s.state) for s in steps] == [("生产确认", "pending"), ("区域经理审批", "waiting")]
    assert signers(steps[0]) == ["producer"]
    decide(order, team.producer)
    steps[1].refresh_from_db()
    assert steps[1].state == "pending" and steps[1].due_at is not None
    order.refresh_from_db()
    assert order.status == "pending_approval"
    decide(order, team.li)
    order.refresh_from_db()
    assert order.status == "ready"


def test_made_to_order_for_a_trusted_customer_still_needs_production(team):
    order = team.order("8000.00", score=95, made_to_order=True)
    assert order.status == "pending_approval"
    assert [s.name for s in request_of(order).steps.all()] == ["生产确认"]


def test_very_large_orders_need_both_countersigners(team):
    order = team.order("80000.00", score=95)
    (step,) = request_of(order).steps.all()
    assert (step.name, step.mode) == ("双经理会签", "all")
    decide(order, team.wang, comment="额度内，同意")
    order.refresh_from_db()
    assert order.status == "pending_approval"  # one signature of two
    with pytest.raises(NotAnApprover):
        decide(order, team.wang)  # the same slot cannot sign twice
    decide(order, team.li)
    order.refresh_from_db()
    assert order.status == "ready"
    assert ApprovalDecision.objects.filter(step=step, outcome="approve").count() == 2


def test_one_rejection_in_a_countersign_cancels_the_order_and_releases_stock(team):
    from apps.inventory.models import Reservation

    order = team.order("80000.00")
    decide(order, team.wang)
    decide(order, team.li, outcome="reject", comment="客户信用存疑")
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert request_of(order).state == "rejected"
    assert not Reservation.objects.filter(order_line__order=order, state="active").exists()
    assert order.events.get(name="reject").payload["reason"] == "客户信用存疑"


def test_shop_and_discount_conditions(team):
    ApprovalPolicy.objects.all().delete()
    policy = ApprovalPolicy.objects.create(name="deep discount", discount_rate_at_least=Decimal("0.2000"))
    policy.shops.add(team.shop)
    order = OrderFactory(shop=team.shop, status="pending_review")
    lines = list(order.lines.select_related("sku"))
    assert services.policy_reasons(policy, order, lines, {team.shop.pk}) is None  # no discount
    order.lines.update(discount=Decimal("14.00"), line_total=Decimal("45.70"))  # 14 of 59.70 = 23.5 %
    lines = list(order.lines.select_related("sku"))
    reasons = services.policy_reasons(policy, order, lines, {team.shop.pk})
    assert reasons == [{"code": "discount_rate_at_least", "value": "23.45", "limit": "20.00"},
                       {"code": "shop", "value": "b2b-test"}]
    with translation.override("en"):
        assert [services.reason_text(r) for r in reasons] == ["discount 23.45% at least 20.00%", "shop b2b-test"]
    with translation.override("zh-hans"):
        assert services.reason_text(reasons[0]) == "折扣率 23.45% 不低于 20.00%"
    assert services.policy_reasons(policy, order, lines, {team.other_shop.pk}) is None


# --- who may sign ---------------------------------------------------------------------------------

def test_nobody_approves_their_own_order(team):
    order = team.order("8000.00", created_by=team.wang)
    assert signers(request_of(order).steps.get()) == ["li"]  # wang was left out when the step opened
    with pytest.raises(SelfApproval):
        decide(order, team.wang)
    with pytest.raises(IneligibleSigner):
        services.approval_delegate(request_id=request_of(order).pk, actor=team.li, to_user_id=team.wang.pk,
                                   comment="你来批")
    assert request_of(order).state == "pending" and not ApprovalDecision.objects.exists()


def test_a_non_signer_or_an_outsider_cannot_decide(team):
    order = team.order("8000.00")
    for stranger in (team.outsider, team.director, team.sales):
        with pytest.raises(NotAnApprover):
            decide(order, stranger)
    assert not ApprovalDecision.objects.exists() and request_of(order).state == "pending"


def test_deciding_a_decided_step_is_refused_and_changes_nothing(team):
    order = team.order("8000.00")
    step = request_of(order).steps.get()
    decide(order, team.wang)
    with pytest.raises(ApprovalNotPending):
        decide(order, team.li)
    with pytest.raises(StepAlreadyDecided):
        other = team.order("80000.00")
        services.approval_decide(request_id=request_of(other).pk, actor=team.wang, outcome="approve",
                                 comment="ok", step_id=step.pk)
    assert ApprovalDecision.objects.count() == 1


def test_a_decision_needs_a_comment_and_cannot_be_changed(team):
    order = team.order("8000.00")
    with pytest.raises(CommentRequired):
        decide(order, team.wang, comment="  ")
    decide(order, team.wang, comment="同意")
    decision = ApprovalDecision.objects.get()
    assert decision.decided_at is not None and decision.comment == "同意"
    decision.comment = "改过的"
    with pytest.raises(ValidationError):
        decision.save()
    assert ApprovalDecision.objects.get().comment == "同意"


# --- delegation, transfer, added signers, withdrawal ----------------------------------------------

def test_delegation_lets_someone_answer_in_the_slot(team):
    order = team.order("80000.00")
    deputy = make_user("manager", username="deputy")
    assign_perm("orders.approve_for_shop", deputy, team.shop)
    services.approval_delegate(request_id=request_of(order).pk, actor=team.wang, to_user_id=deputy.pk,
                               comment="出差，请代签")
    step = request_of(order).steps.get()
    assert signers(step) == ["deputy", "li", "wang"]
    decide(order, deputy, comment="代王经理同意")
    assert signers(step) == ["li"]  # wang's slot is answered; li still has to sign
    assert ApprovalDecision.objects.get().slot_user == team.wang
    decide(order, team.li)
    order.refresh_from_db()
    assert order.status == "ready"


def test_transfer_hands_the_slot_over(team):
    order = team.order("8000.00")
    deputy = make_user("manager", username="deputy")
    assign_perm("orders.approve_for_shop", deputy, team.shop)
    services.approval_delegate(request_id=request_of(order).pk, actor=team.wang, to_user_id=deputy.pk,
                               comment="转交", transfer=True)
    assert signers(request_of(order).steps.get()) == ["deputy", "li"]
    with pytest.raises(NotAnApprover):
        decide(order, team.wang)
    with pytest.raises(IneligibleSigner):  # no right to approve for this shop
        services.approval_delegate(request_id=request_of(order).pk, actor=team.li, to_user_id=team.outsider.pk,
                                   comment="转交")
    with pytest.raises(AlreadySigner):
        services.approval_delegate(request_id=request_of(order).pk, actor=team.li, to_user_id=deputy.pk,
                                   comment="转交")


def test_an_added_signer_must_also_sign_a_countersign(team):
    order = team.order("80000.00")
    extra = make_user("manager", username="finance-head")
    assign_perm("orders.approve_for_shop", extra, team.shop)
    services.approval_add_signer(request_id=request_of(order).pk, actor=team.wang, user_id=extra.pk,
                                 comment="金额大，请财务一起签")
    decide(order, team.wang)
    decide(order, team.li)
    order.refresh_from_db()
    assert order.status == "pending_approval"
    decide(order, extra)
    order.refresh_from_db()
    assert order.status == "ready"


def test_withdrawing_cancels_the_order_and_closes_the_request(team):
    order = team.order("8000.00", created_by=team.sales)
    services.approval_withdraw(request_id=request_of(order).pk, actor=team.sales, reason="客户改单")
    order.refresh_from_db()
    request = request_of(order)
    assert order.status == "cancelled"
    assert (request.state, request.withdrawn_by, request.withdraw_reason) == ("withdrawn", team.sales, "客户改单")
    assert request.steps.get().state == "closed"
    with pytest.raises(ApprovalNotPending):
        decide(order, team.wang)


def test_withdrawal_needs_the_right_to_cancel(team):
    order = team.order("8000.00")
    with pytest.raises(TransitionForbidden):
        services.approval_withdraw(request_id=request_of(order).pk, actor=team.producer, reason="no")
    assert request_of(order).state == "pending"


def test_cancelling_the_order_elsewhere_closes_its_request(team):
    order = team.order("8000.00")
    order_services.order_transition(order_id=order.pk, name="cancel", actor=team.sales, reason="买家取消")
    assert request_of(order).state == "withdrawn"


# --- escalation -------------------------------------------------------------------------------------

def move_time(hours):
    """Pretend `hours` have passed: push every due time back by that much."""
    for step in ApprovalStep.objects.filter(state="pending"):
        step.due_at -= timedelta(hours=hours)
        step.save(update_fields=["due_at"])


def test_an_unanswered_step_escalates_to_the_signers_manager_once(team):
    order = team.order("8000.00")
    step = request_of(order).steps.get()
    assert escalate_overdue_approvals() == 0  # not due yet
    move_time(25)
    assert escalate_overdue_approvals() == 1
    assert escalate_overdue_approvals() == 0  # idempotent: the due time moved on
    step.refresh_from_db()
    assert step.escalation_count == 1 and step.due_at > timezone.now()
    assert signers(step) == ["director", "li", "wang"]
    assert order.events.filter(name="approval_escalated").count() == 1
    decide(order, team.director, comment="逾期，总监批准")
    order.refresh_from_db()
    assert order.status == "ready"


def test_escalation_to_the_next_level(team):
    order = team.order("8000.00", made_to_order=True)
    first = request_of(order).steps.get(position=1)
    first.escalation = "next_level"
    first.save()
    move_time(25)
    assert escalate_overdue_approvals() == 1
    steps = list(request_of(order).steps.order_by("position"))
    assert [s.state for s in steps] == ["escalated", "pending"]
    decide(order, team.wang)
    order.refresh_from_db()
    assert order.status == "ready"


# --- database guarantees ----------------------------------------------------------------------------

def test_one_pending_request_per_order(team):
    order = team.order("8000.00")
    with pytest.raises(IntegrityError), transaction.atomic():
        ApprovalRequest.objects.create(order=order, requested_at=timezone.now())


@pytest.mark.postgres
def test_postgres_refuses_to_rewrite_a_decision(team):
    order = team.order("8000.00")
    decide(order, team.wang)
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE approvals_approvaldecision SET comment = 'rewritten'")
    assert ApprovalDecision.objects.get().comment == "同意"


def test_orders_still_on_hold_do_not_reach_approval(team):
    order = OrderFactory(status="pending_review", shop=team.shop, customer=CustomerFactory(is_blacklisted=True),
                         goods_total=Decimal("9000.00"), shipping_fee=Decimal("0"), grand_total=Decimal("9000.00"))
    reserve_fully(order)
    order_services.order_audit(order_id=order.pk)
    assert Order.objects.get(pk=order.pk).status == "pending_review"
    assert not ApprovalRequest.objects.exists()
