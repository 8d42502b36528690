"""`manage.py seed_demo`: a small but complete demo, checked against the model's own rules."""
import re
from collections import Counter, defaultdict
from datetime import datetime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts import roles
from apps.catalog.models import SKU
from apps.core import demo
from apps.core.phones import normalise_phone, phone_tail
from apps.customers.models import Address, Customer
from apps.inventory.models import Warehouse
from apps.orders.models import (
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    Shop,
    ShopApiToken,
    hash_token,
)
from apps.orders.services import HOLD_BLOCKED_TRANSITIONS

ANCHOR = datetime(2026, 11, 22, tzinfo=ZoneInfo("Asia/Shanghai"))
ARGS = ["--orders", "400", "--customers", "60", "--skus", "40", "--seed", "7", "--anchor", "2026-11-22"]
ROLES = [roles.CS_AGENT, roles.CS_LEAD, roles.WAREHOUSE_CLERK, roles.WAREHOUSE_LEAD, roles.FINANCE,
         roles.MANAGER, roles.ADMIN]


def seed(*extra) -> str:
    out = StringIO()
    call_command("seed_demo", *ARGS, *extra, stdout=out)
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed()


def model_graph():
    """(name, source) -> target, or the allowed targets of a RETURN_VALUE transition."""
    graph = {}
    for t in Order._meta.get_field("status").get_all_transitions(Order):
        allowed = getattr(t.target, "allowed_states", None)
        graph[(t.name, str(t.source))] = set(map(str, allowed)) if allowed is not None else str(t.target)
    return graph


def snapshot():
    orders = list(
        Order.objects.order_by("shop__code", "external_id").values_list(
            "shop__code", "external_id", "status", "payment_status", "goods_total", "grand_total",
            "paid_amount", "placed_at", "status_changed_at", "receiver_phone", "customer__code",
        )
    )
    events = list(
        OrderEvent.objects.order_by("order__shop__code", "order__external_id", "created_at", "id").values_list(
            "order__external_id", "type", "name", "from_status", "to_status", "actor_label", "created_at",
            "is_intervention",
        )
    )
    lines = list(OrderLine.objects.order_by("order__external_id", "line_no").values_list(
        "order__external_id", "line_no", "sku__code", "quantity", "unit_price", "discount", "line_total"))
    return orders, events, lines


def table_counts():
    return {
        model.__name__: model.objects.count()
        for model in (Order, OrderLine, OrderEvent, OrderHold, Customer, Address, SKU, Shop, Warehouse,
                      ShopApiToken, get_user_model())
    }


@pytest.mark.django_db
def test_every_status_is_present_and_every_history_is_a_valid_walk(seeded):
    orders = {o.pk: o for o in Order.objects.all()}
    assert len(orders) == 400
    assert Counter(o.status for o in orders.values()).keys() == set(OrderStatus.values)
    by_status = Counter(o.status for o in orders.values())
    assert by_status[OrderStatus.COMPLETED] > by_status[OrderStatus.INTERCEPTED]
    assert by_status[OrderStatus.DELIVERED] > by_status[OrderStatus.REFUSED]

    graph = model_graph()
    events = defaultdict(list)
    for event in OrderEvent.objects.order_by("order_id", "created_at", "id"):
        events[event.order_id].append(event)
    holds = defaultdict(list)
    for hold in OrderHold.objects.all():
        holds[hold.order_id].append(hold)

    for pk, order in orders.items():
        history = events[pk]
        created, transitions = history[0], [e for e in history if e.type == OrderEvent.Type.TRANSITION]
        assert created.type == OrderEvent.Type.CREATED
        assert created.to_status == OrderStatus.PENDING_PAYMENT
        assert created.created_at == order.placed_at
        assert [e.type for e in history].count(OrderEvent.Type.CREATED) == 1
        times = [e.created_at for e in history]
        assert times == sorted(times) and len(set(times)) == len(times), order.external_id
        assert times[-1] < ANCHOR

        status, before_intercept = OrderStatus.PENDING_PAYMENT, ""
        for event in transitions:
            assert event.from_status == status, (order.external_id, event.name)
            target = graph.get((event.name, status))
            assert target is not None, f"{event.name} is not allowed from {status}"
            if isinstance(target, set):
                assert event.to_status == before_intercept and event.to_status in target
            else:
                assert event.to_status == target
            if event.name == "request_intercept":
                before_intercept = status
            status = event.to_status
            assert (event.actor_id is not None) == (event.actor_label in ROLES)
            assert event.actor_label in ROLES or event.actor_label == "system" or re.fullmatch(
                rf"token:{re.escape(order.shop.code)}:demo", event.actor_label)
        assert status == order.status
        assert order.status_changed_at == (transitions[-1].created_at if transitions else order.placed_at)
        assert order.status_before_intercept == before_intercept

        # Holds: an event for each opening and release, and no blocked move while one is open.
        for hold in holds[pk]:
            opened = [e for e in history if e.type == OrderEvent.Type.HOLD_OPENED and e.payload["hold_id"] == hold.pk]
            assert len(opened) == 1 and opened[0].created_at == hold.opened_at and opened[0].name == hold.type
            assert hold.owner_role in ROLES and hold.reason
            released = [e for e in history
                        if e.type == OrderEvent.Type.HOLD_RELEASED and e.payload["hold_id"] == hold.pk]
            if hold.released_at is None:
                assert not released
                assert order.status in (OrderStatus.PENDING_REVIEW, OrderStatus.READY)
            else:
                assert len(released) == 1 and released[0].created_at == hold.released_at
                assert hold.resolution and hold.released_by_id
            end = hold.released_at or ANCHOR
            assert not [e for e in transitions
                        if hold.opened_at < e.created_at < end and e.name in HOLD_BLOCKED_TRANSITIONS]
        open_types = [h.type for h in holds[pk] if h.released_at is None]
        assert len(open_types) == len(set(open_types))

    all_events = [e for history in events.values() for e in history]
    assert any(e.is_intervention and e.type == OrderEvent.Type.TRANSITION for e in all_events)
    assert any(e.type == OrderEvent.Type.HOLD_RELEASED for e in all_events)
    assert OrderHold.objects.filter(released_at__isnull=True).exists()


