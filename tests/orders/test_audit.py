"""Review rules at pending_review: each alone, passing and failing; holds, force-pass, moving on."""
from decimal import Decimal

import pytest
from django.test import TestCase

from apps.orders import services
from apps.orders.audit import check_blacklisted, check_multiple_addresses, check_over_credit_limit
from apps.orders.models import AuditRule, Order, OrderHold
from apps.orders.tasks import audit_waiting_orders
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def rule(code):
    return AuditRule.objects.get(code=code)


def test_the_default_rules_exist_with_their_owners():
    assert dict(AuditRule.objects.values_list("code", "owner_role")) == {
        "blacklisted": "cs_lead", "over_credit_limit": "finance", "multiple_addresses": "cs_lead"}


def test_blacklist_rule_alone():
    clean = OrderFactory(status="pending_review")
    listed = OrderFactory(status="pending_review", customer=CustomerFactory(is_blacklisted=True,
                                                                             blacklist_reason="恶意退货"))
    assert check_blacklisted(clean, rule("blacklisted")) is None
    finding = check_blacklisted(listed, rule("blacklisted"))
    assert finding.hold_type == "blacklisted" and "恶意退货" in finding.reason


def test_credit_rule_counts_open_receivables_plus_this_order():
    dealer = CustomerFactory(kind="b2b", credit_limit=Decimal("100.00"), payment_terms_days=30)
    OrderFactory(customer=dealer, status="delivered")  # 64.70 still owed
    cancelled = OrderFactory(customer=dealer, status="cancelled")  # never counts
    this = OrderFactory(customer=dealer, status="pending_review")  # another 64.70
    finding = check_over_credit_limit(this, rule("over_credit_limit"))
    assert finding.hold_type == "over_credit_limit"
    assert finding.details == {"open_receivables": "129.40", "credit_limit": "100.00"}
    assert cancelled.pk  # present, and ignored above

    Order.objects.exclude(pk=this.pk).update(paid_amount=Decimal("64.70"))
    assert check_over_credit_limit(this, rule("over_credit_limit")) is None


def test_paid_consumer_orders_never_trip_the_credit_rule():
    order = OrderFactory(status="pending_review", paid_amount=Decimal("64.70"))
    assert check_over_credit_limit(order, rule("over_credit_limit")) is None


def test_multiple_addresses_rule():
    buyer = CustomerFactory()
    first = OrderFactory(customer=buyer, status="ready", external_id="dy_1111111111")
    same = OrderFactory(customer=buyer, status="pending_review")
    assert check_multiple_addresses(same, rule("multiple_addresses")) is None
    other = OrderFactory(customer=buyer, status="pending_review", address_detail="另一个地址 8 号")
    finding = check_multiple_addresses(other, rule("multiple_addresses"))
    assert finding.details["orders"] == sorted([first.external_id, same.external_id])


def test_a_clean_order_moves_on_to_ready_by_itself():
    order = OrderFactory(status="pending_review")
    result = services.order_audit(order_id=order.pk)
    assert result.passed and Order.objects.get(pk=order.pk).status == "ready"
    assert order.events.get().payload["reason"]


def test_failing_rules_open_owned_holds_and_a_second_audit_adds_nothing():
    order = OrderFactory(status="pending_review", customer=CustomerFactory(
        is_blacklisted=True, credit_limit=Decimal("10.00")))
    result = services.order_audit(order_id=order.pk)
    assert not result.passed
    assert dict(OrderHold.objects.values_list("type", "owner_role")) == {
        "blacklisted": "cs_lead", "over_credit_limit": "finance"}
    assert services.order_audit(order_id=order.pk).holds_opened == []
    assert OrderHold.objects.count() == 2 and Order.objects.get(pk=order.pk).status == "pending_review"


def test_a_switched_off_rule_does_not_run():
    AuditRule.objects.filter(code="blacklisted").update(is_active=False)
    order = OrderFactory(status="pending_review", customer=CustomerFactory(is_blacklisted=True))
    assert services.order_audit(order_id=order.pk).passed


def test_force_pass_is_an_intervention_and_the_order_then_moves_on():
    order = OrderFactory(status="pending_review", customer=CustomerFactory(is_blacklisted=True))
    services.order_audit(order_id=order.pk)
    hold = OrderHold.objects.get()
    services.order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=None, resolution="经理确认放行",
                                is_intervention=True)
    assert order.events.get(type="hold_released").is_intervention
    # The rule still fails, but a person decided: the next review lets the order through.
    assert audit_waiting_orders() == 1
    assert Order.objects.get(pk=order.pk).status == "ready"


def test_audits_only_orders_waiting_for_review():
    order = OrderFactory(status="ready")
    assert not services.order_audit(order_id=order.pk).passed
    assert not order.events.exists()


class PaymentSchedulesTheAudit(TestCase):
    def test_paying_enqueues_an_audit_after_commit(self):
        from django_q.models import OrmQ

        order = OrderFactory()
        with self.captureOnCommitCallbacks(execute=True):
            services.order_pay(order_id=order.pk, actor=None)
        assert OrmQ.objects.count() == 1


def test_customers_without_credit_terms_are_not_credit_checked():
    cod = OrderFactory(status="pending_review", customer=CustomerFactory(credit_limit=Decimal("0"),
                                                                          payment_terms_days=0))
    assert check_over_credit_limit(cod, rule("over_credit_limit")) is None
