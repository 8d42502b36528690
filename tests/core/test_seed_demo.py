"""`manage.py seed_demo`: a small but complete demo, checked against the model's own rules."""
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from apps.accounts import roles
from apps.approvals import services as approvals
from apps.approvals.errors import SelfApproval
from apps.approvals.examples import EXAMPLE_NAMES
from apps.approvals.models import (
    ApprovalAssignment,
    ApprovalDecision,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStep,
)
from apps.approvals.selectors import approval_inbox, customer_history, order_margin
from apps.catalog.models import SKU
from apps.core import demo
from apps.core.phones import normalise_phone, phone_tail
from apps.customers.models import Address, Customer
from apps.imports.models import ImportJob
from apps.imports.selectors import import_jobs
from apps.imports.services import import_confirm
from apps.inventory.models import Batch, Reservation, StockAlert, StockLevel, StockMove, Warehouse
from apps.inventory.services import RESERVABLE_STATUSES, ledger_matches_levels, stock_receive
from apps.orders import audit
from apps.orders.models import (
    AuditRule,
    HoldType,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    OrderStatus,
    PaymentStatus,
    Shop,
    ShopApiToken,
    ShopWarehouse,
    hash_token,
)
from apps.orders.services import HOLD_BLOCKED_TRANSITIONS

ANCHOR = datetime(2026, 11, 22, tzinfo=ZoneInfo("Asia/Shanghai"))
TODAY = ANCHOR.date()
OPEN = (*RESERVABLE_STATUSES, OrderStatus.PICKING, OrderStatus.PICKED, OrderStatus.PACKED)
STOCK_HOLDS = (HoldType.OUT_OF_STOCK, HoldType.EXPIRY_CONFLICT)
ARGS = ["--orders", "400", "--customers", "60", "--skus", "40", "--seed", "7", "--anchor", "2026-11-22"]
ROLES = [roles.CS_AGENT, roles.CS_LEAD, roles.WAREHOUSE_CLERK, roles.WAREHOUSE_LEAD, roles.FINANCE,
         roles.MANAGER, roles.ADMIN]
USERS = [*ROLES, "manager2", "director", "production"]
REVIEW_HOLDS = (HoldType.ADDRESS_UNRESOLVED, HoldType.BLACKLISTED, HoldType.OVER_CREDIT_LIMIT,
                HoldType.PRICE_MISMATCH, HoldType.MULTIPLE_ADDRESSES)
# Where an order may wait under an open hold of each type.
HOLD_STATUSES = {
    **{kind: tuple(RESERVABLE_STATUSES) for kind in STOCK_HOLDS},  # the reservation also runs before payment
    **{kind: (OrderStatus.PENDING_REVIEW,) for kind in REVIEW_HOLDS},  # only review opens them
    HoldType.CUSTOMS_INCOMPLETE: (OrderStatus.PENDING_REVIEW, OrderStatus.READY),
    HoldType.BUYER_REQUEST: (OrderStatus.PENDING_REVIEW, OrderStatus.READY),
    HoldType.MANUAL: (OrderStatus.PENDING_REVIEW, OrderStatus.READY),
    HoldType.SHORT_PICK: (OrderStatus.READY,),
    HoldType.STALLED_IN_TRANSIT: (OrderStatus.IN_TRANSIT, OrderStatus.OUT_FOR_DELIVERY),
    HoldType.QUARANTINED_STOCK: (OrderStatus.PICKING, OrderStatus.PICKED, OrderStatus.PACKED),
}


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
    return orders, events, lines, stock_snapshot(), approvals_snapshot()


def approvals_snapshot():
    """Requests, steps, signers and decisions, by order number (pks differ after a reset)."""
    request = "order__external_id"
    return {
        "requests": sorted(ApprovalRequest.objects.values_list(
            request, "state", "is_automatic", "requested_at", "completed_at"), key=repr),
        "steps": sorted(ApprovalStep.objects.values_list(
            f"request__{request}", "position", "name", "mode", "state", "activated_at", "due_at", "completed_at",
            "escalation_count"), key=repr),
        "assignments": sorted(ApprovalAssignment.objects.values_list(
            f"step__request__{request}", "step__position", "user__username", "slot_user__username", "kind",
            "state", "assigned_at"), key=repr),
        "decisions": sorted(ApprovalDecision.objects.values_list(
            f"step__request__{request}", "step__position", "user__username", "outcome", "comment", "decided_at"),
            key=repr),
    }