@pytest.mark.django_db
def test_money_adds_up_and_payment_matches_the_history(seeded):
    for line in OrderLine.objects.all():
        assert line.line_total == line.quantity * line.unit_price - line.discount
        assert line.line_total >= 0 and line.discount >= 0
    totals = defaultdict(Decimal)
    for order_id, line_total in OrderLine.objects.values_list("order_id", "line_total"):
        totals[order_id] += line_total
    pays = dict(OrderEvent.objects.filter(name="pay").values_list("order_id", "created_at"))

    for order in Order.objects.select_related("shop"):
        for amount in (order.goods_total, order.shipping_fee, order.discount_total, order.grand_total,
                       order.paid_amount):
            assert amount.as_tuple().exponent == -2
        assert order.goods_total == totals[order.pk] > 0
        assert order.grand_total == order.goods_total + order.shipping_fee - order.discount_total
        assert Decimal(0) <= order.paid_amount <= order.grand_total
        assert order.shop.accepts_order_number(order.external_id), order.external_id
        assert order.platform == order.shop.platform
        assert normalise_phone(order.receiver_phone) == order.receiver_phone
        assert order.phone_tail == phone_tail(order.receiver_phone)
        assert order.warehouse_id is not None

        if order.status in (OrderStatus.PENDING_PAYMENT, OrderStatus.EXPIRED) or order.pk not in pays:
            assert order.payment_status == PaymentStatus.UNPAID
            assert order.paid_amount == 0 and order.paid_at is None
        elif order.payment_status == PaymentStatus.DEPOSIT_PAID:
            assert order.status == OrderStatus.PENDING_REVIEW
            assert 0 < order.paid_amount < order.grand_total
        else:
            assert order.payment_status == PaymentStatus.PAID
            assert order.paid_amount == order.grand_total and order.paid_at == pays[order.pk]
    assert Order.objects.filter(payment_status=PaymentStatus.DEPOSIT_PAID).exists()
    assert Order.objects.filter(status=OrderStatus.CANCELLED, payment_status=PaymentStatus.PAID).exists()
    assert Order.objects.filter(status=OrderStatus.CANCELLED, payment_status=PaymentStatus.UNPAID).exists()
    assert Order.objects.values("shop", "external_id").distinct().count() == 400


