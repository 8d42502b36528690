"""Review rules at pending_review: each alone, passing and failing; holds, force-pass, moving on."""
from decimal import Decimal

import pytest
from django.db import transaction
from django.test import TestCase

from apps.orders import services
from apps.orders.audit import (
    check_address_unresolved,
    check_blacklisted,
    check_expiry_conflict,
    check_multiple_addresses,
    check_out_of_stock,
    check_over_credit_limit,
    check_price_mismatch,
)
from apps.orders.models import AuditRule, Order, OrderHold
from apps.orders.tasks import audit_new_order, audit_waiting_orders
from tests.factories import CustomerFactory, OrderFactory, SKUFactory, reserve_fully

pytestmark = pytest.mark.django_db


def rule(code):
    return AuditRule.objects.get(code=code)


def reviewable(**kwargs):
    """An order waiting for review with its stock reserved, as a paid intake leaves it."""
    order = OrderFactory(status="pending_review", **kwargs)
    reserve_fully(order)
    return order


def test_the_default_rules_exist_with_their_owners():
    assert dict(AuditRule.objects.values_list("code", "owner_role")) == {
        "blacklisted": "cs_lead", "over_credit_limit": "finance", "multiple_addresses": "cs_lead",
        "out_of_stock": "cs_lead", "expiry_conflict": "warehouse_lead", "price_mismatch": "cs_lead",
        "address_unresolved": "cs_agent"}


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
    order = reviewable()
    result = services.order_audit(order_id=order.pk)
    assert result.passed and Order.objects.get(pk=order.pk).status == "ready"
    assert order.events.get(type="transition").payload["reason"]


def test_failing_rules_open_owned_holds_and_a_second_audit_adds_nothing():
    order = reviewable(customer=CustomerFactory(is_blacklisted=True, credit_limit=Decimal("10.00")))
    result = services.order_audit(order_id=order.pk)
    assert not result.passed
    assert dict(OrderHold.objects.values_list("type", "owner_role")) == {
        "blacklisted": "cs_lead", "over_credit_limit": "finance"}
    assert services.order_audit(order_id=order.pk).holds_opened == []
    assert OrderHold.objects.count() == 2 and Order.objects.get(pk=order.pk).status == "pending_review"


def test_a_switched_off_rule_does_not_run():
    AuditRule.objects.filter(code="blacklisted").update(is_active=False)
    order = reviewable(customer=CustomerFactory(is_blacklisted=True))
    assert services.order_audit(order_id=order.pk).passed


def test_force_pass_is_an_intervention_and_the_order_then_moves_on():
    order = reviewable(customer=CustomerFactory(is_blacklisted=True))
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
    """The audit job is a queue row written in the payment's own transaction (apps.core.queue)."""

    def test_paying_enqueues_an_audit_in_the_same_transaction(self):
        from django_q.models import OrmQ
        from django_q.signing import SignedPackage

        order = OrderFactory()
        with transaction.atomic():
            services.order_pay(order_id=order.pk, actor=None)
            [job] = OrmQ.objects.all()  # there before the commit, no on_commit callback needed
        task = SignedPackage.loads(job.payload)
        assert (task["func"], task["args"]) == ("apps.orders.tasks.audit_order", (order.pk,))

    def test_a_rolled_back_payment_leaves_no_audit_job(self):
        from django_q.models import OrmQ

        order = OrderFactory()
        with pytest.raises(RuntimeError), transaction.atomic():
            services.order_pay(order_id=order.pk, actor=None)
            raise RuntimeError("the payment's transaction fails after the job was written")
        assert not OrmQ.objects.exists()
        order.refresh_from_db()
        assert order.status == "pending_payment"


def test_a_paid_intake_writes_its_review_job_with_the_order_naming_it_by_shop_and_number(token_client):
    from django_q.models import OrmQ
    from django_q.signing import SignedPackage

    from tests.factories import ShopFactory, stock_up
    from tests.orders.test_intake_api import payload

    shop = ShopFactory(platform="douyin")
    stock_up(shop.default_warehouse, SKUFactory(code="CAT-FOOD-2KG"), SKUFactory(code="CAT-LITTER"))
    client = token_client(shop)
    assert client.post("/api/v1/orders/", payload(external_id="dy_0000000031"), format="json").status_code == 201
    assert not OrmQ.objects.exists()  # unpaid: nothing to review yet
    response = client.post("/api/v1/orders/", payload(external_id="dy_0000000032",
                                                     paid_at="2026-11-20T09:16:00+08:00"), format="json")
    assert response.status_code == 201
    [job] = OrmQ.objects.all()
    task = SignedPackage.loads(job.payload)
    assert (task["func"], task["args"]) == ("apps.orders.tasks.audit_new_order", (shop.pk, "dy_0000000032"))


def test_the_new_order_job_reviews_the_order_it_names_and_nothing_else():
    order = reviewable()
    other = reviewable()
    assert audit_new_order(order.shop_id, order.external_id) is True
    assert (Order.objects.get(pk=order.pk).status, Order.objects.get(pk=other.pk).status) == (
        "ready", "pending_review")
    assert audit_new_order(order.shop_id, "dy_no_such_order") is False


def test_customers_without_credit_terms_are_not_credit_checked():
    cod = OrderFactory(status="pending_review", customer=CustomerFactory(credit_limit=Decimal("0"),
                                                                          payment_terms_days=0))
    assert check_over_credit_limit(cod, rule("over_credit_limit")) is None


# Stock rules: review tries again to reserve what intake could not; what is still missing stops it.