def stock_snapshot():
    """Quantities, allocations and times of the stock, by natural keys (pks differ after a reset)."""
    return {
        "warehouses": list(Order.objects.order_by("shop__code", "external_id").values_list(
            "external_id", "warehouse__code", "payment_due_at")),
        "batches": list(Batch.objects.order_by("sku__code", "lot_number").values_list(
            "sku__code", "lot_number", "manufactured_on", "expires_on", "quarantined_at", "quarantine_reason",
            "created_at")),
        "levels": list(StockLevel.objects.order_by("warehouse__code", "sku__code", "batch__lot_number", "bucket")
                       .values_list("warehouse__code", "sku__code", "batch__lot_number", "bucket", "on_hand",
                                    "reserved")),
        "reservations": list(Reservation.objects.order_by(
            "order_line__order__external_id", "order_line__line_no", "stock_level__batch__lot_number").values_list(
            "order_line__order__external_id", "order_line__line_no", "stock_level__warehouse__code",
            "stock_level__batch__lot_number", "quantity", "state", "expires_at", "created_at")),
        # A return's moves name it by pk ("return:12"): compare by its order's number instead.
        "moves": sorted(((*row[:8], re.sub(r"^return:\d+$", f"return of {row[7]}", row[8]), *row[9:])
                         for row in StockMove.objects.values_list(
            "type", "stock_level__warehouse__code", "sku__code", "stock_level__batch__lot_number",
            "stock_level__bucket", "on_hand_delta", "reserved_delta", "order__external_id", "reference", "note",
            "actor_label", "created_at")), key=repr),
        "holds": sorted(OrderHold.objects.values_list(
            "order__external_id", "type", "reason", "owner_role", "opened_at", "released_at"), key=repr),
        "alerts": sorted(StockAlert.objects.values_list(
            "kind", "warehouse__code", "sku__code", "batch__lot_number", "available", "suggested_quantity",
            "details", "raised_at", "resolved_at"), key=repr),
    }


def table_counts():
    return {
        model.__name__: model.objects.count()
        for model in (Order, OrderLine, OrderEvent, OrderHold, Customer, Address, SKU, Shop, Warehouse,
                      ShopApiToken, ShopWarehouse, Batch, StockLevel, Reservation, StockMove, StockAlert,
                      ApprovalRequest, ApprovalStep, ApprovalAssignment, ApprovalDecision, get_user_model())
    }