@pytest.mark.django_db
def test_reference_data(seeded):
    assert set(Warehouse.objects.values_list("code", flat=True)) == {"HZ1", "GZ2"}
    shops = list(Shop.objects.all())
    assert len(shops) == 3 and len({s.platform for s in shops}) == 3
    assert all(s.default_warehouse_id for s in shops)
    assert any(s.code.startswith("dy") and s.platform == "douyin" for s in shops)

    skus = list(SKU.objects.all())
    assert len(skus) == 40
    for sku in skus:
        assert re.fullmatch(r"\d{13}", sku.barcode)
        assert demo.ean_check_digit(sku.barcode[:12]) == sku.barcode[12]
        assert re.fullmatch(r"\d{6,10}", sku.hs_code) and sku.name_zh and sku.name_en and sku.weight_grams > 0
        assert not sku.shelf_life_days or sku.batch_tracked
    assert any(s.shelf_life_days for s in skus) and any(not s.batch_tracked for s in skus)
    assert len({s.code[:5] for s in skus}) == 5  # every product family is on sale

    customers = list(Customer.objects.prefetch_related("addresses"))
    assert len(customers) == 60
    b2b = [c for c in customers if c.kind == Customer.Kind.B2B]
    assert 3 <= len(b2b) <= 10 and all(c.credit_limit > 0 for c in b2b)
    for customer in customers:
        assert 40 <= customer.credit_score <= 100
        addresses = list(customer.addresses.all())
        assert 1 <= len(addresses) <= 2 and sum(a.is_default for a in addresses) == 1
        for address in addresses:
            assert normalise_phone(address.phone) == address.phone
            assert address.province and address.city and address.district and address.detail
        assert customer.created_at < ANCHOR


@pytest.mark.django_db
def test_users_groups_scopes_and_tokens(seeded):
    User = get_user_model()
    shops = {s.code: s for s in Shop.objects.all()}
    hz1, gz2 = Warehouse.objects.get(code="HZ1"), Warehouse.objects.get(code="GZ2")
    for role in ROLES:
        user = User.objects.get(username=role)
        assert user.groups.filter(name=role).exists()
        assert user.check_password("orderhub-demo")
        assert user.display_name
        assert user.is_staff == (role in {roles.ADMIN, roles.MANAGER, roles.CS_LEAD, roles.WAREHOUSE_LEAD})
        assert user.is_superuser == (role == roles.ADMIN)

    def served(role):
        user = User.objects.get(username=role)
        return {code for code, shop in shops.items() if user.has_perm("orders.serve_shop", shop)}

    assert len(served(roles.CS_AGENT)) == 2
    for role in (roles.CS_LEAD, roles.FINANCE, roles.MANAGER):
        assert served(role) == set(shops)
    clerk, lead = User.objects.get(username=roles.WAREHOUSE_CLERK), User.objects.get(username=roles.WAREHOUSE_LEAD)
    assert clerk.has_perm("inventory.work_warehouse", hz1) and not clerk.has_perm("inventory.work_warehouse", gz2)
    assert lead.has_perm("inventory.work_warehouse", hz1) and lead.has_perm("inventory.work_warehouse", gz2)

    raw_tokens = re.findall(r"oh_[0-9a-f]{8}_\S+", seeded)
    assert len(raw_tokens) == 3
    assert {t.shop.code for t in ShopApiToken.objects.filter(key_hash__in=map(hash_token, raw_tokens))} == set(shops)
    assert "http://127.0.0.1:8000/admin/" in seeded and "/api/docs/" in seeded


@pytest.mark.django_db
def test_same_seed_and_anchor_give_the_same_data(seeded):
    first = snapshot()
    seed("--reset")
    assert snapshot() == first
    assert table_counts()["Order"] == 400


@pytest.mark.django_db
def test_second_run_without_reset_changes_nothing(seeded):
    before, counts = snapshot(), table_counts()
    out = seed()
    assert "already present" in out
    assert "cs_agent" in out and "/admin/" in out
    assert snapshot() == before and table_counts() == counts


@pytest.mark.django_db
def test_reset_keeps_data_that_is_not_the_demo(seeded):
    keeper = Customer.objects.create(code="taobao:real-buyer", name="真实客户")
    real_sku = SKU.objects.create(code="REAL-001", name_zh="真实商品")
    seed("--reset")
    assert Customer.objects.filter(pk=keeper.pk).exists() and SKU.objects.filter(pk=real_sku.pk).exists()
    assert Customer.objects.count() == 61 and SKU.objects.count() == 41


@pytest.mark.django_db
def test_a_different_seed_gives_different_orders(seeded):
    first = snapshot()[0]
    call_command("seed_demo", *ARGS[:-4], "--seed", "8", "--anchor", "2026-11-22", "--reset", stdout=StringIO())
    assert snapshot()[0] != first


def test_the_path_table_refuses_walks_the_model_would_refuse():
    with pytest.raises(demo.InvalidDemoPath):
        demo.walk(("pay", "ship"))
    with pytest.raises(demo.InvalidDemoPath):
        demo.walk(("pay", "pass_review", "intercept_failed"))
    hops = demo.walk(("pay", "pass_review", "start_picking", "finish_picking", "pack", "ship", "transit",
                      "request_intercept", "intercept_failed"))
    assert hops[-1] == ("intercept_failed", "intercepting", "in_transit")
    assert set(demo.PATHS) == set(OrderStatus.values)