def test_out_of_stock_rule_reserves_late_stock_or_names_the_gap():
    from apps.inventory.models import Reservation
    from tests.factories import stock_up

    order = OrderFactory(status="pending_review")  # 3 units wanted, nothing in the warehouse
    line = order.lines.get()
    finding = check_out_of_stock(order, rule("out_of_stock"))
    assert finding.hold_type == "out_of_stock"
    assert finding.details["lines"] == [{"line_no": 1, "sku": line.sku.code, "requested": 3, "reserved": 0,
                                         "short": 3, "blocked_by_expiry": 0}]
    stock_up(order.warehouse, line.sku, quantity=2)
    finding = check_out_of_stock(order, rule("out_of_stock"))
    assert finding.details["lines"][0]["short"] == 1  # two taken now, one still missing
    stock_up(order.warehouse, line.sku, quantity=5)
    assert check_out_of_stock(order, rule("out_of_stock")) is None
    assert sum(Reservation.objects.filter(order_line=line).values_list("quantity", flat=True)) == 3
    assert check_expiry_conflict(order, rule("expiry_conflict")) is None


def test_expiry_conflict_rule_when_only_too_short_lived_batches_are_left():
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import stock_up

    order = OrderFactory(status="pending_review")
    sku = order.lines.get().sku
    sku.min_remaining_shelf_life_days = 180
    sku.batch_tracked = True
    sku.save()
    today = timezone.localdate()
    stock_up(order.warehouse, sku, quantity=10, lot="L-SHORT", manufactured_on=today - timedelta(days=300),
             expires_on=today + timedelta(days=30))
    assert check_out_of_stock(order, rule("out_of_stock")) is None  # the units exist...
    finding = check_expiry_conflict(order, rule("expiry_conflict"))  # ...but expire too soon
    assert finding.hold_type == "expiry_conflict" and finding.details["lines"][0]["blocked_by_expiry"] == 10


def test_review_runs_one_reservation_pass_for_both_stock_rules(monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from apps.inventory import services as stock
    from tests.factories import stock_up

    order = OrderFactory(status="pending_review")  # 3 units wanted
    sku = order.lines.get().sku
    sku.min_remaining_shelf_life_days = 180
    sku.batch_tracked = True
    sku.save()
    today = timezone.localdate()
    stock_up(order.warehouse, sku, quantity=1, lot="L-LONG", manufactured_on=today - timedelta(days=10),
             expires_on=today + timedelta(days=400))
    stock_up(order.warehouse, sku, quantity=5, lot="L-SHORT", manufactured_on=today - timedelta(days=300),
             expires_on=today + timedelta(days=30))
    passes = []
    real = stock.reserve_for_order
    monkeypatch.setattr(stock, "reserve_for_order", lambda *a, **kw: passes.append(1) or real(*a, **kw))

    result = services.order_audit(order_id=order.pk)

    assert len(passes) == 1
    assert not result.passed
    # Two units short, and five blocked by expiry: the gap is the expiry conflict's, named once.
    assert list(OrderHold.objects.filter(order=order, released_at__isnull=True).values_list("type", flat=True)) == [
        "expiry_conflict"]
    assert sum(order.lines.get().reservations.values_list("quantity", flat=True)) == 1  # the long-lived lot


def test_price_rule_flags_lines_beyond_the_tolerance_either_way():
    order = OrderFactory(status="pending_review")  # 3 × 19.90 = 59.70
    sku = order.lines.get().sku
    price_rule = rule("price_mismatch")
    assert check_price_mismatch(order, price_rule) is None  # no list price: not judged
    sku.list_price = Decimal("21.00")  # 19.90 is 5.2 % under
    sku.save()
    assert check_price_mismatch(order, price_rule) is None
    sku.list_price = Decimal("25.00")  # 20.4 % under
    sku.save()
    finding = check_price_mismatch(order, price_rule)
    assert finding.hold_type == "price_mismatch"
    assert finding.details["lines"] == [{"line_no": 1, "sku": sku.code, "unit_price": "19.90",
                                         "list_price": "25.00", "deviation_percent": "20.4"}]
    price_rule.parameters = {"tolerance_percent": 25}
    assert check_price_mismatch(order, price_rule) is None
    sku.list_price = Decimal("15.00")  # 32.7 % over
    sku.save()
    assert check_price_mismatch(order, price_rule).details["lines"][0]["deviation_percent"] == "32.7"


def test_price_rule_compares_the_price_after_the_line_discount():
    order = OrderFactory(status="pending_review")
    line = order.lines.get()
    line.sku.list_price = Decimal("19.90")
    line.sku.save()
    order.lines.update(discount=Decimal("29.70"), line_total=Decimal("30.00"))  # 10.00 a unit
    assert check_price_mismatch(order, rule("price_mismatch")).details["lines"][0]["unit_price"] == "10.00"


def test_address_rule_resolves_the_address_and_fills_the_region_code():
    order = reviewable(province="浙江", city="杭州", district="西湖区")
    assert services.order_audit(order_id=order.pk).passed
    order.refresh_from_db()
    assert (order.province, order.city, order.district, order.region_code) == ("浙江省", "杭州市", "西湖区", "330106")


def test_an_unresolvable_address_opens_an_address_hold():
    order = reviewable(province="浙江省", city="广州市", district="天河区")  # city not in that province
    result = services.order_audit(order_id=order.pk)
    assert not result.passed
    hold = OrderHold.objects.get(order=order)
    assert (hold.type, hold.owner_role) == ("address_unresolved", "cs_agent")
    assert check_address_unresolved(order, rule("address_unresolved")).hold_type == "address_unresolved"