@pytest.mark.django_db
def test_every_status_is_present_and_every_history_is_a_valid_walk(seeded):
    from apps.returns.models import ReturnRequest

    orders = {o.pk: o for o in Order.objects.all()}
    # --orders of them, plus the outbound orders the demo's exchange and reship created.
    assert len(orders) == 400 + ReturnRequest.objects.filter(linked_order__isnull=False).count() == 402
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
        assert times == sorted(times), order.external_id
        # Generated histories never share a moment; an order the real intake took (an exchange's
        # outbound order, arriving paid) records its creation and payment at the same instant.
        from_intake = any(e.name == "created_from_return" for e in history)
        assert from_intake or len(set(times)) == len(times), order.external_id
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
            assert (event.actor_id is not None) == (event.actor_label in USERS)
            assert event.actor_label in USERS or event.actor_label == "system" or re.fullmatch(
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
                assert order.status in HOLD_STATUSES[hold.type], (order.external_id, hold.type)
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

    from apps.returns.models import ReturnRequest

    # The returns' own outbound orders carry the original number with a suffix (not the platform's
    # shape), and a reship is free.
    linked = dict(ReturnRequest.objects.filter(linked_order__isnull=False).values_list("linked_order_id", "kind"))
    assert sorted(linked.values()) == ["exchange", "reship"]
    for order in Order.objects.select_related("shop"):
        for amount in (order.goods_total, order.shipping_fee, order.discount_total, order.grand_total,
                       order.paid_amount):
            assert amount.as_tuple().exponent == -2
        assert order.goods_total == totals[order.pk]
        assert (order.goods_total == 0) == (linked.get(order.pk) == "reship")
        assert order.grand_total == order.goods_total + order.shipping_fee - order.discount_total
        assert Decimal(0) <= order.paid_amount <= order.grand_total
        assert order.pk in linked or order.shop.accepts_order_number(order.external_id), order.external_id
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
    assert Order.objects.values("shop", "external_id").distinct().count() == 400 + len(linked)


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

    assert served(roles.CS_AGENT) == set(shops)  # Douyin and Youzan, and keys in distributors' phone orders
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
def test_the_printed_addresses_follow_the_server_address(seeded):
    """`make demo PORT=8010` passes its address: the banner must not send people to port 8000."""
    again = seed("--base-url", "http://127.0.0.1:8010/")
    assert "demo data already present" in again
    assert "http://127.0.0.1:8010/admin/" in again and "http://127.0.0.1:8010/api/docs/" in again
    assert ":8000" not in again


@pytest.mark.django_db
def test_same_seed_and_anchor_give_the_same_data(seeded):
    first, counts = snapshot(), table_counts()
    seed("--reset")
    again = snapshot()
    assert again[3] == first[3]  # stock first: the smaller diff when it fails
    assert again == first
    assert table_counts() == counts and counts["Order"] == 402  # 400 and the returns' exchange and reship


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
    real_warehouse = Warehouse.objects.create(code="SH9", name="上海九号仓")
    real_level = stock_receive(warehouse_id=real_warehouse.pk, sku_id=real_sku.pk, quantity=7, actor=None)
    demo_counts = {name: n for name, n in table_counts().items() if name in {"Batch", "StockLevel", "StockMove"}}
    seed("--reset")
    assert Customer.objects.filter(pk=keeper.pk).exists() and SKU.objects.filter(pk=real_sku.pk).exists()
    assert Customer.objects.count() == 61 and SKU.objects.count() == 41
    assert StockLevel.objects.get(pk=real_level.pk).on_hand == 7
    assert StockMove.objects.filter(stock_level=real_level).count() == 1
    # The demo's stock was deleted and built again, not added to.
    assert table_counts()["StockLevel"] == demo_counts["StockLevel"]
    assert table_counts()["StockMove"] == demo_counts["StockMove"]
    assert ledger_matches_levels() == []


@pytest.mark.django_db
def test_a_different_seed_gives_different_orders(seeded):
    first = snapshot()[0]
    call_command("seed_demo", *ARGS[:-4], "--seed", "8", "--anchor", "2026-11-22", "--reset", stdout=StringIO())
    assert snapshot()[0] != first


def test_the_admin_finds_the_sample_files_checked_on_the_import_page(db, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    seed()
    admin = get_user_model().objects.get(username=roles.ADMIN)
    jobs = {job.filename: job for job in import_jobs(actor=admin)}
    assert set(jobs) == {"skus.xlsx", "customers_gbk.csv", "customers_with_errors.csv"}
    assert {job.status for job in jobs.values()} == {ImportJob.Status.CHECKED}
    skus, customers, wrong = jobs["skus.xlsx"], jobs["customers_gbk.csv"], jobs["customers_with_errors.csv"]
    assert (skus.new + skus.updated, skus.error_rows) == (3, 0)  # XY-PF-0704 is an update where the demo has it
    assert (customers.new, customers.error_rows) == (3, 0) and wrong.error_rows == 3
    assert not Customer.objects.filter(code__startswith="KH").exists()  # checked only: nothing imported
    kept = [Path(job.file.path) for job in jobs.values()]
    assert all(path.exists() for path in kept)
    import_confirm(job_id=skus.pk, actor=admin)  # the admin imports the products; a reset still goes through
    assert SKU.objects.filter(code="XY-IM-0100").exists()
    seed("--reset")
    # the old jobs went with their files: what is kept now is the new jobs' files and nothing else
    assert not ImportJob.objects.filter(pk__in=[job.pk for job in jobs.values()]).exists()
    assert sorted(tmp_path.rglob("*.*")) == sorted(Path(job.file.path) for job in ImportJob.objects.all())
    assert not SKU.objects.filter(code="XY-IM-0100").exists()


def test_the_path_table_refuses_walks_the_model_would_refuse():
    with pytest.raises(demo.InvalidDemoPath):
        demo.walk(("pay", "ship"))
    with pytest.raises(demo.InvalidDemoPath):
        demo.walk(("pay", "pass_review", "intercept_failed"))
    hops = demo.walk(("pay", "pass_review", "start_picking", "finish_picking", "pack", "ship", "transit",
                      "request_intercept", "intercept_failed"))
    assert hops[-1] == ("intercept_failed", "intercepting", "in_transit")
    assert set(demo.PATHS) == set(OrderStatus.values)


# --- stock ----------------------------------------------------------------------------------

def first_allowed_expiry(line):
    """Not expired at the anchor, and at least the SKU's and the customer's minimum shelf life left."""
    days = max(line.sku.min_remaining_shelf_life_days, line.order.customer.min_remaining_shelf_life_days, 1)
    return TODAY + timedelta(days=days)


def released_levels() -> set[int]:
    """Levels a reservation was given back to (a rejection, a quarantine)."""
    return set(StockMove.objects.filter(type=StockMove.Type.RELEASE).values_list("stock_level_id", flat=True))


def active_reserved_by_line():
    reserved = defaultdict(int)
    for line_id, quantity in Reservation.objects.filter(state=Reservation.State.ACTIVE).values_list(
            "order_line_id", "quantity"):
        reserved[line_id] += quantity
    return reserved


@pytest.mark.django_db
def test_shop_sku_and_customer_stock_settings(seeded):
    shops = {s.code: s for s in Shop.objects.all()}
    assert {code: s.payment_window_minutes for code, s in shops.items()} == {
        "dy-xinyuan": 5, "yz-xinyuan": 5, "b2b-xinyuan": 24 * 60}
    assert list(shops["b2b-xinyuan"].warehouse_preferences.values_list("warehouse__code", flat=True)) == ["HZ1", "GZ2"]
    assert ShopWarehouse.objects.count() == 2

    skus = list(SKU.objects.all())
    assert all(20 <= s.safety_stock <= 200 for s in skus)
    assert all(30 <= s.near_expiry_alert_days <= 90 for s in skus if s.shelf_life_days)
    assert {s.min_remaining_shelf_life_days for s in skus} <= {0, 120, 180}
    assert any(s.min_remaining_shelf_life_days for s in skus)
    assert all(s.shelf_life_days for s in skus if s.min_remaining_shelf_life_days)
    b2b = Customer.objects.filter(kind=Customer.Kind.B2B)
    assert b2b.filter(min_remaining_shelf_life_days__gt=0).exists()
    assert not Customer.objects.filter(kind=Customer.Kind.B2C, min_remaining_shelf_life_days__gt=0).exists()

    # Unpaid orders carry their shop's window; most are still inside it at the anchor, a few are past it.
    unpaid = list(Order.objects.filter(status=OrderStatus.PENDING_PAYMENT).select_related("shop"))
    for order in unpaid:
        assert order.payment_due_at == order.placed_at + timedelta(minutes=order.shop.payment_window_minutes)
    assert sum(o.payment_due_at > ANCHOR for o in unpaid) > sum(o.payment_due_at <= ANCHOR for o in unpaid) > 0
    paid = set(OrderEvent.objects.filter(name__in=["pay", "confirm"]).values_list("order_id", flat=True))
    for order_id, due in Order.objects.values_list("pk", "payment_due_at"):
        assert (due is None) == (order_id in paid)


@pytest.mark.django_db
def test_stock_is_a_ledger_of_receipts_matching_the_levels(seeded):
    assert ledger_matches_levels() == []
    levels = list(StockLevel.objects.select_related("batch", "sku", "warehouse"))
    for level in levels:
        assert 0 <= level.reserved <= level.on_hand
        assert level.bucket == StockLevel.Bucket.SELLABLE or level.reserved == 0
        assert (level.batch_id is not None) == level.sku.batch_tracked
    # Releases only where a journey needed them: a rejected approval, a picked lot quarantined.
    # Returned goods come back at inspection (the demo's current returns).
    assert set(StockMove.objects.values_list("type", flat=True)) == {"receipt", "reserve", "quarantine", "release",
                                                                     "return_in"}
    released = {move.order.status for move in StockMove.objects.filter(type=StockMove.Type.RELEASE)
                .select_related("order")}
    assert released <= {OrderStatus.CANCELLED, OrderStatus.PICKING, OrderStatus.PICKED, OrderStatus.PACKED}
    receipts = Counter()
    for move in StockMove.objects.filter(type=StockMove.Type.RECEIPT).select_related("stock_level"):
        assert move.on_hand_delta > 0 and move.reserved_delta == 0
        assert move.stock_level.bucket == StockLevel.Bucket.SELLABLE and move.created_at < ANCHOR
        receipts[move.stock_level_id] += 1
    assert all(receipts[level.pk] == 1 for level in levels if level.bucket == StockLevel.Bucket.SELLABLE)

    # Every SKU is stocked in both warehouses; lots are dated consistently and spread over their life.
    placed = {(level.warehouse.code, level.sku.code) for level in levels}
    assert placed == {(w, s) for w in ("HZ1", "GZ2") for s in SKU.objects.values_list("code", flat=True)}
    lots = defaultdict(set)
    for level in levels:
        if level.batch_id:
            lots[(level.warehouse_id, level.sku_id)].add(level.batch_id)
    assert all(1 <= len(batches) <= 4 for batches in lots.values())
    assert max(len(batches) for batches in lots.values()) >= 3
    batches = list(Batch.objects.select_related("sku"))
    kinds = Counter()
    for batch in batches:
        assert re.fullmatch(r"L\d{8}", batch.lot_number)
        assert batch.manufactured_on < TODAY
        assert (batch.expires_on is not None) == bool(batch.sku.shelf_life_days)
        if batch.expires_on:
            assert batch.expires_on - batch.manufactured_on == timedelta(days=batch.sku.shelf_life_days)
            days_left = (batch.expires_on - TODAY).days
            kinds["expired" if days_left <= 0 else "near" if days_left <= batch.sku.near_expiry_alert_days
                  else "far"] += 1
    assert kinds["expired"] and kinds["near"] and kinds["far"] > kinds["expired"] + kinds["near"]

    # A lot or two failed QC: none of it sellable or reserved, all of it in quarantine.
    quarantined = [b for b in batches if b.quarantined_at]
    assert 1 <= len(quarantined) <= 2
    for batch in quarantined:
        assert batch.quarantine_reason.startswith("质检不合格") and batch.quarantined_at < ANCHOR
        by_bucket = {level.bucket: level for level in batch.levels.all()}
        assert by_bucket["sellable"].on_hand == 0 and by_bucket["quarantine"].on_hand > 0


@pytest.mark.django_db
def test_open_orders_hold_their_stock_or_a_stock_hold(seeded):
    reserved = active_reserved_by_line()
    held = set(OrderHold.objects.filter(type__in=STOCK_HOLDS, released_at__isnull=True)
               .values_list("order_id", flat=True))
    open_orders = list(Order.objects.filter(status__in=OPEN).select_related("customer", "warehouse", "shop")
                       .prefetch_related("lines__sku"))
    short = 0
    for order in open_orders:
        full = all(reserved[line.pk] == line.quantity for line in order.lines.all())
        assert all(reserved[line.pk] <= line.quantity for line in order.lines.all())
        if order.status in RESERVABLE_STATUSES:
            assert full or order.pk in held, order.external_id
            short += not full
        else:  # picking, picked, packed: reserved before picking began
            assert full and order.pk not in held, order.external_id
    assert short == len(held & {o.pk for o in open_orders})
    active = Reservation.objects.filter(state=Reservation.State.ACTIVE)
    assert not active.exclude(order_line__order__status__in=OPEN).exists()
    # Given back only by the journeys: the rejected approval's order, the picked lot that was quarantined.
    for reservation in Reservation.objects.exclude(state=Reservation.State.ACTIVE).select_related(
            "order_line__order", "stock_level__batch"):
        order = reservation.order_line.order
        assert reservation.state == Reservation.State.RELEASED
        assert order.status == OrderStatus.CANCELLED or reservation.stock_level.batch.quarantined_at
        assert [m.type for m in reservation.moves.order_by("created_at")] == ["reserve", "release"]

    for reservation in active.select_related(
            "order_line__order__customer", "order_line__sku", "stock_level__batch"):
        order, level = reservation.order_line.order, reservation.stock_level
        assert level.warehouse_id == order.warehouse_id and level.sku_id == reservation.order_line.sku_id
        assert reservation.expires_at == (order.payment_due_at if order.status == OrderStatus.PENDING_PAYMENT
                                          else None)
        assert order.placed_at <= reservation.created_at < ANCHOR
        if level.batch_id:  # never expired, quarantined, or too short-dated for the SKU or the customer
            batch = level.batch
            assert batch.quarantined_at is None
            assert batch.expires_on is None or batch.expires_on >= first_allowed_expiry(reservation.order_line), (
                order.external_id, batch.lot_number)
        moves = list(reservation.moves.all())
        assert [(m.type, m.reserved_delta, m.on_hand_delta, m.order_id) for m in moves] == [
            ("reserve", reservation.quantity, 0, order.pk)]
    assert Reservation.objects.filter(expires_at__gt=ANCHOR).exists()
    assert Reservation.objects.filter(expires_at__lte=ANCHOR).exists()


@pytest.mark.django_db
def test_fefo_takes_the_earliest_allocatable_lot_first(seeded):
    """No reservation passes over a lot that was still free for its line: FEFO, per line in order."""
    free_left = {level.pk: level.on_hand - level.reserved for level in StockLevel.objects.all()}
    given_back = released_levels()  # free again since, after the reservations were made
    for reservation in Reservation.objects.filter(state=Reservation.State.ACTIVE).select_related(
            "order_line__sku", "order_line__order__customer", "stock_level__batch"):
        level, line = reservation.stock_level, reservation.order_line
        if not level.batch_id or not level.batch.expires_on:
            continue
        cutoff = first_allowed_expiry(line)
        earlier = StockLevel.objects.filter(
            warehouse_id=level.warehouse_id, sku_id=level.sku_id, bucket=StockLevel.Bucket.SELLABLE,
            batch__quarantined_at__isnull=True, batch__expires_on__gte=cutoff,
            batch__expires_on__lt=level.batch.expires_on)
        assert all(free_left[other.pk] == 0 for other in earlier if other.pk not in given_back), (
            line.order.external_id, level.batch.lot_number)


@pytest.mark.django_db
def test_alerts_show_low_stock_replenishment_and_near_expiry(seeded):
    alerts = list(StockAlert.objects.select_related("sku", "batch"))
    assert {a.kind for a in alerts} == set(StockAlert.Kind.values)
    assert all(a.resolved_at is None and a.raised_at == ANCHOR for a in alerts)
    for alert in alerts:
        if alert.kind == StockAlert.Kind.LOW_STOCK:
            assert alert.available < alert.sku.safety_stock
        elif alert.kind == StockAlert.Kind.NEAR_EXPIRY:
            assert 0 <= (alert.batch.expires_on - TODAY).days <= alert.sku.near_expiry_alert_days
        elif alert.kind == StockAlert.Kind.EXPIRED:
            assert (alert.batch.expires_on - TODAY).days < 0 and alert.available > 0
        else:
            assert alert.suggested_quantity > 0
    # Most places are comfortable: alerts are the exception.
    places = StockLevel.objects.values("warehouse", "sku").distinct().count()
    assert sum(a.kind == StockAlert.Kind.LOW_STOCK for a in alerts) < places / 3
    assert "stock:" in seeded and "low_stock alerts" in seeded


def test_demo_orders_carry_intake_tags_and_ship_by_promises(seeded):
    from apps.orders.models import OrderTag
    from apps.orders.normalisation import promised_ship_by, tags_for_remarks

    assert OrderTag.objects.filter(tag="invoice").exists() and OrderTag.objects.filter(tag="urgent").exists()
    for order in Order.objects.select_related("shop").prefetch_related("tags")[:200]:
        assert order.promised_ship_by == promised_ship_by(order.shop, order.placed_at)
        assert {t.tag for t in order.tags.all()} == set(tags_for_remarks(order.buyer_remark, order.seller_remark))


# --- review and approval ----------------------------------------------------------------------

B2B = "b2b-xinyuan"
REGIONAL, PRODUCTION_STEP, COUNTERSIGN = "区域经理审批", "生产确认", "双经理会签"


def user(username):
    return get_user_model().objects.get(username=username)


def waiting(step) -> list[str]:
    return sorted(step.assignments.filter(state=ApprovalAssignment.State.PENDING)
                  .values_list("user__username", flat=True))


def pending_requests() -> dict[str, list[tuple[ApprovalRequest, ApprovalStep]]]:
    """Waiting requests by the name of their current step."""
    shapes = defaultdict(list)
    for request in ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING).select_related(
            "order__shop", "order__customer", "order__created_by"):
        step = request.steps.get(state=ApprovalStep.State.PENDING)
        shapes[step.name].append((request, step))
    return shapes


def decide(request, username, outcome="approve"):
    return approvals.approval_decide(request_id=request.pk, actor=user(username), outcome=outcome, comment="同意")


@pytest.mark.django_db
def test_approvers_and_their_scopes(seeded):
    shops = {s.code: s for s in Shop.objects.all()}
    manager, manager2, director, production = map(user, ["manager", "manager2", "director", "production"])

    def approves_for(person):
        return {code for code, shop in shops.items() if person.has_perm("orders.approve_for_shop", shop)}

    assert approves_for(manager) == set(shops) and approves_for(manager2) == {B2B} and not approves_for(director)
    for person in (manager, manager2, director):
        assert person.groups.filter(name=roles.MANAGER).exists() and person.has_perm("orders.approve_order")
    assert manager.manager == director and manager2.manager == director and director.manager is None
    assert [g.name for g in production.groups.all()] == ["production"] and "production" not in ROLES
    assert production.has_perm("orders.approve_order") and production.has_perm("approvals.view_approvalrequest")
    assert not production.has_perm("orders.cancel_order") and not production.is_staff
    for person in (manager2, director, production):
        assert person.check_password("orderhub-demo") and person.display_name
    rows = {username: (role, scope) for role, username, scope in demo.login_rows()}
    assert set(rows) == set(USERS) and rows["production"][0] == "production" and all(s for _r, s in rows.values())
    assert "manager2" in seeded and "director" in seeded
    # The seed's four policies, the countersign named for the two managers.
    policies = ApprovalPolicy.objects.filter(name__in=EXAMPLE_NAMES)
    assert policies.count() == 4
    countersign = policies.get(amount_above=Decimal("50000.00")).levels.get()
    assert {u.username for u in countersign.approver_users.all()} == {"manager", "manager2"}


@pytest.mark.django_db
def test_price_list_costs_and_made_to_order_skus(seeded):
    skus = list(SKU.objects.all())
    listed = [s for s in skus if s.list_price]
    costed = [s for s in skus if s.unit_cost is not None]
    assert len(skus) * 0.8 < len(listed) and len(skus) * 0.75 < len(costed) < len(skus)  # a few without cost
    for sku in costed:
        if sku.list_price:
            margin = 1 - sku.unit_cost / sku.list_price
            assert Decimal("0.149") < margin < Decimal("0.451"), sku.code
    made_to_order = [s for s in skus if s.is_made_to_order]
    assert 1 <= len(made_to_order) <= 3 and all("定制" in s.name_zh for s in made_to_order)
    # Sold to distributors only: no consumer order has one.
    assert not OrderLine.objects.filter(sku__is_made_to_order=True).exclude(order__shop__code=B2B).exists()

    # Orders are priced within the review's tolerance of the list price, except the one keyed in wrong:
    # the price rule has nothing else to stop when the review schedule runs over the demo.
    tolerance = Decimal("0.10")
    wrong = set(OrderHold.objects.filter(type=HoldType.PRICE_MISMATCH, released_at__isnull=True)
                .values_list("order_id", flat=True))
    assert wrong
    # The returns' own outbound orders (a free reship) are not priced by the shop.
    for line in OrderLine.objects.filter(sku__list_price__isnull=False, order__originating_return__isnull=True
                                         ).select_related("sku"):
        off = abs(line.line_total / line.quantity - line.sku.list_price) / line.sku.list_price
        assert (off > tolerance) == (line.order_id in wrong and line.line_no == 1), line.order_id


@pytest.mark.django_db
def test_every_hold_type_waits_on_an_order_where_it_makes_sense(seeded):
    open_holds = list(OrderHold.objects.filter(released_at__isnull=True).select_related("order__customer"))
    assert {hold.type for hold in open_holds} == set(HoldType.values)
    rules = {rule.code: rule for rule in AuditRule.objects.all()}
    for hold in open_holds:
        order = hold.order
        assert order.status in HOLD_STATUSES[hold.type], (order.external_id, hold.type)
        if hold.type in audit.CHECKS:
            # The review's own hold: automatic, owned by the rule's role.
            assert hold.is_automatic and hold.opened_by_id is None and hold.owner_role == rules[hold.type].owner_role
        if hold.type in REVIEW_HOLDS:
            # The review ran (it resolves the address first) and its rule still finds what it found.
            assert bool(order.region_code) == (hold.type != HoldType.ADDRESS_UNRESOLVED), order.external_id
            assert audit.CHECKS[hold.type](order, rules[hold.type]) is not None, (order.external_id, hold.type)
    stalled = next(h for h in open_holds if h.type == HoldType.STALLED_IN_TRANSIT)
    assert stalled.opened_at - stalled.order.status_changed_at == timedelta(hours=demo.STALLED_AFTER_HOURS)
    assert not Order.objects.filter(status=OrderStatus.IN_TRANSIT,
                                    status_changed_at__lt=ANCHOR - timedelta(hours=demo.STALLED_AFTER_HOURS)
                                    ).exclude(holds__type=HoldType.STALLED_IN_TRANSIT).exists()
    quarantined = next(h for h in open_holds if h.type == HoldType.QUARANTINED_STOCK)
    assert quarantined.order.status in (OrderStatus.PICKING, OrderStatus.PICKED, OrderStatus.PACKED)
    assert StockMove.objects.filter(order=quarantined.order, type=StockMove.Type.RELEASE,
                                    stock_level__batch__quarantined_at__isnull=False).exists()


@pytest.mark.django_db
def test_approval_requests_wait_in_every_shape(seeded):
    shapes = pending_requests()
    requests = [request for found in shapes.values() for request, _step in found]
    assert len(requests) >= 8
    # Every order waiting for approval has its request, from the real services: none was made up.
    assert Order.objects.filter(status=OrderStatus.PENDING_APPROVAL).count() == len(requests)
    assert all(r.order.status == OrderStatus.PENDING_APPROVAL and r.order.shop.code == B2B for r in requests)

    regional = shapes[REGIONAL]
    for request, _step in regional:
        assert Decimal("5000") < request.order.grand_total <= Decimal("50000")
        assert request.order.customer.credit_score < 90
    assert any(waiting(step) == ["manager", "manager2"] and step.escalation_count == 0 for _r, step in regional)
    # Keyed in by the sales desk, or by the manager, who may then not sign it: manager2 alone does.
    assert any(r.order.created_by and r.order.created_by.username == roles.CS_AGENT for r in requests)
    own = [(r, s) for r, s in regional if r.order.created_by and r.order.created_by.username == roles.MANAGER]
    assert own and all(waiting(step) == ["manager2"] for _r, step in own)
    # Overdue: passed on to the director, whom both managers report to.
    escalated = [(r, s) for r, s in regional if s.escalation_count]
    assert escalated
    for request, step in escalated:
        assert "director" in waiting(step)
        assert step.assignments.get(user__username="director").kind == ApprovalAssignment.Kind.ESCALATED
        assert step.activated_at < ANCHOR - timedelta(hours=24) and step.due_at > ANCHOR
        assert request.order.events.filter(name="approval_escalated").exists()

    # Made to order: production signs first, the regional manager after.
    for request, step in shapes[PRODUCTION_STEP]:
        assert waiting(step) == ["production"] and step.position == 1
        assert request.steps.get(position=2).name == REGIONAL
        assert request.order.lines.filter(sku__is_made_to_order=True).exists()
    signed_by_production = [r for r, s in regional if s.position == 2]
    assert signed_by_production and all(
        r.steps.get(position=1).decisions.get().user.username == "production" for r in signed_by_production)

    # Over ¥50,000: both managers countersign; one has the manager's signature already (1 of 2).
    countersign = shapes[COUNTERSIGN]
    assert all(s.mode == "all" and r.order.grand_total > Decimal("50000") for r, s in countersign)
    signed = {r.pk: sorted(s.decisions.values_list("user__username", flat=True)) for r, s in countersign}
    assert [] in signed.values() and ["manager"] in signed.values()

    # And decided ones: approved by a manager, rejected with a reason, approved automatically.
    decided = ApprovalRequest.objects.exclude(state=ApprovalRequest.State.PENDING).select_related("order__customer")
    approved = [r for r in decided if r.state == "approved" and not r.is_automatic]
    # Approved means on to the warehouse: ready, or already in the morning's wave.
    assert approved and all(r.order.status in (OrderStatus.READY, OrderStatus.PICKING) for r in approved)
    rejected = [r for r in decided if r.state == "rejected"]
    assert rejected and all(r.order.status == OrderStatus.CANCELLED for r in rejected)
    assert all(ApprovalDecision.objects.get(step__request=r, outcome="reject").comment for r in rejected)
    automatic = [r for r in decided if r.is_automatic]
    assert automatic and all(r.order.customer.credit_score >= 90 and not r.steps.exists() for r in automatic)

    # The approver's context has real figures: a credit line, and a year of orders that went both ways.
    histories = []
    for request in requests:
        customer = request.order.customer
        assert customer.credit_limit > 0 and 40 <= customer.credit_score <= 100
        histories.append(customer_history(customer, exclude_order_id=request.order_id, now=ANCHOR))
    assert all(h["orders"] for h in histories) and any(h["completed"] for h in histories)
    assert any(h["cancelled"] + h["refused"] for h in histories)
    assert any(request.order.customer.payment_terms_days for request in requests)
    assert any(order_margin(request.order) for request in requests)


@pytest.mark.django_db
def test_approvers_can_act_on_what_waits_for_them(seeded):
    shapes = pending_requests()
    manager2, director = user("manager2"), user("director")
    assert approval_inbox(user=manager2, tab="mine").count() >= 5
    assert approval_inbox(user=director, tab="mine").count() == sum(
        1 for _r, s in shapes[REGIONAL] if s.escalation_count)

    # manager2's signature completes the countersign the manager has signed.
    half = next(r for r, s in shapes[COUNTERSIGN] if s.decisions.exists())
    decide(half, "manager2")
    half.refresh_from_db()
    assert half.state == ApprovalRequest.State.APPROVED and half.order.status == OrderStatus.READY
    assert half.order.events.filter(name="approve", actor__username="manager2").exists()

    # The director signs what escalated to them.
    overdue = next(r for r, s in shapes[REGIONAL] if s.escalation_count)
    decide(overdue, "director")
    overdue.refresh_from_db()
    assert overdue.state == ApprovalRequest.State.APPROVED

    # Production's signature passes the made-to-order request on to the managers.
    custom, _step = shapes[PRODUCTION_STEP][0]
    decide(custom, "production")
    assert waiting(custom.steps.get(state=ApprovalStep.State.PENDING)) == ["manager", "manager2"]

    # Nobody approves an order they keyed in.
    own = next(r for r, _s in shapes[REGIONAL] if r.order.created_by and r.order.created_by.username == "manager")
    with pytest.raises(SelfApproval):
        decide(own, "manager")


@pytest.mark.django_db
def test_history_went_through_approval_exactly_where_a_policy_asks_for_it(seeded):
    reviewed = Order.objects.filter(events__name__in=["pass_review", "require_approval"]).distinct()
    for order in reviewed.prefetch_related("events").select_related("customer", "shop"):
        names = {event.name for event in order.events.all()}
        needs = any(policy.outcome == ApprovalPolicy.Outcome.REQUIRE
                    for policy, _reasons in approvals.matching_policies(order))
        assert needs == ("require_approval" in names), order.external_id
        assert order.region_code  # review resolved the address


@pytest.mark.django_db
def test_a_wave_is_ready_to_pick_on_the_first_morning(seeded):
    from apps.fulfillment.models import SenderProfile, ShopCarrier, Wave
    from apps.fulfillment.services import pick_scan

    wave = Wave.objects.get(warehouse__code="HZ1")
    tasks = list(wave.tasks.order_by("sequence").select_related("sku", "batch", "reservation__stock_level"))
    assert wave.state == "picking" and wave.memberships.count() == len({t.order_id for t in tasks}) > 0
    assert all(Order.objects.get(pk=t.order_id).status == OrderStatus.PICKING for t in tasks)
    # A pick path: every task has its shelf, in location order, and is the batch the order reserved.
    locations = [t.location_code for t in tasks]
    assert all(locations) and locations == sorted(locations)
    assert all(t.reservation.stock_level.batch_id == t.batch_id
               and t.location_code == t.reservation.stock_level.location_code for t in tasks)
    assert SenderProfile.objects.filter(warehouse__code__in=["HZ1", "GZ2"]).count() == 2
    assert ShopCarrier.objects.filter(shop__code__in=demo.SHOP_CODES).count() == 3
    # The clerk can start: scanning the first task's barcode (with its lot) confirms one unit.
    first = tasks[0]
    clerk = get_user_model().objects.get(username="warehouse_clerk")
    pick_scan(wave_id=wave.pk, task_id=first.pk, barcode=first.sku.barcode,
              lot_number=first.batch.lot_number if first.batch else "", quantity=1, actor=clerk)
    first.refresh_from_db()
    assert first.picked_quantity == 1


@pytest.mark.django_db
def test_returns_in_every_state_with_consistent_histories(seeded):
    from apps.returns.models import ReturnEvent, ReturnRequest, ReturnState

    requests = list(ReturnRequest.objects.select_related("order", "reason", "linked_order")
                    .prefetch_related("lines__order_line", "events"))
    assert {r.state for r in requests} == set(ReturnState.values)
    for request in requests:
        events = list(request.events.all())
        assert events[0].name == "create" and events[-1].to_state == request.state
        assert all(a.to_state == b.from_state for a, b in zip(events, events[1:]))
        assert [e.created_at for e in events] == sorted(e.created_at for e in events)
        assert request.order.status in ("delivered", "completed", "refused", "intercepted")
        assert events[0].created_at > request.order.placed_at and events[-1].created_at < ANCHOR
        assert not request.reason.children.exists()
        assert bool(request.reason_text) == request.reason.requires_text
        for line in request.lines.all():
            assert 0 < line.quantity <= line.order_line.quantity
            assert line.refund_amount <= line.order_line.line_total
        assert (request.linked_order is not None) == (request.state in (ReturnState.EXCHANGED, ReturnState.RESHIPPED))
        assert request.refund_amount == sum((line.refund_amount for line in request.lines.all()), Decimal("0"))
    assert ReturnEvent.objects.count() >= 2 * len(requests)
    # The inspected goods went back through the ledger, which still matches the levels.
    assert StockMove.objects.filter(type="return_in").exists()
    assert ledger_matches_levels() == []
