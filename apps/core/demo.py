"""Deterministic demo data: warehouses, shops, SKUs, customers and orders with consistent histories.

Rows are built in memory and bulk-inserted instead of being driven through apps.orders.services:
the services stamp `timezone.now()` and lock rows once per call, which would make the data neither
reproducible nor fast enough. So every order follows a path from PATHS, and PATHS is walked
against the model's own transition graph when this module is imported; a path the model would
refuse stops the import instead of seeding impossible histories.

Everything random comes from one `random.Random(seed)`, consumed in a fixed order, and every
timestamp is an offset from the anchor: the same seed and anchor give the same data (API tokens
excepted, they are secrets).

Stock is the exception to "no services": receipts are bulk-inserted ledger lines, but the open
orders' reservations, the quarantined batches and the alerts go through apps.inventory, so the demo
shows what the real FEFO, shelf-life and hold rules make of it. Those services stamp
`timezone.now()`; the builder moves every such time back onto the demo's time line afterwards, and
passes the anchor's date as "today", so quantities and allocations stay reproducible. Stock draws
come from a second generator, so the orders do not change when the stock plan does.

A few orders are journeys: built like the others, then handed to the real review and approval
services once stock is in place (`DemoBuilder.run_journeys`), so the holds the review rules open and
the approval requests, steps, signatures and escalations are the services' own. Those services stamp
`timezone.now()` too; `demo_clock` sets it to the moment on the demo's time line instead. The order
histories around them agree with the policies: an order went through approval exactly when an active
approval policy asks for signatures (`fit_to_policies`).
"""
from __future__ import annotations

import json
import math
import os
import random
from bisect import bisect
from collections import Counter, defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from functools import partial
from itertools import accumulate
from itertools import count as seconds
from unittest import mock
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction
from django.db.models import F, Q
from guardian.shortcuts import assign_perm

from apps.accounts import roles
from apps.approvals.examples import install_example_policies
from apps.approvals.models import ApprovalDecision, ApprovalPolicy, ApprovalRequest
from apps.approvals.services import approval_decide, approval_escalate_overdue, policy_reasons
from apps.catalog.models import SKU, Category
from apps.core.actors import SYSTEM_LABEL
from apps.core.money import CENT, ZERO
from apps.core.phones import normalise_phone, phone_tail
from apps.customers.addresses import resolve_region
from apps.customers.models import Address, Customer
from apps.fulfillment.models import (
    Carrier,
    Package,
    PickTask,
    ScanLog,
    SenderProfile,
    Shipment,
    ShopCarrier,
    TrackingEvent,
    Wave,
    WaveOrder,
)
from apps.fulfillment.services import wave_create
from apps.inventory.alerts import DEMAND_DAYS, stock_alerts_refresh
from apps.inventory.models import Batch, Reservation, StockAlert, StockLevel, StockMove, Warehouse
from apps.inventory.services import RESERVABLE_STATUSES, allocatable_after, reserve_for_order, stock_quarantine_batch
from apps.orders.audit import OPEN_FOR_CREDIT_EXCLUDED
from apps.imports.demo import build_demo_imports, reset_demo_imports
from apps.returns.demo import build_demo_returns
from apps.returns.models import ReturnRequest
from apps.orders.models import (
    PRE_SHIPMENT_STATUSES,
    TERMINAL_STATUSES,
    AuditRule,
    HoldType,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    OrderStatus,
    OrderTag,
    PaymentStatus,
    RemarkKeyword,
    Shop,
    ShopApiToken,
    ShopWarehouse,
)
from apps.orders.normalisation import promised_ship_by, tags_for_remarks
from apps.orders.platforms import Platform
from apps.orders.services import HOLD_BLOCKED_TRANSITIONS, order_audit

S = OrderStatus
DEMO_TZ = ZoneInfo("Asia/Shanghai")
DEFAULT_SEED = 20261122
DEFAULT_ORDERS = 5000
DEFAULT_CUSTOMERS = 500
DEFAULT_SKUS = 200
DEFAULT_PASSWORD = "orderhub-demo"
FIXTURES_DIR = settings.BASE_DIR / "fixtures" / "demo"
BATCH = 1000

# Markers that tell demo rows from real ones, so --reset never touches anything else.
DEMO_EMAIL_DOMAIN = "demo.orderhub.invalid"
DEMO_CUSTOMER_MARK = ":demo-"
DEMO_SKU_REGEX = r"^XY-[A-Z]{2,3}-[0-9]{4}$"


class DemoError(RuntimeError):
    """The demo cannot be seeded as asked; the message says why."""


class InvalidDemoPath(DemoError):
    pass


# --------------------------------------------------------------------------------------------
# The lifecycle paths, checked against Order's transition graph.

def _transition_graph() -> dict[tuple[str, str], str | tuple[str, ...]]:
    graph = {}
    for t in Order._meta.get_field("status").get_all_transitions(Order):
        allowed = getattr(t.target, "allowed_states", None)
        graph[(t.name, str(t.source))] = tuple(str(s) for s in allowed) if allowed is not None else str(t.target)
    return graph


_GRAPH = _transition_graph()


def walk(steps, start=S.PENDING_PAYMENT) -> list[tuple[str, str, str]]:
    """The (name, from, to) hops of a path; InvalidDemoPath if the model would refuse a step."""
    status, before_intercept, hops = str(start), "", []
    for name in steps:
        target = _GRAPH.get((name, status)) or _GRAPH.get((name, "*"))
        if target is None:
            raise InvalidDemoPath(f"{name!r} is not a transition out of {status!r} (path {steps})")
        if isinstance(target, tuple):
            # RETURN_VALUE: Order.intercept_failed goes back to where request_intercept started.
            if before_intercept not in target:
                raise InvalidDemoPath(f"{name!r} cannot return to {before_intercept!r} (path {steps})")
            target = before_intercept
        if name == "request_intercept":
            before_intercept = status
        hops.append((name, status, target))
        status = target
    return hops


def _then(group, *steps):
    return [(weight, path + steps) for weight, path in group]


def _mix(*parts):
    """Weighted union of path groups, each group scaled to its share whatever its size."""
    mixed = []
    for share, group in parts:
        total = sum(weight for weight, _path in group)
        mixed += [(share * weight / total, path) for weight, path in group]
    return mixed


_FAILED_INTERCEPT = ("request_intercept", "intercept_failed")
_TO_READY = [
    (80, ("pay", "pass_review")),
    (12, ("pay", "require_approval", "approve")),
    (8, ("pay", "pass_review", "start_picking", "return_to_ready")),
]
_PICKING = _then(_TO_READY, "start_picking")
_PICKED = _then(_PICKING, "finish_picking")
_PACKED = _then(_PICKED, "pack")
_SHIPPED_PLAIN = _then(_PACKED, "ship")
_SHIPPED = _mix((0.96, _SHIPPED_PLAIN), (0.04, _then(_SHIPPED_PLAIN, *_FAILED_INTERCEPT)))
_IN_TRANSIT_PLAIN = _then(_SHIPPED, "transit")
_IN_TRANSIT = _mix((0.97, _IN_TRANSIT_PLAIN), (0.03, _then(_IN_TRANSIT_PLAIN, *_FAILED_INTERCEPT)))
_OUT_PLAIN = _then(_IN_TRANSIT, "out_for_delivery")
_OUT = _mix((0.98, _OUT_PLAIN), (0.02, _then(_OUT_PLAIN, *_FAILED_INTERCEPT)))
_DELIVERED = _mix((0.25, _then(_IN_TRANSIT, "deliver")), (0.75, _then(_OUT, "deliver")))
_INTERCEPTING = _mix(
    (0.3, _then(_SHIPPED_PLAIN, "request_intercept")),
    (0.5, _then(_IN_TRANSIT_PLAIN, "request_intercept")),
    (0.2, _then(_OUT_PLAIN, "request_intercept")),
)

_RAW_PATHS = {
    S.PENDING_PAYMENT: [(1, ())],
    S.EXPIRED: [(1, ("expire",))],
    S.PENDING_REVIEW: [(1, ("pay",))],
    S.PENDING_APPROVAL: [(1, ("pay", "require_approval"))],
    S.READY: _TO_READY,
    S.PICKING: _PICKING,
    S.PICKED: _PICKED,
    S.PACKED: _PACKED,
    S.SHIPPED: _SHIPPED,
    S.IN_TRANSIT: _IN_TRANSIT,
    S.OUT_FOR_DELIVERY: _OUT,
    S.DELIVERED: _DELIVERED,
    S.COMPLETED: _then(_DELIVERED, "complete"),
    S.INTERCEPTING: _INTERCEPTING,
    S.INTERCEPTED: _then(_INTERCEPTING, "intercept_succeeded"),
    S.REFUSED: _mix((0.3, _then(_IN_TRANSIT, "refuse")), (0.7, _then(_OUT, "refuse"))),
    S.CANCELLED: [
        (50, ("cancel",)),
        (25, ("pay", "cancel")),
        (8, ("pay", "require_approval", "reject")),
        (10, ("pay", "pass_review", "cancel")),
        (4, ("pay", "pass_review", "start_picking", "cancel")),
        (3, ("pay", "pass_review", "start_picking", "finish_picking", "pack", "cancel")),
    ],
}


def credit_variant(path: tuple[str, ...]) -> tuple[str, ...]:
    """Credit-term and cash-on-delivery orders are confirmed for review instead of paid."""
    return ("confirm",) + path[1:] if path[:1] == ("pay",) else path


def _checked_paths(raw):
    missing = set(S.values) - {str(status) for status in raw}
    if missing:
        raise InvalidDemoPath(f"no demo path ends in {sorted(missing)}")
    table = {}
    for final, group in raw.items():
        for _weight, path in group:
            for variant in {path, credit_variant(path)}:
                hops = walk(variant)
                end = hops[-1][2] if hops else str(S.PENDING_PAYMENT)
                if end != final:
                    raise InvalidDemoPath(f"path {variant} ends in {end!r}, listed under {final!r}")
        table[str(final)] = (
            [path for _w, path in group],
            list(accumulate(weight for weight, _path in group)),
        )
    return table


PATHS = _checked_paths(_RAW_PATHS)

# Share of orders per final status (per cent): a shop a few months old is mostly done business.
# Orders waiting for approval are all journeys (below): their requests come from the real services.
STATUS_SHARES = {
    S.PENDING_PAYMENT: 3.0, S.PENDING_REVIEW: 4.0, S.PENDING_APPROVAL: 0, S.READY: 4.0,
    S.PICKING: 2.0, S.PICKED: 1.5, S.PACKED: 2.5, S.SHIPPED: 3.5, S.IN_TRANSIT: 7.0,
    S.OUT_FOR_DELIVERY: 3.5, S.DELIVERED: 12.0, S.COMPLETED: 40.0, S.INTERCEPTING: 0.6,
    S.INTERCEPTED: 0.8, S.REFUSED: 1.2, S.CANCELLED: 8.0, S.EXPIRED: 4.9,
}

# Minutes from the previous step; a few moves depend on where they start.
STEP_MINUTES = {
    "pay": (1, 30), "confirm": (10, 240), "expire": (30, 1440), "pass_review": (2, 180),
    "require_approval": (5, 120), "approve": (30, 1440), "reject": (30, 1440),
    "start_picking": (20, 600), "return_to_ready": (5, 90), "finish_picking": (5, 90),
    "pack": (5, 120), "ship": (30, 480), "transit": (120, 720), "out_for_delivery": (720, 4320),
    "deliver": (30, 600), "refuse": (30, 1440), "complete": (7 * 1440, 15 * 1440),
    "request_intercept": (30, 2880), "intercept_succeeded": (240, 2880),
    "intercept_failed": (240, 2880), "cancel": (5, 1440),
}
STEP_MINUTES_FROM = {("deliver", "in_transit"): (720, 4320), ("refuse", "in_transit"): (720, 4320)}

# Minutes an order has been sitting in its current, unfinished status at the anchor. Unpaid orders
# are the exception: most are inside their shop's payment window, and every OVERDUE_EVERY-th one is
# this many minutes past it, left for the expiry schedule.
OVERDUE_EVERY = 5
DWELL_MINUTES = {
    S.PENDING_PAYMENT: (1, 180), S.PENDING_REVIEW: (3, 720), S.PENDING_APPROVAL: (30, 2880),
    S.READY: (10, 1440), S.PICKING: (5, 180), S.PICKED: (5, 180), S.PACKED: (10, 480),
    S.SHIPPED: (30, 720), S.IN_TRANSIT: (60, 4320), S.OUT_FOR_DELIVERY: (30, 720),
    S.DELIVERED: (60, 6 * 1440), S.INTERCEPTING: (60, 2880),
}
HISTORY_DAYS = 120
B2B_HISTORY_DAYS = 360  # distributors have bought for a year: approvers see twelve months of it

# Stock. Open orders hold reservations: the reservable ones through the real service, the ones being
# picked were reserved before picking began. Shares of (warehouse, SKU) places per stock situation
# (with a floor, so even a small demo shows each); the rest are comfortably stocked.
IN_PICKING = (S.PICKING, S.PICKED, S.PACKED)
OPEN_STATUSES = (*sorted(RESERVABLE_STATUSES), *IN_PICKING)
STOCK_HOLDS = (HoldType.OUT_OF_STOCK, HoldType.EXPIRY_CONFLICT)
STOCK_SITUATIONS = [  # (name, share, at least)
    ("out_of_stock", 0.02, 1), ("short_dated", 0.005, 1), ("low_cover", 0.06, 2), ("below_safety", 0.06, 2),
]
NEAR_EXPIRY_SHARE, EXPIRED_SHARE, QUARANTINED_BATCHES = 0.15, 0.08, 1  # one more is a journey
CUSTOMER_SHELF_LIFE_DAYS = (90, 120, 120, 180)  # what a few distributors demand


# --------------------------------------------------------------------------------------------
# Fixed demo set-up.

@dataclass(frozen=True)
class WarehouseSpec:
    code: str
    name: str
    province: str
    city: str
    address: str


@dataclass(frozen=True)
class ShopSpec:
    code: str
    name: str
    platform: str
    warehouse: str
    share: float
    served_by_agent: bool
    payment_window_minutes: int = 5
    warehouses: tuple[str, ...] = ()  # ordered list; empty: the default warehouse alone


WAREHOUSES = [
    WarehouseSpec("HZ1", "杭州一号仓", "浙江省", "杭州市", "余杭区仓前街道龙潭路 18 号"),
    WarehouseSpec("GZ2", "广州二号仓", "广东省", "广州市", "白云区太和镇广州北物流园 6 栋"),
]
SHOPS = [
    ShopSpec("dy-xinyuan", "鑫源优选抖音旗舰店", Platform.DOUYIN, "HZ1", 0.5, True),
    ShopSpec("yz-xinyuan", "鑫源茶舍有赞商城", Platform.YOUZAN, "GZ2", 0.3, True),
    # Distributors pay by bank transfer within the day, and HZ1 ships their orders unless it cannot
    # serve every line. (The consumer shops' 5 minutes lapse before anyone opens the demo.)
    ShopSpec("b2b-xinyuan", "鑫源贸易B2B分销平台", Platform.B2B, "HZ1", 0.2, False, 24 * 60, ("HZ1", "GZ2")),
]
SHOP_CODES = [spec.code for spec in SHOPS]
# Who signs the e-waybills' sender block at each warehouse (name, phone, district).
WAREHOUSE_SENDERS = {"HZ1": ("鑫源杭州仓", "0571-88776655", "余杭区"), "GZ2": ("鑫源广州仓", "020-36612345", "白云区")}
SHOP_CARRIERS = {"dy-xinyuan": "zto", "yz-xinyuan": "yto", "b2b-xinyuan": "deppon"}
DEMO_WAVE_SIZE = 12
B2B_SHOP = "b2b-xinyuan"
WAREHOUSE_CODES = [spec.code for spec in WAREHOUSES]

ROLE_ORDER = [
    roles.CS_AGENT, roles.CS_LEAD, roles.WAREHOUSE_CLERK, roles.WAREHOUSE_LEAD,
    roles.FINANCE, roles.MANAGER, roles.ADMIN,
]
STAFF_ROLES = {roles.CS_LEAD, roles.WAREHOUSE_LEAD, roles.MANAGER, roles.ADMIN}
ROLE_SCOPES = {
    roles.CS_AGENT: "all 3 shops (keys in distributors' phone orders); cancel, intercept, open holds",
    roles.CS_LEAD: "all 3 shops; review, record payments, release holds",
    roles.WAREHOUSE_CLERK: "warehouse HZ1: pick, pack, ship",
    roles.WAREHOUSE_LEAD: "HZ1 + GZ2: also carrier tracking, intercepts, holds",
    roles.FINANCE: "all 3 shops: payments, customer credit, personal data",
    roles.MANAGER: "all 3 shops: approves for all 3, countersigns ¥50,000+; everything the leads do",
    roles.ADMIN: "everything, incl. configuration (superuser)",
}

# Users beyond one per role: a second regional manager, the director both managers report to (where
# overdue approvals escalate), and production, who signs off made-to-order items: a Group of its own,
# not one of the seven roles.
PRODUCTION = "production"
PRODUCTION_PERMISSIONS = (
    "orders.approve_order", "orders.view_shop", "orders.view_order", "orders.view_orderline", "catalog.view_sku",
    "approvals.view_approvalrequest", "approvals.view_approvalstep", "approvals.view_approvaldecision",
)
EXTRA_USERS = [  # (username, group, staff, what they see)
    ("manager2", roles.MANAGER, True, "b2b-xinyuan: approves its orders, countersigns ¥50,000+"),
    ("director", roles.MANAGER, True, "no shop scope: overdue approvals of both managers escalate here"),
    (PRODUCTION, PRODUCTION, False, "signs off made-to-order (定制) items before the manager"),
]
DEMO_USERNAMES = [*ROLE_ORDER, *(username for username, *_rest in EXTRA_USERS)]
REPORTS_TO = {roles.MANAGER: "director", "manager2": "director"}

# As apps.inventory.services assigns them for the holds a reservation opens.
HOLD_OWNERS = {
    HoldType.OUT_OF_STOCK: roles.CS_LEAD, HoldType.EXPIRY_CONFLICT: roles.WAREHOUSE_LEAD,
    HoldType.ADDRESS_UNRESOLVED: roles.CS_AGENT, HoldType.BLACKLISTED: roles.CS_LEAD,
    HoldType.OVER_CREDIT_LIMIT: roles.FINANCE, HoldType.PRICE_MISMATCH: roles.CS_LEAD,
    HoldType.MULTIPLE_ADDRESSES: roles.CS_AGENT, HoldType.CUSTOMS_INCOMPLETE: roles.CS_LEAD,
    HoldType.STALLED_IN_TRANSIT: roles.CS_AGENT, HoldType.SHORT_PICK: roles.WAREHOUSE_LEAD,
    HoldType.BUYER_REQUEST: roles.CS_AGENT, HoldType.MANUAL: roles.CS_LEAD,
}
MANUAL_HOLDS = {HoldType.BUYER_REQUEST, HoldType.MANUAL, HoldType.SHORT_PICK}
# Holds the review rules open. While open they come only from the real review (journeys) or, for stock,
# the real reservation; the demo writes them itself only into history, opened and resolved.
REVIEW_HOLDS = frozenset(AuditRule.Code.values)
# A parcel without a tracking update for this long is stalled (no other order waits in transit as long).
STALLED_AFTER_HOURS = 72
# Who may release a hold of an owner role: finance has no orders.change_orderhold, so a manager does.
HOLD_RELEASERS = {
    roles.WAREHOUSE_LEAD: roles.WAREHOUSE_LEAD, roles.CS_AGENT: roles.CS_LEAD,
    roles.CS_LEAD: roles.CS_LEAD, roles.FINANCE: roles.MANAGER,
}

# Price list and costs: a few SKUs are not on the price list yet (the price rule skips them), a few
# more have no known cost (approvers see the margin of the lines that have one).
UNLISTED_SHARE, UNCOSTED_SHARE, MARGIN = 0.04, 0.1, (0.15, 0.45)

# Journeys (DemoBuilder.build_journeys): orders whose review and approval the real services carry out.
JOURNEY_MIN_ORDERS = 100  # a smaller demo has none
REVIEW_DELAY = timedelta(seconds=90)  # the review task runs once the payment has committed
ESCALATION_RUN = timedelta(minutes=3)  # the escalation schedule's next run after a step fell due
# Approvals, all in the distributors' shop and paid: (what it shows, hours since payment, amount range,
# credit score, keyed in by, then [(hours before the anchor, who, decision)]). "escalate" is the
# schedule passing the overdue step on to the signers' manager, the director.
APPROVAL_JOURNEYS = [
    ("regional manager", 9, (6000, 18000), "below 90", "", []),
    ("regional manager", 5, (6000, 18000), "below 90", roles.CS_AGENT, []),
    ("regional manager", 3, (6000, 18000), "below 90", roles.MANAGER, []),  # their own: manager2 alone signs
    ("made to order", 7, (6000, 15000), "below 90", roles.CS_AGENT, []),
    ("made to order", 20, (6000, 15000), "below 90", "", [(14, PRODUCTION, "approve")]),
    ("countersign", 4, (55000, 90000), "any", "", []),
    ("countersign", 11, (55000, 90000), "any", "", [(6, roles.MANAGER, "approve")]),
    ("escalated", 31, (6000, 18000), "below 90", "", [(None, "schedule", "escalate")]),
    ("approved", 22, (6000, 18000), "below 90", "", [(18, "manager2", "approve")]),
    ("rejected", 30, (6000, 18000), "below 90", roles.CS_AGENT, [(26, roles.MANAGER, "reject")]),
    ("automatic", 16, (8000, 20000), "90+", "", []),
]
# Orders one review rule stops: (hold, hours since payment). Multiple addresses takes two orders. The
# stock rules' holds open when intake reserves (the review finds the same gap again).
RULE_JOURNEYS = [
    (HoldType.OVER_CREDIT_LIMIT, 8), (HoldType.ADDRESS_UNRESOLVED, 2), (HoldType.PRICE_MISMATCH, 5),
    (HoldType.BLACKLISTED, 26), (HoldType.MULTIPLE_ADDRESSES, 6), (HoldType.OUT_OF_STOCK, 4),
    (HoldType.EXPIRY_CONFLICT, 10),
]
# Holds no review rule opens, one order each: (hold, shop, status).
HOLD_JOURNEYS = [
    (HoldType.CUSTOMS_INCOMPLETE, B2B_SHOP, S.PENDING_REVIEW), (HoldType.MANUAL, "dy-xinyuan", S.PENDING_REVIEW),
    (HoldType.BUYER_REQUEST, "yz-xinyuan", S.READY), (HoldType.SHORT_PICK, "dy-xinyuan", S.READY),
    (HoldType.STALLED_IN_TRANSIT, "dy-xinyuan", S.IN_TRANSIT),
]
JOURNEY_ORDERS = len(APPROVAL_JOURNEYS) + len(RULE_JOURNEYS) + 1 + len(HOLD_JOURNEYS)

# Shop coupons (spend at least, take off), best first.
COUPONS = [(Decimal(spend), Decimal(off)) for spend, off in [(499, 50), (299, 30), (199, 20), (99, 10), (59, 5)]]


def load_fixture(name: str):
    return json.loads((FIXTURES_DIR / name).read_text(encoding="utf-8"), parse_float=Decimal)


def parse_anchor(value: str | None) -> datetime:
    """Midnight in Asia/Shanghai of the given ISO date (or datetime), today's if none."""
    if not value:
        return datetime.now(DEMO_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise DemoError(f"--anchor must be an ISO date such as 2026-11-22, not {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=DEMO_TZ)


def demo_password() -> str:
    return os.environ.get("DEMO_PASSWORD") or DEFAULT_PASSWORD


def demo_present() -> bool:
    return Shop.objects.filter(code__in=SHOP_CODES).exists()


@contextmanager
def demo_clock(start: datetime):
    """Inside, `timezone.now()` (what the services stamp their rows with, and `localdate()` with it)
    reads the demo's time line: `start`, then one second later at every call, so the rows a service
    writes keep their order and an order's events never share a timestamp."""
    ticks = (start + timedelta(seconds=n) for n in seconds())
    with mock.patch("django.utils.timezone.now", side_effect=lambda: next(ticks)):
        yield


def login_rows() -> list[tuple[str, str, str]]:
    """(role, username, what they see) of every demo login."""
    return ([(role, role, ROLE_SCOPES[role]) for role in ROLE_ORDER]
            + [(group, username, scope) for username, group, _staff, scope in EXTRA_USERS])


@dataclass
class DemoOptions:
    seed: int = DEFAULT_SEED
    anchor: datetime | None = None
    orders: int = DEFAULT_ORDERS
    customers: int = DEFAULT_CUSTOMERS
    skus: int = DEFAULT_SKUS
    password: str = DEFAULT_PASSWORD


@dataclass
class DemoResult:
    counts: dict[str, int] = field(default_factory=dict)
    stock: dict[str, int] = field(default_factory=dict)
    tokens: list[tuple[str, str]] = field(default_factory=list)  # (shop code, raw token)


# --------------------------------------------------------------------------------------------
# Reset.

def reset_demo() -> dict[str, int]:
    """Delete every demo row (and only those), children first so no PROTECT stands in the way."""
    User = get_user_model()
    shops = Shop.objects.filter(code__in=SHOP_CODES)
    orders = Order.objects.filter(shop__in=shops)
    counts = {"orders": orders.count()}
    skus = SKU.objects.filter(code__regex=DEMO_SKU_REGEX)
    warehouses = Warehouse.objects.filter(code__in=WAREHOUSE_CODES)
    # The warehouse floor first: scans, tasks, waves, packages and shipments protect orders,
    # reservations, levels and warehouses.
    waves = Wave.objects.filter(warehouse__in=warehouses)
    ScanLog.objects.filter(wave__in=waves).delete()
    PickTask.objects.filter(Q(wave__in=waves) | Q(order__in=orders)).delete()
    WaveOrder.objects.filter(Q(wave__in=waves) | Q(order__in=orders)).delete()
    counts["waves"] = waves.delete()[1].get(Wave._meta.label, 0)
    Package.objects.filter(order__in=orders).delete()
    TrackingEvent.objects.filter(shipment__order__in=orders).delete()
    Shipment.objects.filter(order__in=orders).delete()
    # Returns protect their orders, the linked exchange and reship orders, and order lines.
    counts["returns"] = ReturnRequest.objects.filter(Q(order__in=orders) | Q(linked_order__in=orders)).delete()[1].get(
        ReturnRequest._meta.label, 0)
    # Stock next: the ledger, reservations and levels protect orders, lines, SKUs and warehouses.
    levels = StockLevel.objects.filter(Q(sku__in=skus) | Q(warehouse__in=warehouses))
    reservations = Reservation.objects.filter(Q(order_line__order__in=orders) | Q(stock_level__in=levels))
    StockAlert.objects.filter(Q(sku__in=skus) | Q(warehouse__in=warehouses)).delete()
    counts["stock moves"] = StockMove.objects.filter(
        Q(stock_level__in=levels) | Q(order__in=orders) | Q(reservation__in=reservations)
    ).delete()[1].get(StockMove._meta.label, 0)
    reservations.delete()
    levels.delete()
    Batch.objects.filter(sku__in=skus).delete()
    requests = ApprovalRequest.objects.filter(order__in=orders)
    delete_decisions(ApprovalDecision.objects.filter(step__request__in=requests))
    counts["approval requests"] = requests.delete()[1].get(ApprovalRequest._meta.label, 0)
    OrderEvent.objects.filter(order__in=orders).delete()
    OrderHold.objects.filter(order__in=orders).delete()
    OrderLine.objects.filter(order__in=orders).delete()
    orders.delete()
    ShopApiToken.objects.filter(shop__in=shops).delete()
    counts["shops"] = shops.delete()[1].get(Shop._meta.label, 0)
    customers = Customer.objects.filter(code__contains=DEMO_CUSTOMER_MARK)
    Address.objects.filter(customer__in=customers).delete()
    counts["customers"] = customers.delete()[1].get(Customer._meta.label, 0)
    counts["skus"] = skus.delete()[1].get(SKU._meta.label, 0)
    warehouses.delete()
    users = User.objects.filter(username__in=DEMO_USERNAMES, email__endswith="@" + DEMO_EMAIL_DOMAIN)
    counts["import files"] = reset_demo_imports(users)
    users.delete()
    return counts


def delete_decisions(decisions) -> None:
    """Approval decisions are append-only: on PostgreSQL a trigger refuses to delete one. A demo reset
    is the one place that removes them; the trigger is off around the DELETE only, inside the seeding
    transaction (ALTER TABLE is transactional there)."""
    if not decisions.exists():
        return
    postgres = connection.vendor == "postgresql"
    table = connection.ops.quote_name(ApprovalDecision._meta.db_table)
    with connection.cursor() as cursor:
        if postgres:
            # ALTER TABLE refuses while the table has deferred foreign-key checks pending (rows written
            # earlier in this transaction, as when a test seeds and resets): run them now.
            connection.check_constraints()
            cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER approvals_decision_immutable")
        decisions.delete()
        if postgres:
            cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER approvals_decision_immutable")


# --------------------------------------------------------------------------------------------
# The builder.

@dataclass
class _Product:
    sku: SKU
    family: dict
    price: Decimal


@dataclass(frozen=True)
class _Principal:
    """Who reserved: the shop's API token, as intake would (apps.core.actors reads `label`)."""
    label: str


@dataclass
class _Buyer:
    customer: Customer
    addresses: list[Address]
    nickname: str
    shop: str
    credit: bool
    discount: Decimal
    orders: list = field(default_factory=list)


@dataclass
class _Journey:
    """An order whose review (and approval) the real services carry out, and what it should end in."""
    name: str
    order: Order
    expect_status: str
    expect_hold: str = ""
    review: bool = True
    then: list = field(default_factory=list)  # (at, username or "schedule", decision or "escalate", comments)


class DemoBuilder:
    def __init__(self, options: DemoOptions):
        if options.customers < 3:
            raise DemoError("--customers must be at least 3 (one per shop)")
        if options.orders < 0:
            raise DemoError("--orders must not be negative")
        self.o = options
        self.rng = random.Random(options.seed)
        self.stock_rng = random.Random(f"{options.seed}:stock")
        self.anchor = options.anchor or parse_anchor(None)
        self.today = self.anchor.astimezone(DEMO_TZ).date()
        self.names = load_fixture("names.json")
        self.geo = load_fixture("regions.json")
        self.catalog = load_fixture("products.json")
        self.remarks = load_fixture("remarks.json")
        self.ops = load_fixture("ops.json")
        self.stock_texts = load_fixture("stock.json")
        self.order_lines: list[tuple[Order, list[OrderLine]]] = []
        self.unpaid = 0
        self.events: list[OrderEvent] = []
        self.holds: list[OrderHold] = []
        self.hold_events: list[tuple[OrderEvent, OrderHold]] = []
        self.lines: list[OrderLine] = []
        self.deposits = 0
        self.journeys: list[_Journey] = []
        self.protected: set[tuple[int, int]] = set()  # (warehouse pk, SKU pk) the journeys need in stock
        self.shortages: dict[tuple[int, int], str] = {}  # (warehouse pk, SKU pk) a stock journey finds short
        self.regions: dict[tuple[str, str, str], str] = {}  # (province, city, district) -> region code

    # -- small helpers ---------------------------------------------------------------------
    def minutes(self, low: int, high: int) -> timedelta:
        return timedelta(seconds=self.rng.randint(low * 60, high * 60))

    def days_ago(self, low: int, high: int) -> datetime:
        return self.anchor - timedelta(days=self.rng.randint(low, high), seconds=self.rng.randint(0, 86399))

    def person(self) -> str:
        surnames = self.names["surnames"]
        # Common surnames dominate real name lists; the first 20 carry most of the population.
        surname = surnames[min(int(self.rng.expovariate(1 / 20)), len(surnames) - 1)]
        return surname + self.rng.choice(self.names["given_names"])

    def mobile(self) -> str:
        return normalise_phone(self.rng.choice(self.geo["mobile_prefixes"]) + f"{self.rng.randrange(10**8):08d}")

    def landline(self, region, extension: bool) -> str:
        number = f"{region['area_code']}-{self.rng.randint(2, 8)}{self.rng.randrange(10**7):07d}"
        if extension:
            number += f"-{self.rng.randint(801, 899)}"
        return normalise_phone(number)

    def street_address(self, region, business: bool) -> str:
        street = f"{self.rng.choice(region['streets'])}{self.rng.randint(1, 999)}号"
        roll = self.rng.random()
        if business and roll < 0.5:
            park = self.rng.choice(self.geo["industrial_parks"])
            return f"{street}{park}{self.rng.randint(1, 12)}号楼{self.rng.randint(1, 5)}层"
        if business or roll < 0.2:
            floor = self.rng.randint(2, 30)
            building = self.rng.choice(self.geo["office_buildings"])
            return f"{street}{building}{floor}楼{floor}{self.rng.randint(1, 20):02d}室"
        floor = self.rng.randint(1, 18)
        return (f"{street}{self.rng.choice(self.geo['communities'])}{self.rng.randint(1, 30)}幢"
                f"{self.rng.randint(1, 4)}单元{floor}{self.rng.randint(1, 4):02d}室")

    # -- reference rows --------------------------------------------------------------------
    def build_users(self):
        User = get_user_model()
        clash = User.objects.filter(username__in=DEMO_USERNAMES).exclude(email__endswith="@" + DEMO_EMAIL_DOMAIN)
        if clash.exists():
            names = ", ".join(sorted(clash.values_list("username", flat=True)))
            raise DemoError(f"users {names} exist and are not demo users; rename them first")
        if Group.objects.filter(name__in=ROLE_ORDER).count() < len(ROLE_ORDER):
            roles.sync_roles()
        production, _created = Group.objects.get_or_create(name=PRODUCTION)
        production.permissions.set([Permission.objects.get(content_type__app_label=app, codename=codename)
                                    for app, codename in (name.split(".") for name in PRODUCTION_PERMISSIONS)])
        # One hash for all: they share the password anyway, and each PBKDF2 round costs ~0.5 s.
        password_hash = make_password(self.o.password)
        joined = self.anchor - timedelta(days=400)
        self.users = {}
        people = [(role, role, role in STAFF_ROLES) for role in ROLE_ORDER]
        people += [(username, group, staff) for username, group, staff, _scope in EXTRA_USERS]
        for username, group, staff in people:
            user = User.objects.create(
                username=username,
                email=f"{username}@{DEMO_EMAIL_DOMAIN}",
                password=password_hash,
                display_name=self.names["staff"][username],
                is_staff=staff,
                is_superuser=username == roles.ADMIN,
                date_joined=joined,
            )
            user.groups.add(Group.objects.get(name=group))
            self.users[username] = user
        for username, boss in REPORTS_TO.items():
            self.users[username].manager = self.users[boss]
            self.users[username].save(update_fields=["manager"])

    def build_places(self):
        self.warehouses = {
            spec.code: Warehouse.objects.create(
                code=spec.code, name=spec.name, province=spec.province, city=spec.city, address=spec.address
            )
            for spec in WAREHOUSES
        }
        self.shops = {
            spec.code: Shop.objects.create(
                code=spec.code, name=spec.name, platform=spec.platform,
                default_warehouse=self.warehouses[spec.warehouse],
                payment_window_minutes=spec.payment_window_minutes,
            )
            for spec in SHOPS
        }
        ShopWarehouse.objects.bulk_create([
            ShopWarehouse(shop=self.shops[spec.code], warehouse=self.warehouses[code], priority=priority)
            for spec in SHOPS for priority, code in enumerate(spec.warehouses)
        ])
        self.shop_specs = {spec.code: spec for spec in SHOPS}
        Warehouse.objects.filter(code__in=WAREHOUSE_CODES).update(
            created_at=self.anchor - timedelta(days=720), updated_at=self.anchor - timedelta(days=720)
        )
        Shop.objects.filter(code__in=SHOP_CODES).update(
            created_at=self.anchor - timedelta(days=600), updated_at=self.anchor - timedelta(days=600)
        )

    def build_scopes(self):
        shops = [self.shops[code] for code in SHOP_CODES]
        agent_shops = [self.shops[spec.code] for spec in SHOPS if spec.served_by_agent]
        for shop in agent_shops:
            assign_perm("orders.serve_shop", self.users[roles.CS_AGENT], shop)
        for role in (roles.CS_LEAD, roles.FINANCE, roles.MANAGER):
            for shop in shops:
                assign_perm("orders.serve_shop", self.users[role], shop)
        assign_perm("inventory.work_warehouse", self.users[roles.WAREHOUSE_CLERK], self.warehouses["HZ1"])
        for warehouse in self.warehouses.values():
            assign_perm("inventory.work_warehouse", self.users[roles.WAREHOUSE_LEAD], warehouse)
        b2b = self.shops[B2B_SHOP]
        # The sales desk keys in distributors' phone orders (and sees them afterwards, to withdraw one).
        assign_perm("orders.serve_shop", self.users[roles.CS_AGENT], b2b)
        # Approvers: the manager for every shop, the second manager for the distributors' shop; the
        # director has no shop of their own and signs what escalates to them.
        for shop in shops:
            assign_perm("orders.approve_for_shop", self.users[roles.MANAGER], shop)
        assign_perm("orders.serve_shop", self.users["manager2"], b2b)
        assign_perm("orders.approve_for_shop", self.users["manager2"], b2b)
        # Fresh objects, so no permission cache from before the groups and scopes.
        self.users = {user.username: user for user in get_user_model().objects.filter(
            username__in=DEMO_USERNAMES, email__endswith="@" + DEMO_EMAIL_DOMAIN)}

    def build_policies(self):
        """The seed's four approval policies (apps.approvals.examples), and every active policy for
        deciding which orders of the history went through approval."""
        install_example_policies(manager_group=Group.objects.get(name=roles.MANAGER),
                                 production_group=Group.objects.get(name=PRODUCTION),
                                 countersigners=[self.users[roles.MANAGER], self.users["manager2"]])
        self.policies = [(policy, {shop.pk for shop in policy.shops.all()}) for policy in
                         ApprovalPolicy.objects.filter(is_active=True).prefetch_related("shops")
                         .order_by("priority", "id")]

    def build_tokens(self) -> list[tuple[str, str]]:
        tokens = []
        for code in SHOP_CODES:
            raw, prefix, key_hash = ShopApiToken.generate()
            ShopApiToken.objects.create(
                shop=self.shops[code], name="demo", prefix=prefix, key_hash=key_hash,
                created_by=self.users[roles.ADMIN],
            )
            tokens.append((code, raw))
        return tokens

    # -- catalogue -------------------------------------------------------------------------
    def build_skus(self):
        families = self.catalog["families"]
        prefixes = self.catalog["barcode_prefixes"]
        combos = {}
        for family in families:
            combos[family["code"]] = [
                (family, item_no, item, variant_no, variant)
                for item_no, item in enumerate(family["items"], start=1)
                for variant_no, variant in enumerate(family["variant_sets"][item["variants"]], start=1)
            ]
            self.rng.shuffle(combos[family["code"]])
            # Made-to-order items go on sale first (the approval journeys need one): picks pop from the end.
            combos[family["code"]].sort(key=lambda c: bool(c[2].get("made_to_order")))
        available = sum(len(c) for c in combos.values())
        if not len(families) <= self.o.skus <= available:
            raise DemoError(f"--skus must be between {len(families)} and {available}")
        picked = []
        while len(picked) < self.o.skus:  # round robin, so every family is on sale
            for family in families:
                if combos[family["code"]] and len(picked) < self.o.skus:
                    picked.append(combos[family["code"]].pop())
        picked.sort(key=lambda c: (c[0]["code"], c[1], c[3]))
        categories = {family["code"]: Category.objects.update_or_create(
            code=family["code"], defaults={"name_zh": family["name_zh"], "name_en": family["name_en"]})[0]
            for family in families}
        self.products: list[_Product] = []
        for seq, (family, item_no, item, variant_no, variant) in enumerate(picked, start=1):
            price = Decimal(item["price"]) * Decimal(variant["price"])
            # Shelf prices end in .90 above ten yuan, the way shops price them.
            price = (price.quantize(Decimal("1")) - Decimal("0.10") if price > 10 else price.quantize(Decimal("0.1")))
            price = price.quantize(CENT)
            shelf_life = item.get("shelf_life_days")
            prefix = prefixes[item["origin"]]
            body = f"{prefix}{self.rng.randrange(10 ** (8 - len(prefix))):0{8 - len(prefix)}d}{seq:04d}"
            # The shops sell at the list price; distributors and promotions stay within the review's tolerance.
            list_price = price if self.rng.random() >= UNLISTED_SHARE else None
            margin = Decimal(str(round(self.rng.uniform(*MARGIN), 3)))
            unit_cost = (price * (1 - margin)).quantize(CENT) if self.rng.random() >= UNCOSTED_SHARE else None
            sku = SKU(
                code=f"XY-{family['code']}-{item_no:02d}{variant_no:02d}",
                barcode=body + ean_check_digit(body),
                name_zh=f"{item['zh']} {variant['zh']}",
                name_en=f"{item['en']}, {variant['en']}",
                category=categories[family["code"]],
                unit=variant.get("unit") or item.get("unit") or "件",
                weight_grams=int(item["weight_g"] * Decimal(variant["weight"])),
                shelf_life_days=shelf_life,
                batch_tracked=bool(shelf_life) or item.get("batch_tracked", False),
                hs_code=item["hs_code"],
                origin_country=item["origin"],
                list_price=list_price,
                unit_cost=unit_cost,
                is_made_to_order=bool(item.get("made_to_order")),
                **self.stock_attributes(item, price, shelf_life),
            )
            self.products.append(_Product(sku, family, price))
        if all(p.sku.unit_cost is not None for p in self.products):  # at least one cost is still unknown
            self.products[-1].sku.unit_cost = None
        SKU.objects.bulk_create([p.sku for p in self.products], batch_size=BATCH)
        for product in self.products:
            product.sku.created_at = product.sku.updated_at = self.days_ago(400, 720)
        SKU.objects.bulk_update([p.sku for p in self.products], ["created_at", "updated_at"], batch_size=BATCH)
        self.shop_products = {
            code: [p for p in self.products if self.shops[code].platform in p.family["channels"]]
            for code in SHOP_CODES
        }
        # Consumers mostly buy the single tin, not the carton: weight their picks by 1/price.
        self.consumer_weights = {
            code: list(accumulate(1 / float(p.price) for p in products))
            for code, products in self.shop_products.items()
        }

    def stock_attributes(self, item, price: Decimal, shelf_life: int | None) -> dict:
        """Safety stock by price class (cheap goods move in bulk), an alert window of about a twelfth
        of the shelf life (30-90 days), and the fixture's minimum remaining shelf life, if any."""
        low, high = (100, 200) if price < 30 else (50, 120) if price < 100 else (30, 60) if price < 300 else (20, 30)
        attributes = {
            "safety_stock": self.stock_rng.randint(low // 5, high // 5) * 5,
            "min_remaining_shelf_life_days": item.get("min_remaining_shelf_life_days", 0),
        }
        if shelf_life:
            attributes["near_expiry_alert_days"] = min(90, max(30, round(shelf_life / 12 / 5) * 5))
        return attributes

    def pick_products(self, shop_code: str, count: int, business: bool) -> list[_Product]:
        products = self.shop_products[shop_code]
        count = min(count, len(products))
        if business:
            return self.rng.sample(products, count)
        cum, picked = self.consumer_weights[shop_code], []
        while len(picked) < count:
            product = products[bisect(cum, self.rng.random() * cum[-1])]
            if product not in picked:
                picked.append(product)
        return picked

    # -- customers -------------------------------------------------------------------------
    def build_customers(self):
        total = self.o.customers
        b2b = max(1, round(total * 0.1))
        douyin = max(1, round((total - b2b) * 0.6))
        youzan = total - b2b - douyin
        if youzan < 1:
            douyin, youzan = douyin - 1, 1
        plan = [("dy-xinyuan", douyin), ("yz-xinyuan", youzan), ("b2b-xinyuan", b2b)]
        self.buyers: dict[str, list[_Buyer]] = {code: [] for code, _n in plan}
        codes = set()
        regions = self.geo["regions"]
        for shop_code, count in plan:
            platform = self.shops[shop_code].platform
            for index in range(count):
                business = platform == Platform.B2B
                region = self.rng.choice(regions)
                contact = self.person()
                customer = Customer(
                    kind=Customer.Kind.B2B if business else Customer.Kind.B2C,
                    credit_score=self.rng.randint(40, 100),
                )
                if business:
                    city = region["city"].removesuffix("市")
                    customer.name = (f"{city}{self.rng.choice(self.names['company_trade_names'])}"
                                     f"{self.rng.choice(self.names['company_industries'])}"
                                     f"{self.rng.choice(self.names['company_suffixes'])}")
                    customer.code = f"b2b{DEMO_CUSTOMER_MARK}KH{index + 1:04d}"
                    customer.credit_limit = Decimal(self.rng.choice([20, 50, 80, 100, 200, 300, 500]) * 1000)
                    customer.payment_terms_days = self.rng.choice([0, 30, 30, 45, 60, 90])
                    customer.tier = (Customer.Tier.KEY_ACCOUNT if customer.credit_limit >= 300000
                                     else Customer.Tier.GOLD if customer.credit_limit >= 100000
                                     else Customer.Tier.SILVER)
                    if self.stock_rng.random() < 0.25:  # resellers who want fresh stock
                        customer.min_remaining_shelf_life_days = self.stock_rng.choice(CUSTOMER_SHELF_LIFE_DAYS)
                    nickname = customer.name
                else:
                    customer.name = contact
                    customer.tier = self.rng.choices(
                        [Customer.Tier.STANDARD, Customer.Tier.SILVER, Customer.Tier.GOLD], [80, 15, 5]
                    )[0]
                    nickname = (self.rng.choice(self.names["nicknames"]) if self.rng.random() < 0.5
                                else f"用户{self.rng.randrange(10**7, 10**8)}")
                if self.rng.random() < (0.04 if business else 0.015):
                    customer.is_blacklisted = True
                    customer.blacklist_reason = self.rng.choice(self.ops["blacklist_reasons"])
                    customer.credit_score = self.rng.randint(40, 55)
                landline_share = 0.35 if business else 0.04
                addresses = []
                for n in range(1 if self.rng.random() < 0.65 else 2):
                    where = region if n == 0 else self.rng.choice(regions)
                    phone = (self.landline(where, business and self.rng.random() < 0.3)
                             if self.rng.random() < landline_share else self.mobile())
                    addresses.append(Address(
                        customer=customer,
                        receiver=contact if n == 0 or self.rng.random() < 0.5 else self.person(),
                        phone=phone,
                        province=where["province"], city=where["city"], district=where["district"],
                        detail=self.street_address(where, business),
                        postal_code=where["postal_code"],
                    ))
                self.rng.choice(addresses).is_default = True
                customer.phone = next(a.phone for a in addresses if a.is_default)
                if not business:
                    identity = (f"tel:{customer.phone}" if platform == Platform.YOUZAN
                                else f"{self.rng.randrange(10**11, 10**12)}")
                    customer.code = f"{platform}{DEMO_CUSTOMER_MARK}{identity}"
                    while customer.code in codes:
                        customer.code += "x"
                codes.add(customer.code)
                self.buyers[shop_code].append(_Buyer(
                    customer=customer, addresses=addresses, nickname=nickname, shop=shop_code,
                    credit=business and customer.payment_terms_days > 0,
                    # Distributor prices: at most 8 % off the list, within the review's price tolerance.
                    discount=Decimal(self.rng.randint(92, 98)) / 100 if business else Decimal(1),
                ))
        all_buyers = [b for code, _n in plan for b in self.buyers[code]]
        business = [b.customer for b in self.buyers["b2b-xinyuan"]]
        if not any(c.min_remaining_shelf_life_days for c in business):  # at least one shows the rule
            business[0].min_remaining_shelf_life_days = 120
        # A trusted distributor the automatic approval can show: one address, pays with the order (no
        # receivables), credit score 90+.
        single = [b for b in self.buyers["b2b-xinyuan"] if len(b.addresses) == 1 and not b.customer.is_blacklisted]
        if single and not any(b.customer.credit_score >= 90 and not b.credit for b in single):
            trusted = max(single, key=lambda b: b.customer.credit_score)
            trusted.customer.credit_score = max(trusted.customer.credit_score, self.rng.randint(90, 98))
            trusted.customer.payment_terms_days, trusted.credit = 0, False
        consumers = [b.customer for code in ("dy-xinyuan", "yz-xinyuan") for b in self.buyers[code]]
        if not any(c.is_blacklisted for c in consumers):  # and one the blacklist rule stops
            consumers[-1].is_blacklisted = True
            consumers[-1].blacklist_reason = self.rng.choice(self.ops["blacklist_reasons"])
            consumers[-1].credit_score = self.rng.randint(40, 55)
        Customer.objects.bulk_create([b.customer for b in all_buyers], batch_size=BATCH)
        Address.objects.bulk_create([a for b in all_buyers for a in b.addresses], batch_size=BATCH)
        self.all_buyers = all_buyers
        # A few loyal buyers place most of the orders, as on any shop.
        self.buyer_weights = {
            code: list(accumulate(self.rng.paretovariate(1.2) for _b in buyers)) for code, buyers in self.buyers.items()
        }

    # -- orders ----------------------------------------------------------------------------
    def allocate_statuses(self, total: int) -> list[str]:
        shares = {str(k): v for k, v in STATUS_SHARES.items() if v > 0}
        whole = sum(shares.values())
        raw = {k: total * v / whole for k, v in shares.items()}
        counts = {k: int(v) for k, v in raw.items()}
        if total >= len(counts):
            counts = {k: max(1, c) for k, c in counts.items()}
        leftover = total - sum(counts.values())
        for k in sorted(raw, key=lambda k: raw[k] - int(raw[k]), reverse=True):
            if leftover <= 0:
                break
            counts[k] += 1
            leftover -= 1
        while leftover < 0:
            biggest = max(counts, key=counts.get)
            counts[biggest] -= 1
            leftover += 1
        statuses = [k for k in shares for _i in range(counts[k])]
        self.rng.shuffle(statuses)
        return statuses

    def pick_path(self, status: str, credit: bool) -> tuple[str, ...]:
        paths, cum = PATHS[status]
        path = paths[bisect(cum, self.rng.random() * cum[-1])]
        return credit_variant(path) if credit and self.rng.random() < 0.75 else path

    def fit_to_policies(self, path, order, lines) -> tuple[str, ...]:
        """The path as the approval policies have it: an order a policy asks signatures for went through
        approval instead of passing review, any other passed review instead of going through approval
        (a rejected one was cancelled after review instead). Same end, checked by walk()."""
        matched = [policy for policy, shop_ids in self.policies
                   if policy_reasons(policy, order, lines, shop_ids) is not None]
        needs_approval = any(policy.outcome == ApprovalPolicy.Outcome.REQUIRE for policy in matched)
        fitted, steps = [], iter(path)
        for name in steps:
            if needs_approval and name == "pass_review":
                fitted += ["require_approval", "approve"]
            elif not needs_approval and name == "require_approval":
                decision = next(steps, None)
                fitted += {"approve": ["pass_review"], "reject": ["pass_review", "cancel"]}.get(decision, [name])
            else:
                fitted.append(name)
        return tuple(fitted)

    def build_lines(self, order, buyer, shop_code) -> list[OrderLine]:
        business = buyer.customer.kind == Customer.Kind.B2B
        count = self.rng.choices([1, 2, 3, 4], [30, 30, 25, 15] if business else [55, 25, 13, 7])[0]
        lines = []
        for line_no, product in enumerate(self.pick_products(shop_code, count, business), start=1):
            on_sale = False
            if business:
                low, high = product.family["b2b_quantity"]
                quantity = self.rng.randint(low, high)
                quantity = quantity - quantity % 5 if quantity > 10 else quantity
                unit_price = (product.price * buyer.discount).quantize(CENT)
                # Distributors buy to a budget: cartons of toner come by the dozen, not by the hundred.
                budget = self.rng.choice([2000, 5000, 8000, 15000])
                quantity = max(1, min(quantity, int(budget / unit_price)))
            else:
                quantity = 1 if product.price > 300 else self.rng.choices([1, 2, 3, 4, 5, 6], [70, 15, 7, 3, 3, 2])[0]
                on_sale = self.rng.random() < 0.15
                unit_price = (product.price * Decimal("0.9")).quantize(CENT) if on_sale else product.price
            gross = quantity * unit_price
            discount = ZERO
            if business and self.rng.random() < 0.08:
                discount = (gross * Decimal("0.02")).quantize(CENT)
            elif not business and not on_sale and self.rng.random() < 0.12:
                # A coupon, never more than the review's 10 % price tolerance (nor on top of a sale).
                discount = min(Decimal(self.rng.choice([3, 5, 10, 20])), (gross / 10).quantize(CENT, ROUND_DOWN))
            lines.append(OrderLine(
                order=order, line_no=line_no, sku=product.sku, name=product.sku.name_zh,
                quantity=quantity, unit_price=unit_price, discount=discount, line_total=gross - discount,
            ))
        return lines

    def actor(self, name, source, order, shop_code, credit):
        """(user or None, label) of who would have made this move, within their scope."""
        token = (None, f"token:{shop_code}:demo")
        system = (None, SYSTEM_LABEL)
        agent_serves = self.shop_specs[shop_code].served_by_agent
        hz1 = order.warehouse.code == "HZ1"

        def user(role):
            return self.users[role], role

        roll = self.rng.random()
        if name == "pay":
            return token
        if name == "confirm":
            return user(roles.FINANCE if roll < 0.6 else roles.CS_LEAD)
        if name in ("pass_review", "require_approval"):
            return system if roll < 0.7 else user(roles.CS_LEAD)
        if name in ("approve", "reject"):
            return user(roles.MANAGER if shop_code != B2B_SHOP or roll < 0.5 else "manager2")
        if name in ("start_picking", "finish_picking", "pack", "ship", "return_to_ready"):
            return user(roles.WAREHOUSE_CLERK if hz1 and roll < 0.85 else roles.WAREHOUSE_LEAD)
        if name == "request_intercept":
            return user(roles.CS_AGENT if agent_serves and roll < 0.8 else roles.CS_LEAD)
        if name in ("intercept_succeeded", "intercept_failed"):
            return user(roles.WAREHOUSE_LEAD)
        if name == "cancel":
            if source == S.PENDING_PAYMENT:
                return token if roll < 0.7 else system
            if source in (S.PICKING, S.PICKED, S.PACKED):
                return user(roles.CS_LEAD)
            if source == S.PENDING_REVIEW and not credit and roll < 0.5:
                return token
            return user(roles.CS_AGENT if agent_serves and roll < 0.8 else roles.CS_LEAD)
        return system  # expire, carrier tracking, completion

    def transition_payload(self, name, source, order, paid_amount):
        reasons = self.ops["reasons"]
        if name == "pay":
            return {"amount": str(paid_amount)}
        if name == "ship":
            carrier = self.rng.choice(self.ops["carriers"])
            digits = carrier["digits"] - (len(carrier["prefix"]) if carrier["prefix"].isdigit() else 0)
            tracking = carrier["prefix"] + f"{self.rng.randrange(10**digits):0{digits}d}"
            return {"carrier": carrier["name"], "carrier_code": carrier["code"], "tracking_no": tracking}
        key = {
            "reject": "reject", "expire": "expire", "refuse": "refuse",
            "request_intercept": "intercept", "intercept_failed": "intercept_failed",
        }.get(name)
        if name == "cancel":
            key = ("cancel_unpaid" if source == S.PENDING_PAYMENT
                   else "cancel_late" if source in (S.PICKING, S.PICKED, S.PACKED) else "cancel_paid")
        return {"reason": self.rng.choice(reasons[key])} if key else {}

    def hold_type(self, status, buyer, lines, after_short_pick, review=True) -> str:
        """A hold that fits the order; without `review`, none of the review rules' (they open their own)."""
        if buyer.customer.is_blacklisted and review:
            return HoldType.BLACKLISTED
        if after_short_pick and status == S.READY:
            return HoldType.SHORT_PICK
        options = [HoldType.OUT_OF_STOCK, HoldType.OUT_OF_STOCK, HoldType.BUYER_REQUEST, HoldType.MANUAL]
        if status == S.PENDING_REVIEW:
            options += [HoldType.ADDRESS_UNRESOLVED, HoldType.PRICE_MISMATCH]
            if len(buyer.addresses) > 1:
                options.append(HoldType.MULTIPLE_ADDRESSES)
            if buyer.customer.credit_limit > 0:
                options += [HoldType.OVER_CREDIT_LIMIT] * 3
            if buyer.customer.kind == Customer.Kind.B2B and any(l.sku.origin_country != "CN" for l in lines):
                options.append(HoldType.CUSTOMS_INCOMPLETE)
        if any(l.sku.shelf_life_days for l in lines):
            options.append(HoldType.EXPIRY_CONFLICT)
        if not review:
            options = [kind for kind in options if kind not in REVIEW_HOLDS]
        return self.rng.choice(options)

    def add_hold(self, order, buyer, lines, status, hold_type, opened_at, released_at=None, context=None):
        customer = buyer.customer
        line = self.rng.choice(lines)
        owner = HOLD_OWNERS[hold_type]
        fields = {
            "sku": f"{line.sku.name_zh}（{line.sku.code}）", "need": line.quantity, "unit": line.sku.unit,
            "available": self.rng.randint(0, max(0, line.quantity - 1)), "days": self.rng.choice([90, 120, 180]),
            "detail": order.address_detail, "reason": customer.blacklist_reason or "信用风险",
            "receivable": f"{customer.credit_limit + order.grand_total:.2f}", "limit": f"{customer.credit_limit:.2f}",
            "price": f"{line.unit_price:.2f}", "country": line.sku.origin_country, **(context or {}),
        }
        reason = self.rng.choice(self.ops["hold_reasons"][hold_type]).format(**fields)
        automatic = hold_type not in MANUAL_HOLDS
        if automatic:
            opener, opener_label = None, SYSTEM_LABEL
        else:
            role = (roles.WAREHOUSE_LEAD if hold_type == HoldType.SHORT_PICK
                    else roles.CS_AGENT if self.shop_specs[buyer.shop].served_by_agent else roles.CS_LEAD)
            opener, opener_label = self.users[role], role
        hold = OrderHold(
            order=order, type=hold_type, reason=reason, owner_role=owner,
            details={"sku": line.sku.code, "status": status}, is_automatic=automatic,
            opened_at=opened_at, opened_by=opener,
        )
        opened = OrderEvent(
            order=order, type=OrderEvent.Type.HOLD_OPENED, name=hold_type, actor=opener,
            actor_label=opener_label, payload={"reason": reason, "automatic": automatic}, created_at=opened_at,
        )
        self.holds.append(hold)
        self.hold_events.append((opened, hold))
        events = [opened]
        if released_at is not None:
            releaser_role = HOLD_RELEASERS[owner]
            forced = self.rng.random() < 0.2
            resolution = (self.ops["forced_release"] if forced
                          else self.rng.choice(self.ops["hold_resolutions"][hold_type]))
            hold.released_at, hold.released_by, hold.resolution = released_at, self.users[releaser_role], resolution
            released = OrderEvent(
                order=order, type=OrderEvent.Type.HOLD_RELEASED, name=hold_type,
                actor=self.users[releaser_role], actor_label=releaser_role, is_intervention=forced,
                payload={"resolution": resolution}, created_at=released_at,
            )
            self.hold_events.append((released, hold))
            events.append(released)
        return events

    def money(self, order, lines, buyer, shop_code):
        business = buyer.customer.kind == Customer.Kind.B2B
        goods = sum((line.line_total for line in lines), ZERO)
        if business:
            shipping = Decimal(self.rng.choice([30, 50, 80])) if goods < 2000 else ZERO
            discount = goods % 10 if goods > 100 and self.rng.random() < 0.2 else ZERO  # rounding off the odd yuan
        else:
            shipping = ZERO if self.rng.random() < 0.85 else Decimal(self.rng.choice([6, 8, 10, 12, 15]))
            discount = ZERO
            if self.rng.random() < 0.35:
                discount = next((amount for threshold, amount in COUPONS if goods >= threshold), ZERO)
        order.goods_total = goods
        order.shipping_fee = shipping.quantize(CENT)
        order.discount_total = discount.quantize(CENT)
        order.grand_total = order.goods_total + order.shipping_fee - order.discount_total

    def build_orders(self):
        self.used_numbers: set[str] = set()
        self.orders = []
        with_journeys = self.o.orders >= JOURNEY_MIN_ORDERS
        self.make_random_orders(self.o.orders - (JOURNEY_ORDERS if with_journeys else 0))
        if with_journeys:
            self.build_journeys()
            # A journey that found no fitting buyer (a small demo) leaves its place to an ordinary order.
            self.make_random_orders(self.o.orders - len(self.orders))

        # B2B order numbers run per day in the order they were placed.
        per_day: dict[str, int] = {}
        for order in sorted((o for o in self.orders if not o.external_id), key=lambda o: o.placed_at):
            day = f"{order.placed_at.astimezone(DEMO_TZ):%Y%m%d}"
            per_day[day] = per_day.get(day, 0) + 1
            order.external_id = f"B2B-{day}-{per_day[day]:04d}"
        for order in self.orders:
            if not order.shop.accepts_order_number(order.external_id):
                raise DemoError(f"order number {order.external_id} does not fit shop {order.shop.code}")

    def make_random_orders(self, total: int):
        shop_cum = list(accumulate(spec.share for spec in SHOPS))
        for final in self.allocate_statuses(total):
            spec = SHOPS[bisect(shop_cum, self.rng.random() * shop_cum[-1])]
            self.make_order(final, spec, self.pick_buyer(spec.code))

    def pick_buyer(self, shop_code: str) -> _Buyer:
        weights = self.buyer_weights[shop_code]
        return self.buyers[shop_code][bisect(weights, self.rng.random() * weights[-1])]

    def make_order(self, final, spec, buyer, *, address=None, path=None, lines=None, dwell=None, hold="",
                   author=None) -> Order:
        """One order and its history, ending in `final`. A journey may choose the address, the path, the
        lines (a function of the order), how long it has waited, its open hold and who keyed it in."""
        shop = self.shops[spec.code]
        business = buyer.customer.kind == Customer.Kind.B2B
        chosen_path = path is not None
        if address is None:
            address = (next(a for a in buyer.addresses if a.is_default) if self.rng.random() < 0.8
                       else self.rng.choice(buyer.addresses))
        if spec.warehouses:
            # The shop's list decides, not the address: the first warehouse, the next when it could not serve.
            warehouse = self.warehouses[spec.warehouses[0] if self.rng.random() < 0.9 else spec.warehouses[1]]
        elif address.province in self.geo["south_provinces"]:
            warehouse = self.warehouses["GZ2"] if self.rng.random() < 0.7 else shop.default_warehouse
        else:
            warehouse = self.warehouses["HZ1"] if self.rng.random() < 0.5 else shop.default_warehouse
        order = Order(
            shop=shop, platform=shop.platform, customer=buyer.customer, buyer_nickname=buyer.nickname,
            warehouse=warehouse, status=final, receiver_name=address.receiver, receiver_phone=address.phone,
            phone_tail=phone_tail(address.phone), province=address.province, city=address.city,
            district=address.district, address_detail=address.detail, postal_code=address.postal_code,
        )
        lines = lines(order) if lines else self.build_lines(order, buyer, spec.code)
        self.money(order, lines, buyer, spec.code)
        path = self.fit_to_policies(path or self.pick_path(final, buyer.credit), order, lines)
        hops = walk(path)
        if (hops[-1][2] if hops else S.PENDING_PAYMENT) != final:
            raise InvalidDemoPath(f"path {path} does not end in {final!r}")

        # Time line: step delays first, then slide it so it ends where the status says.
        delays = [self.minutes(*STEP_MINUTES_FROM.get((n, src), STEP_MINUTES[n])) for n, src, _t in hops]
        span = sum(delays, timedelta())
        if dwell is not None:
            tail = dwell
        elif final in TERMINAL_STATUSES:
            history = timedelta(days=B2B_HISTORY_DAYS if business else HISTORY_DAYS)
            room = max(3600, int((history - span).total_seconds()))
            tail = timedelta(seconds=self.rng.randint(3600, room))
        elif final == S.PENDING_PAYMENT:
            window = timedelta(minutes=spec.payment_window_minutes)
            self.unpaid += 1
            if self.unpaid % OVERDUE_EVERY == 2:
                tail = window + self.minutes(*DWELL_MINUTES[final])
            else:
                tail = timedelta(seconds=self.rng.randint(20, int(window.total_seconds()) - 20))
        else:
            tail = self.minutes(*DWELL_MINUTES[final])
        placed_at = (self.anchor - tail - span).replace(microsecond=0)
        times = [placed_at + d for d in accumulate(delays)]
        order.placed_at = placed_at
        order.status_changed_at = times[-1] if times else placed_at

        names = [n for n, _s, _t in hops]
        if "pay" not in names and "confirm" not in names:
            # Intake gives every order its shop's payment window; paying or confirming clears it.
            order.payment_due_at = placed_at + timedelta(minutes=spec.payment_window_minutes)
        if "pay" in names:
            order.paid_at = times[names.index("pay")]
            order.payment_status, order.paid_amount = PaymentStatus.PAID, order.grand_total
            # Presale deposits: a few, and at least one so the demo shows the case.
            wants_deposit = not chosen_path and (self.rng.random() < 0.15 or not self.deposits)
            if final == S.PENDING_REVIEW and wants_deposit and order.grand_total >= 10:
                self.deposits += 1
                order.payment_status = PaymentStatus.DEPOSIT_PAID
                share = self.rng.choice([20, 25, 30])
                order.paid_amount = (order.grand_total * share / 100).quantize(Decimal("1")).quantize(CENT)
        if "pass_review" in names or "require_approval" in names:
            order.region_code = self.region_code(order)  # what review derives from the address
        intercepts = [src for n, src, _t in hops if n == "request_intercept"]
        order.status_before_intercept = intercepts[-1] if intercepts else ""
        remarks = self.remarks
        if business:
            order.buyer_remark = self.rng.choice(remarks["b2b_buyer_remarks"]) if self.rng.random() < 0.4 else ""
        else:
            order.buyer_remark = self.rng.choice(remarks["buyer_remarks"]) if self.rng.random() < 0.3 else ""
        order.seller_remark = self.rng.choice(remarks["seller_remarks"]) if self.rng.random() < 0.1 else ""
        if shop.platform == Platform.DOUYIN:
            number = f"dy_{self.rng.randint(4, 6)}{self.rng.randrange(10**18):018d}"
        elif shop.platform == Platform.YOUZAN:
            number = f"yz_E{placed_at.astimezone(DEMO_TZ):%Y%m%d%H%M%S}{self.rng.randrange(10**8):08d}"
        else:
            number = ""  # B2B numbers count per day, so they are given once all orders are placed
        while number and number in self.used_numbers:
            number += str(self.rng.randint(0, 9))
        self.used_numbers.add(number)
        order.external_id = number

        created_actor = (None, f"token:{spec.code}:demo")
        channel = "api"
        if author is not None:
            created_actor, channel = (author, author.get_username()), "manual"
        elif business and self.rng.random() < 0.3:
            created_actor, channel = (self.users[roles.CS_LEAD], roles.CS_LEAD), "manual"
        order.created_by = created_actor[0]
        events = [OrderEvent(
            order=order, type=OrderEvent.Type.CREATED, to_status=S.PENDING_PAYMENT,
            actor=created_actor[0], actor_label=created_actor[1],
            payload={"channel": channel, "platform": shop.platform}, created_at=placed_at,
        )]
        released_once = False
        for index, ((name, source, target), at) in enumerate(zip(hops, times)):
            user, label = self.actor(name, source, order, spec.code, buyer.credit)
            payload = self.transition_payload(name, source, order, order.paid_amount)
            intervention = source in (S.PICKING, S.PICKED, S.PACKED) and name == "cancel"
            if not intervention and name in ("approve", "return_to_ready", "pass_review"):
                intervention = self.rng.random() < {"approve": 0.1, "return_to_ready": 0.2}.get(name, 0.01)
                if intervention and name == "pass_review":
                    user, label = self.users[roles.CS_LEAD], roles.CS_LEAD
            if intervention:
                payload.setdefault("reason", self.rng.choice(self.ops["reasons"]["intervention"]))
            events.append(OrderEvent(
                order=order, type=OrderEvent.Type.TRANSITION, name=name, from_status=source,
                to_status=target, actor=user, actor_label=label, payload=payload,
                is_intervention=intervention, created_at=at,
            ))
            # A hold that was opened and cleared while the order waited here. A blacklisted buyer's order
            # got past review only because someone released the blacklist hold.
            following = hops[index + 1][0] if index + 1 < len(hops) else None
            stopped = self.rng.random() < 0.015 or (target == S.PENDING_REVIEW and buyer.customer.is_blacklisted)
            if (target in (S.PENDING_REVIEW, S.READY) and following in HOLD_BLOCKED_TRANSITIONS
                    and not released_once and stopped):
                released_once = True
                gap = times[index + 1] - at
                kind = self.hold_type(target, buyer, lines, source == S.PICKING)
                events += self.add_hold(order, buyer, lines, target, kind, (at + gap * 0.2).replace(microsecond=0),
                                        (at + gap * 0.8).replace(microsecond=0))
        # Holds still open. The review rules' come from the real review (journeys) and, for stock, the real
        # reservation (build_stock), so they match the data.
        kinds = [hold] if hold else []
        if not hold and not chosen_path and final in (S.PENDING_REVIEW, S.READY):
            chance = 0.2 if final == S.PENDING_REVIEW else 0.25
            after_short_pick = bool(hops) and hops[-1][0] == "return_to_ready"
            if after_short_pick or self.rng.random() < chance:
                kinds = [self.hold_type(final, buyer, lines, after_short_pick, review=False)]
                if self.rng.random() < 0.1:
                    kinds.append(self.rng.choice([HoldType.BUYER_REQUEST, HoldType.MANUAL]))
        last = order.status_changed_at
        for kind in dict.fromkeys(kinds):  # one open hold per type
            context = None
            if kind == HoldType.STALLED_IN_TRANSIT:  # raised when the parcel's tracking fell silent
                shipped = next(e.payload for e in events if e.name == "ship")
                context = {"carrier": shipped["carrier"], "tracking": shipped["tracking_no"],
                           "hours": STALLED_AFTER_HOURS}
                opened_at = last + timedelta(hours=STALLED_AFTER_HOURS)
            else:
                opened_at = (last + (self.anchor - last) * self.rng.uniform(0.05, 0.6)).replace(microsecond=0)
            events += self.add_hold(order, buyer, lines, final, kind, opened_at, context=context)
        events.sort(key=lambda e: e.created_at)
        self.events += events
        self.lines += lines
        self.order_lines.append((order, lines))
        buyer.orders.append(order)
        self.orders.append(order)
        return order

    def region_code(self, order) -> str:
        """The district's administrative code, as review resolves the address ("" when it cannot)."""
        key = (order.province, order.city, order.district)
        if key not in self.regions:
            region = resolve_region(province=order.province, city=order.city, district=order.district,
                                    detail=order.address_detail)
            self.regions[key] = region.adcode if region else ""
        return self.regions[key]

    # -- journeys ----------------------------------------------------------------------------
    def build_journeys(self):
        """Orders built to show the review rules and the approvals at work: the real services take them
        over once stock is in place (run_journeys). Buyers are chosen so that nothing but the journey's
        own point stops their order; the stock they need is kept out of the shortage plan."""
        # The over-limit distributor first, so that it is no other journey's buyer; the stock shortages
        # last, on products no other order waits for.
        self.rule_journeys([(hold, hours) for hold, hours in RULE_JOURNEYS if hold not in STOCK_HOLDS])
        self.approval_journeys()
        self.hold_journeys()
        self.rule_journeys([(hold, hours) for hold, hours in RULE_JOURNEYS if hold in STOCK_HOLDS])
        self.protected = self.journey_places()

    def journey_places(self) -> set[tuple[int, int]]:
        """(warehouse pk, SKU pk) where the journeys' orders (but the stock shortages') reserve their stock."""
        orders = {id(journey.order) for journey in self.journeys if journey.expect_hold not in STOCK_HOLDS}
        return {(self.reserving_warehouse(order).pk, line.sku_id)
                for order, lines in self.order_lines if id(order) in orders for line in lines}

    def usual_address(self, buyer) -> Address:
        """Where the buyer's open orders go; the default address when they have none, or go to several."""
        default = next(a for a in buyer.addresses if a.is_default)
        places = {place_of(o) for o in buyer.orders if o.status in PRE_SHIPMENT_STATUSES}
        return next((a for a in buyer.addresses if {place_of(a)} == places), default)

    def owed(self, buyer) -> Decimal:
        """What the review's credit rule counts: the unpaid part of the buyer's live orders."""
        return sum((o.grand_total - o.paid_amount for o in buyer.orders if o.status not in OPEN_FOR_CREDIT_EXCLUDED),
                   ZERO)

    def passes_review(self, buyer, address, *, credit=True) -> bool:
        """Whether the review rules would let this buyer's next order to `address` through: not
        blacklisted, no open order to another address and (with `credit`) within the credit limit.
        (Stock is kept for the journeys, see build_journeys.)"""
        customer = buyer.customer
        elsewhere = any(place_of(o) != place_of(address) for o in buyer.orders if o.status in PRE_SHIPMENT_STATUSES)
        over_limit = (bool(customer.credit_limit or customer.payment_terms_days)
                      and self.owed(buyer) > customer.credit_limit)
        return not (customer.is_blacklisted or elsewhere or (credit and over_limit))

    def history_rank(self, buyer) -> tuple:
        """Buyers with a year of finished and failed orders and credit terms first: the approver's
        context shows their figures."""
        since = self.anchor - timedelta(days=365)
        recent = [o for o in buyer.orders if o.placed_at >= since]
        done = any(o.status in (S.DELIVERED, S.COMPLETED) for o in recent)
        failed = any(o.status in (S.CANCELLED, S.EXPIRED, S.REFUSED, S.INTERCEPTED) for o in recent)
        return done and failed, buyer.customer.payment_terms_days > 0, len(recent)

    def journey_lines(self, order, *, buyer, products, amount, cut=None) -> list[OrderLine]:
        """One line per product at the buyer's price, together worth about `amount`; `cut` prices the
        first at that share of its list price instead (a price keyed in wrong)."""
        lines = []
        for line_no, product in enumerate(products, start=1):
            unit_price = (product.price * (cut if cut and line_no == 1 else buyer.discount)).quantize(CENT)
            quantity = max(1, math.ceil(Decimal(amount) / len(products) / unit_price))
            lines.append(OrderLine(order=order, line_no=line_no, sku=product.sku, name=product.sku.name_zh,
                                   quantity=quantity, unit_price=unit_price, discount=ZERO,
                                   line_total=quantity * unit_price))
        return lines

    def approval_journeys(self):
        """The distributors' shop's orders for each policy shape, waiting or decided (APPROVAL_JOURNEYS)."""
        spec = self.shop_specs[B2B_SHOP]
        candidates = sorted((b for b in self.buyers[B2B_SHOP] if self.passes_review(b, self.usual_address(b))),
                            key=self.history_rank, reverse=True)
        # One trusted distributor (credit score 90+) and up to three others (below 90) carry the journeys.
        scores = {"90+": [b for b in candidates if b.customer.credit_score >= 90][:1],
                  "below 90": [b for b in candidates if b.customer.credit_score < 90][:3]}
        scores["any"] = scores["below 90"] or scores["90+"]
        products = self.shop_products[B2B_SHOP]
        made_to_order = [p for p in products if p.sku.is_made_to_order]
        pool = [p for p in products if not p.sku.is_made_to_order and p.price >= 100]
        limit = timedelta(hours=max((level.time_limit_hours for policy, _s in self.policies
                                     for level in policy.levels.all()), default=24))
        for index, (name, hours, (low, high), score, author, then) in enumerate(APPROVAL_JOURNEYS):
            buyers = scores[score]
            if not buyers or not pool or (name == "made to order" and not made_to_order):
                continue
            buyer = buyers[index % len(buyers)]
            picked = self.rng.sample(pool, min(len(pool), self.rng.randint(1, 3)))
            if name == "made to order":
                picked = [self.rng.choice(made_to_order), *picked[:1]]
            lines = partial(self.journey_lines, buyer=buyer, products=picked, amount=self.rng.randint(low, high))
            order = self.make_order(S.PENDING_REVIEW, spec, buyer, address=self.usual_address(buyer),
                                    path=("pay",), lines=lines, dwell=timedelta(hours=hours) + self.minutes(0, 40),
                                    author=self.users[author] if author else None)
            expect = {"approved": S.READY, "automatic": S.READY, "rejected": S.CANCELLED}.get(name, S.PENDING_APPROVAL)
            journey = _Journey(f"approval: {name}", order, expect)
            for hours_ago, who, outcome in then:
                if outcome == "escalate":  # the schedule's next run after the step's time limit
                    at = order.status_changed_at + REVIEW_DELAY + limit + ESCALATION_RUN
                else:
                    at = self.anchor - timedelta(hours=hours_ago) + self.minutes(0, 30)
                comments = ("production" if who == PRODUCTION else outcome if outcome == "reject"
                            else "countersign" if name == "countersign" else "approve")
                journey.then.append((at, who, outcome, comments))
            self.journeys.append(journey)

    def rule_journeys(self, journeys):
        """Orders each review rule stops (RULE_JOURNEYS): the real review opens the hold."""
        consumers = [b for code in SHOP_CODES if code != B2B_SHOP for b in self.buyers[code]]
        fresh = [b for b in consumers if self.passes_review(b, self.usual_address(b))
                 and not any(o.status in PRE_SHIPMENT_STATUSES for o in b.orders)]
        self.rng.shuffle(fresh)
        pool = [p for p in self.shop_products[B2B_SHOP] if not p.sku.is_made_to_order and p.price >= 100]
        listed = [p for p in pool if p.sku.list_price]
        for hold, hours in journeys:
            dwell = timedelta(hours=hours) + self.minutes(0, 40)
            distributors = [b for b in self.buyers[B2B_SHOP] if self.passes_review(b, self.usual_address(b))]
            made = []
            if hold == HoldType.ADDRESS_UNRESOLVED and fresh:
                # A platform address whose province, city and district do not go together.
                buyer = fresh.pop()
                home = self.usual_address(buyer)
                where = self.rng.choice(self.ops["unresolved_addresses"])
                address = Address(receiver=home.receiver, phone=home.phone, **where)
                made.append(self.make_order(S.PENDING_REVIEW, self.shop_specs[buyer.shop], buyer, address=address,
                                            path=("pay",), dwell=dwell))
            elif hold == HoldType.PRICE_MISMATCH and distributors and len(listed) >= 2:
                # Keyed in by the sales desk at 30 % under the list price.
                buyer = self.rng.choice(distributors)
                lines = partial(self.journey_lines, buyer=buyer, products=self.rng.sample(listed, 2),
                                amount=self.rng.randint(2000, 4000), cut=Decimal("0.7"))
                made.append(self.make_order(S.PENDING_REVIEW, self.shop_specs[B2B_SHOP], buyer,
                                            address=self.usual_address(buyer), path=("pay",), lines=lines,
                                            dwell=dwell, author=self.users[roles.CS_LEAD]))
            elif hold == HoldType.BLACKLISTED:
                # Preferably a buyer without open orders, so that the blacklist is the only reason.
                listed_buyers = sorted((b for b in consumers if b.customer.is_blacklisted),
                                       key=lambda b: any(o.status in PRE_SHIPMENT_STATUSES for o in b.orders))
                if listed_buyers:
                    buyer = listed_buyers[0]
                    made.append(self.make_order(S.PENDING_REVIEW, self.shop_specs[buyer.shop], buyer,
                                                address=self.usual_address(buyer), path=("pay",), dwell=dwell))
            elif hold == HoldType.OVER_CREDIT_LIMIT:
                # A distributor (on credit terms, preferably) confirms one more order than its limit allows.
                others = [b for b in self.buyers[B2B_SHOP]
                          if self.passes_review(b, self.usual_address(b), credit=False)]
                if others and pool:
                    buyer = min(others, key=lambda b: (not b.customer.payment_terms_days,
                                                       b.customer.credit_limit - self.owed(b)))
                    room = max(buyer.customer.credit_limit - self.owed(buyer), ZERO)
                    lines = partial(self.journey_lines, buyer=buyer, products=self.rng.sample(pool, 1),
                                    amount=room + self.rng.randint(2000, 8000))
                    made.append(self.make_order(S.PENDING_REVIEW, self.shop_specs[B2B_SHOP], buyer,
                                                address=self.usual_address(buyer), path=("confirm",),
                                                lines=lines, dwell=dwell))
            elif hold == HoldType.MULTIPLE_ADDRESSES and fresh:
                # Two orders from one buyer within the hour, to two addresses: review stops both.
                buyer = fresh.pop()
                home = self.usual_address(buyer)
                other = next((a for a in buyer.addresses if a is not home), None)
                if other is None:
                    region = self.rng.choice([r for r in self.geo["regions"] if r["city"] != home.city])
                    other = Address(receiver=self.person(), phone=self.mobile(), province=region["province"],
                                    city=region["city"], district=region["district"],
                                    detail=self.street_address(region, False), postal_code=region["postal_code"])
                spec = self.shop_specs[buyer.shop]
                made.append(self.make_order(S.PENDING_REVIEW, spec, buyer, address=home, path=("pay",),
                                            dwell=dwell + timedelta(minutes=40)))
                made.append(self.make_order(S.PENDING_REVIEW, spec, buyer, address=other, path=("pay",), dwell=dwell))
            elif hold in STOCK_HOLDS:
                # One line of a product the stock plan leaves short in the shop's warehouse (out of stock, or
                # only in a lot too close to expiry for this SKU), preferably one nobody else waits for there,
                # never one another journey needs.
                busy, needed = self.waiting_places(), self.journey_places()
                for buyer in reversed(fresh):
                    spec = self.shop_specs[buyer.shop]
                    warehouse = self.warehouses[spec.warehouse]
                    fitting = [p for p in self.shop_products[spec.code] if (warehouse.pk, p.sku.pk) not in needed
                               and p.price * 3 <= 5000  # not an order that would need approval, were it served
                               and (hold == HoldType.OUT_OF_STOCK or (p.sku.shelf_life_days and p.sku.batch_tracked
                                                                       and p.sku.min_remaining_shelf_life_days))]
                    if fitting:
                        fresh.remove(buyer)
                        product = self.rng.choice([p for p in fitting if (warehouse.pk, p.sku.pk) not in busy]
                                                  or fitting)
                        lines = partial(self.journey_lines, buyer=buyer, products=[product],
                                        amount=product.price * self.rng.randint(2, 3))
                        made.append(self.make_order(S.PENDING_REVIEW, spec, buyer, address=self.usual_address(buyer),
                                                    path=("pay",), lines=lines, dwell=dwell))
                        self.shortages[(warehouse.pk, product.sku.pk)] = (
                            "out_of_stock" if hold == HoldType.OUT_OF_STOCK else "short_dated")
                        break
            self.journeys += [_Journey(f"review: {hold}", order, S.PENDING_REVIEW, hold) for order in made]

    def reserving_warehouse(self, order) -> Warehouse:
        """Where the order's stock is reserved. Orders being picked were reserved where they are; the
        reservation (inventory.services) gives the others their shop's first listed warehouse, or the
        shop's default warehouse."""
        if order.status in IN_PICKING:
            return order.warehouse
        spec = self.shop_specs[order.shop.code]
        return self.warehouses[spec.warehouses[0] if spec.warehouses else spec.warehouse]

    def waiting_places(self) -> set[tuple[int, int]]:
        """(warehouse pk, SKU pk) of every line of an open order, where its stock is reserved."""
        return {(self.reserving_warehouse(order).pk, line.sku_id)
                for order, lines in self.order_lines if order.status in OPEN_STATUSES for line in lines}

    def hold_journeys(self):
        """One order waiting under each hold no review rule opens (HOLD_JOURNEYS), opened the demo's way."""
        imported = [p for p in self.shop_products[B2B_SHOP]
                    if p.sku.origin_country != "CN" and not p.sku.is_made_to_order]
        taken = {id(journey.order.customer) for journey in self.journeys}
        for hold, shop_code, final in HOLD_JOURNEYS:
            # Preferably not a buyer of another journey; if so, to the same address and paid, so that
            # nothing in it stops the other one at review.
            buyer = self.rng.choice([b for b in self.buyers[shop_code] if id(b.customer) not in taken]
                                    or self.buyers[shop_code])
            options = {"address": self.usual_address(buyer)}
            if hold == HoldType.CUSTOMS_INCOMPLETE and imported:
                options["lines"] = partial(self.journey_lines, buyer=buyer, products=self.rng.sample(imported, 1),
                                           amount=self.rng.randint(2000, 4500))
                options["path"] = ("pay",)
            elif hold == HoldType.SHORT_PICK:
                options["path"] = ("pay", "pass_review", "start_picking", "return_to_ready")
            elif hold == HoldType.STALLED_IN_TRANSIT:  # longer in transit than any other parcel
                options["dwell"] = timedelta(hours=STALLED_AFTER_HOURS) + self.minutes(8 * 60, 30 * 60)
            order = self.make_order(final, self.shop_specs[shop_code], buyer, hold=hold, **options)
            self.journeys.append(_Journey(f"hold: {hold}", order, final, hold, review=False))

    def save_orders(self):
        # What intake derives: the channel's ship-by promise and tags from remark keywords.
        keywords = list(RemarkKeyword.objects.filter(is_active=True).values_list("keyword", "tag"))
        for order in self.orders:
            order.promised_ship_by = promised_ship_by(order.shop, order.placed_at)
        Order.objects.bulk_create(self.orders, batch_size=BATCH)
        OrderTag.objects.bulk_create(
            [OrderTag(order=order, tag=tag, source=keyword) for order in self.orders
             for tag, keyword in tags_for_remarks(order.buyer_remark, order.seller_remark, keywords=keywords).items()],
            batch_size=BATCH)
        OrderLine.objects.bulk_create(self.lines, batch_size=BATCH)
        OrderHold.objects.bulk_create(self.holds, batch_size=BATCH)
        for event, hold in self.hold_events:
            event.payload["hold_id"] = hold.pk
        OrderEvent.objects.bulk_create(self.events, batch_size=BATCH)
        # auto_now_add stamped "now"; the story says when these rows came to be.
        Order.objects.filter(shop__in=self.shops.values()).update(
            created_at=F("placed_at"), updated_at=F("status_changed_at")
        )
        for buyer in self.all_buyers:
            first = min((o.placed_at for o in buyer.orders), default=None)
            since = (first - timedelta(days=self.rng.randint(0, 60), minutes=self.rng.randint(1, 600))
                     if first else self.days_ago(5, 200))
            buyer.customer.created_at = buyer.customer.updated_at = since
            for address in buyer.addresses:
                address.created_at = address.updated_at = since
        Customer.objects.bulk_update([b.customer for b in self.all_buyers], ["created_at", "updated_at"],
                                     batch_size=BATCH)
        Address.objects.bulk_update([a for b in self.all_buyers for a in b.addresses],
                                    ["created_at", "updated_at"], batch_size=BATCH)

    # -- stock -----------------------------------------------------------------------------
    # The ledger starts with an opening count shortly before the oldest open order came in: every
    # place's stock arrives as receipt lines then. Orders that had shipped (or been cancelled or
    # expired) before the anchor are history from before the ledger: their goods are not part of
    # the count, so they have no reserve, issue or release lines. That is a simplification for the
    # few that moved between the count and the anchor, kept so the levels stay easy to reason about.
    def build_stock(self):
        open_orders = [(o, lines) for o, lines in self.order_lines if o.status in OPEN_STATUSES]
        first_open = min((o.placed_at for o, _l in open_orders), default=self.anchor - timedelta(days=1))
        self.opening = (first_open - timedelta(hours=2)).replace(minute=0, second=0)
        plan = self.plan_stock(open_orders)
        levels = self.receive_stock(plan)
        self.quarantine_batches(levels)
        self.reserve_picking(open_orders, levels)
        short = self.reserve_open_orders(open_orders)
        self.date_reservations(open_orders, short)
        if self.journeys:
            self.quarantine_picked_batch()

    def plan_stock(self, open_orders):
        """Per (warehouse, SKU): how much stock, in which lots. Sellable stock = what open orders
        need + a spare that the place's situation decides; expired, blocked and quarantined lots
        come on top of that."""
        rng = self.stock_rng
        since = self.anchor - timedelta(days=DEMAND_DAYS)
        demand, picking, waiting = defaultdict(int), defaultdict(int), defaultdict(int)
        for order, lines in self.order_lines:
            if order.placed_at >= since and order.status not in (S.CANCELLED, S.EXPIRED):
                for line in lines:  # the alerts' week of demand
                    demand[(order.warehouse_id, line.sku_id)] += line.quantity
        for order, lines in open_orders:
            if order.status in IN_PICKING:
                for line in lines:
                    picking[(order.warehouse_id, line.sku_id)] += line.quantity
            else:
                warehouse = self.reserving_warehouse(order)
                for line in lines:
                    waiting[(warehouse.pk, line.sku_id)] += line.quantity

        places = [(p.sku, self.warehouses[code]) for p in self.products for code in WAREHOUSE_CODES]
        dated = {(w.pk, s.pk) for s, w in places if s.batch_tracked and s.shelf_life_days}
        eligible = {  # never where a journey needs its stock
            "out_of_stock": lambda key, sku: waiting[key] >= 2 and key not in self.protected,
            "short_dated": lambda key, sku: (key in dated and sku.min_remaining_shelf_life_days > 0 and waiting[key] > 0
                                             and key not in self.protected),
            "low_cover": lambda key, sku: demand[key] >= 5,
            "below_safety": lambda key, sku: True,
        }
        situation = dict(self.shortages)  # the stock journeys' places first
        for name, share, floor in STOCK_SITUATIONS:
            pool = [(w.pk, s.pk) for s, w in places
                    if (w.pk, s.pk) not in situation and eligible[name]((w.pk, s.pk), s)]
            for key in rng.sample(pool, min(len(pool), max(floor, round(len(places) * share)))):
                situation[key] = name
        self.situations = situation  # (warehouse pk, SKU pk) -> situation, for a look afterwards
        usual = sorted(key for key in dated if situation.get(key) != "short_dated" and key not in self.shortages)
        near = set(rng.sample(usual, min(len(usual), max(1, round(len(usual) * NEAR_EXPIRY_SHARE)))))
        expired = set(rng.sample(usual, min(len(usual), max(1, round(len(usual) * EXPIRED_SHARE)))))
        comfortable = [key for key in usual if key not in situation]
        quarantined = set(rng.sample(comfortable, min(len(comfortable), QUARANTINED_BATCHES)))

        plan = []  # (warehouse, sku, [(kind, days left or None, quantity)])
        for sku, warehouse in places:
            key = (warehouse.pk, sku.pk)
            kind = situation.get(key, "comfortable")
            need, safety, weekly = picking[key] + waiting[key], sku.safety_stock, demand[key]
            if kind == "comfortable":
                spare = max(math.ceil(safety * rng.uniform(1.3, 2.5)), math.ceil(weekly * rng.uniform(1.8, 3.5)))
                sellable = -(-(need + spare) // 10) * 10  # counted in tens
            elif kind == "below_safety":
                sellable = need + max(1, int(safety * rng.uniform(0.2, 0.75)))
            elif kind == "low_cover":  # below COVER_ALERT_BELOW weeks of demand
                sellable = need + max(1, int(weekly * rng.uniform(0.3, 0.9)))
            elif kind == "out_of_stock":  # the pickers' share and part of the rest: later orders wait
                spare = 1 if key in self.shortages else max(1, int(waiting[key] * rng.uniform(0.2, 0.7)))
                sellable = picking[key] + spare  # a stock journey orders two or more: short either way
            else:  # short_dated: the waiting orders' share is in a lot too close to expiry for this SKU
                spare = 0 if key in self.shortages else min(rng.randint(1, 3), waiting[key] - 1)
                sellable = picking[key] + spare
            spare = sellable - need
            if not sku.batch_tracked:
                plan.append((warehouse, sku, [("plain", None, sellable)]))
                continue
            if not sku.shelf_life_days:  # devices: lots without an expiry date
                count = min(rng.randint(2, 3), sellable)
                plan.append((warehouse, sku, [("undated", None, q) for q in self.split(sellable, count)]))
                continue
            lots = []
            alert, floor_days = sku.near_expiry_alert_days, max(sku.min_remaining_shelf_life_days, 1)
            if key in expired:  # counted, waiting to be scrapped: never allocated
                lots.append(("expired", rng.randint(-60, 0), rng.randint(2, 24)))
            near_share = 0
            if key in near:
                days = rng.randint(1, alert)
                if days < floor_days:  # blocked for this SKU anyway, so on top of the plan
                    lots.append(("near", days, rng.randint(3, 30)))
                elif spare >= 4:  # allocatable: FEFO serves it first
                    near_share = max(1, int(spare * rng.uniform(0.15, 0.5)))
                    lots.append(("near", days, near_share))
            if kind == "short_dated":
                low, high = alert + 10, sku.min_remaining_shelf_life_days - 5
                if low > high:
                    low, high = 1, sku.min_remaining_shelf_life_days - 1
                lots.append(("short", rng.randint(low, high), waiting[key] + rng.randint(10, 40)))
            # Far lots outlast every customer's minimum, so open orders are served whoever they are.
            far_low = max(max(CUSTOMER_SHELF_LIFE_DAYS), floor_days, alert) + 20
            far_high = max(far_low, sku.shelf_life_days - 7)
            extra = 1 if key in quarantined else 0
            fewest = max(1, 2 - len(lots) - extra)
            count = min(rng.randint(fewest, max(fewest, 4 - len(lots) - extra)), sellable - near_share)
            days = sorted(rng.randint(far_low, far_high) for _i in range(count))
            lots += [("far", d, q) for d, q in zip(days, self.split(sellable - near_share, count))]
            if extra:
                lots.append(("quarantine", rng.randint(far_low, far_high), rng.randint(20, 80)))
            plan.append((warehouse, sku, lots))
        return plan

    def split(self, total: int, parts: int) -> list[int]:
        """`total` in `parts` positive amounts, smallest first (older lots have been sold down)."""
        cuts = sorted(self.stock_rng.sample(range(1, total), parts - 1)) if parts > 1 else []
        return sorted(b - a for a, b in zip([0, *cuts], [*cuts, total]))

    def pick_location(self, sku, lot_index: int) -> str:
        """A pick face per SKU and lot: the aisle by product family, the bay by SKU, the shelf level by
        lot, so a FEFO pick walks one aisle at a time (A-03-2: aisle A, bay 03, level 2)."""
        aisle = "ABCDEFGH"[self.family_codes.index(self.sku_families[sku.pk]) % 8]
        bay = 1 + self.sku_positions[sku.pk] % 40
        return f"{aisle}-{bay:02d}-{1 + max(lot_index - 1, 0) % 5}"

    def receive_stock(self, plan) -> list[StockLevel]:
        """The opening count: batches, one sellable level per lot, one receipt line per level."""
        rng, texts = self.stock_rng, self.stock_texts
        self.family_codes = sorted({p.family["code"] for p in self.products})
        self.sku_positions = {p.sku.pk: n for n, p in enumerate(self.products)}
        self.sku_families = {p.sku.pk: p.family["code"] for p in self.products}
        clerks = {"HZ1": self.users[roles.WAREHOUSE_CLERK], "GZ2": self.users[roles.WAREHOUSE_LEAD]}
        suppliers = {p.sku.pk: rng.choice(texts["suppliers"][p.family["code"]]) for p in self.products}
        used_lots = defaultdict(set)
        batches, levels, moves, counted, scanned = [], [], [], Counter(), Counter()
        day = f"{self.opening.astimezone(DEMO_TZ):%Y%m%d}"
        for warehouse, sku, lots in plan:
            counted[warehouse.code] += 1
            reference = f"OPEN-{warehouse.code}-{day}-{counted[warehouse.code]:04d}"
            for kind, days_left, quantity in lots:
                batch = None
                if kind != "plain":
                    step = 1 if kind == "near" and days_left <= 1 else -1
                    while True:  # one lot number per SKU: a clash moves the lot a day
                        if days_left is None:
                            made, expires = self.today - timedelta(days=rng.randint(20, 400)), None
                        else:
                            expires = self.today + timedelta(days=days_left)
                            made = expires - timedelta(days=sku.shelf_life_days)
                        lot = f"L{made:%Y%m%d}"
                        if lot not in used_lots[sku.pk]:
                            break
                        days_left = None if days_left is None else days_left + step
                    used_lots[sku.pk].add(lot)
                    batch = Batch(sku=sku, lot_number=lot, manufactured_on=made, expires_on=expires)
                    batch.demo_kind = kind
                    batches.append(batch)
                level = StockLevel(warehouse=warehouse, sku=sku, batch=batch, on_hand=quantity,
                                   location_code=self.pick_location(sku, len(used_lots[sku.pk])))
                clerk = clerks[warehouse.code]
                scanned[warehouse.code] += 1
                at = self.opening + timedelta(seconds=5 * scanned[warehouse.code])
                levels.append(level)
                moves.append(StockMove(
                    stock_level=level, sku=sku, type=StockMove.Type.RECEIPT, on_hand_delta=quantity,
                    reference=reference, note=f"{texts['opening_note']}（{suppliers[sku.pk]}）",
                    actor=clerk, actor_label=clerk.get_username(), created_at=at,
                ))
                if batch is not None and not hasattr(batch, "received_at"):
                    batch.received_at = at
        Batch.objects.bulk_create(batches, batch_size=BATCH)
        StockLevel.objects.bulk_create(levels, batch_size=BATCH)
        times = [move.created_at for move in moves]
        StockMove.objects.bulk_create(moves, batch_size=BATCH)
        # auto_now_add stamped "now"; the count happened at the opening.
        for move, at in zip(moves, times):
            move.created_at = at
        StockMove.objects.bulk_update(moves, ["created_at"], batch_size=BATCH)
        for batch in batches:
            batch.created_at = batch.received_at
        Batch.objects.bulk_update(batches, ["created_at"], batch_size=BATCH)
        return levels

    def quarantine_batches(self, levels):
        """QC stops a lot or two after the count, through the real service. They are lots no order
        holds, so the service has nothing to re-reserve (it would re-reserve as of the real today)."""
        rng = self.stock_rng
        lead = self.users[roles.WAREHOUSE_LEAD]
        for level in levels:
            batch = level.batch
            if batch is None or batch.demo_kind != "quarantine":
                continue
            reason = rng.choice(self.stock_texts["quarantine_reasons"])
            stock_quarantine_batch(batch_id=batch.pk, actor=lead, reason=reason)
            span = int((self.anchor - self.opening).total_seconds())
            at = self.opening + timedelta(seconds=rng.randint(span // 4, span * 3 // 4))
            Batch.objects.filter(pk=batch.pk).update(quarantined_at=at)
            StockMove.objects.filter(stock_level__batch=batch, type=StockMove.Type.QUARANTINE).update(created_at=at)
            batch.quarantined_at = at
            level.on_hand = 0  # its units are in the quarantine bucket now

    def reserve_picking(self, open_orders, levels):
        """Orders being picked were reserved before picking began, in their own warehouse, and the
        service no longer reserves for them: their rows are built here by the same FEFO rules."""
        places = defaultdict(list)
        for level in levels:
            places[(level.warehouse_id, level.sku_id)].append(level)
        for candidates in places.values():
            candidates.sort(key=lambda l: ((l.batch.expires_on or date.max) if l.batch else date.max, l.pk))
        reservations, moves, touched = [], [], {}
        picking = sorted((o for o in open_orders if o[0].status in IN_PICKING), key=lambda o: o[0].placed_at)
        for order, lines in picking:
            actor = _Principal(f"token:{order.shop.code}:demo")
            for line in lines:
                cutoff = allocatable_after(line.sku, order.customer, self.today)
                need = line.quantity
                for level in places[(order.warehouse_id, line.sku_id)]:
                    batch = level.batch
                    free = level.on_hand - level.reserved
                    if need == 0:
                        break
                    if free <= 0 or (batch is not None and (
                            batch.quarantined_at is not None or (batch.expires_on and batch.expires_on < cutoff))):
                        continue
                    quantity = min(free, need)
                    need -= quantity
                    level.reserved += quantity
                    touched[level.pk] = level
                    reservation = Reservation(order_line=line, stock_level=level, quantity=quantity)
                    reservations.append(reservation)
                    moves.append(StockMove(
                        stock_level=level, sku_id=level.sku_id, type=StockMove.Type.RESERVE, reserved_delta=quantity,
                        order=order, reservation=reservation, reference=f"order:{order.external_id}",
                        actor_label=actor.label,
                    ))
                if need:
                    raise DemoError(f"the stock plan leaves {order.external_id} ({order.status}) "
                                    f"short of {line.sku.code}")
        Reservation.objects.bulk_create(reservations, batch_size=BATCH)
        StockMove.objects.bulk_create(moves, batch_size=BATCH)
        StockLevel.objects.bulk_update(list(touched.values()), ["reserved"], batch_size=BATCH)

    def reserve_open_orders(self, open_orders) -> list[Order]:
        """The real reservation, first come first served, as intake would have made it ("today" is the
        anchor's date). Shortfalls open out_of_stock / expiry_conflict holds; the orders are returned."""
        short = []
        waiting = sorted((o for o in open_orders if o[0].status in RESERVABLE_STATUSES),
                         key=lambda o: o[0].placed_at)
        for order, lines in waiting:
            result = reserve_for_order(order, actor=_Principal(f"token:{order.shop.code}:demo"),
                                       on_shortfall="hold", today=self.today, new_lines=lines)
            if result.shortfalls:
                short.append(order)
        return short

    def date_reservations(self, open_orders, short):
        """Put the services' "now" back on the time line: a reservation was made when its order came
        in. An order that was short then could not have passed review or approval under a stock hold,
        so for those beyond review the hold (and the reservation) came later, while the order waited."""
        rng = self.stock_rng
        made = {order.pk: order.placed_at for order, _l in open_orders}
        short_ids = {order.pk for order in short}
        taken = defaultdict(set)
        for event in self.events:
            if event.order_id in short_ids:
                taken[event.order_id].add(event.created_at)
        holds = defaultdict(list)
        for hold in OrderHold.objects.filter(order_id__in=short_ids, type__in=STOCK_HOLDS, released_at__isnull=True,
                                             is_automatic=True).order_by("order_id", "pk"):
            holds[hold.order_id].append(hold)
        events = {event.payload.get("hold_id"): event for event in OrderEvent.objects.filter(
            order_id__in=short_ids, type=OrderEvent.Type.HOLD_OPENED, name__in=STOCK_HOLDS)}
        changed_holds, changed_events = [], []
        for order in short:
            if order.status in (S.PENDING_PAYMENT, S.PENDING_REVIEW):  # paying is never held up
                at = order.placed_at + timedelta(seconds=1)
            else:
                since = order.status_changed_at
                at = (since + (self.anchor - since) * rng.uniform(0.05, 0.6)).replace(microsecond=0)
                made[order.pk] = at
            for hold in holds[order.pk]:
                while at in taken[order.pk]:
                    at += timedelta(seconds=1)
                taken[order.pk].add(at)
                hold.opened_at = at
                events[hold.pk].created_at = at
                changed_holds.append(hold)
                changed_events.append(events[hold.pk])
        OrderHold.objects.bulk_update(changed_holds, ["opened_at"], batch_size=BATCH)
        OrderEvent.objects.bulk_update(changed_events, ["created_at"], batch_size=BATCH)
        rows = (Reservation.objects.filter(order_line__order_id__in=list(made))
                .values_list("pk", "order_line__order_id"))
        Reservation.objects.bulk_update([Reservation(pk=pk, created_at=made[order_id]) for pk, order_id in rows],
                                        ["created_at"], batch_size=BATCH)
        rows = (StockMove.objects.filter(order_id__in=list(made), type=StockMove.Type.RESERVE)
                .values_list("pk", "order_id"))
        StockMove.objects.bulk_update([StockMove(pk=pk, created_at=made[order_id]) for pk, order_id in rows],
                                      ["created_at"], batch_size=BATCH)

    def quarantine_picked_batch(self):
        """A journey: QC stops a lot that an order in the warehouse has already picked from, through the
        real service, which re-books the order on other lots and holds it until the picked units are put
        back. The lot is one only this order holds, in a place with enough other stock."""
        rng = self.stock_rng
        picked = (Reservation.objects.filter(
            state=Reservation.State.ACTIVE, stock_level__batch__isnull=False,
            order_line__order__shop__in=self.shops.values(), order_line__order__status__in=IN_PICKING)
            .select_related("order_line__order__customer", "order_line__sku", "stock_level")
            .order_by("order_line__order__placed_at", "pk"))
        for reservation in picked:
            level, order = reservation.stock_level, reservation.order_line.order
            if (level.warehouse_id, level.sku_id) in self.protected:
                continue
            holders = set(Reservation.objects.filter(state=Reservation.State.ACTIVE, stock_level__batch=level.batch_id)
                          .values_list("order_line__order_id", flat=True))
            cutoff = allocatable_after(reservation.order_line.sku, order.customer, self.today)
            spare = sum(other.on_hand - other.reserved for other in StockLevel.objects.filter(
                warehouse=level.warehouse_id, sku=level.sku_id, bucket=StockLevel.Bucket.SELLABLE,
                batch__quarantined_at__isnull=True).exclude(batch=level.batch_id).filter(
                Q(batch__expires_on__isnull=True) | Q(batch__expires_on__gte=cutoff)))
            if holders != {order.pk} or spare < level.reserved:
                continue
            since = order.status_changed_at
            at = (since + (self.anchor - since) * rng.uniform(0.2, 0.7)).replace(microsecond=0)
            with demo_clock(at):
                stock_quarantine_batch(batch_id=level.batch_id, actor=self.users[roles.WAREHOUSE_LEAD],
                                       reason=rng.choice(self.stock_texts["quarantine_reasons"]))
            self.journeys.append(_Journey("hold: quarantined_stock", order, order.status, HoldType.QUARANTINED_STOCK,
                                          review=False))
            return

    def run_journeys(self):
        """The journeys' reviews, decisions and escalations through the real services, in the order they
        happened on the demo's time line; then each must have ended as its story says."""
        moments = []
        for index, journey in enumerate(self.journeys):
            if journey.review:
                moments.append((journey.order.status_changed_at + REVIEW_DELAY, index, "review", "", ""))
            moments += [(at, index, who, outcome, comments) for at, who, outcome, comments in journey.then]
        for at, index, who, outcome, comments in sorted(moments):
            order = self.journeys[index].order
            with demo_clock(at):
                if who == "review":
                    order_audit(order_id=order.pk)
                elif outcome == "escalate":
                    approval_escalate_overdue(now=at)
                else:
                    request = ApprovalRequest.objects.get(order=order, state=ApprovalRequest.State.PENDING)
                    approval_decide(request_id=request.pk, actor=self.users[who], outcome=outcome,
                                    comment=self.rng.choice(self.ops["approval_comments"][comments]))
        ended = {order.pk: order for order in Order.objects.filter(
            pk__in=[j.order.pk for j in self.journeys]).prefetch_related("holds")}
        wrong = []
        for journey in self.journeys:
            order = ended[journey.order.pk]
            held = {hold.type for hold in order.holds.all() if hold.released_at is None}
            if order.status != journey.expect_status or held != ({journey.expect_hold} - {""}):
                wrong.append(f"{journey.name} ({order.external_id}): {order.status}, holds {sorted(held)}")
        if wrong:
            raise DemoError("demo journeys did not end as planned: " + "; ".join(wrong))

    def stock_summary(self) -> dict[str, int]:
        warehouses = list(self.warehouses.values())
        levels = StockLevel.objects.filter(warehouse__in=warehouses)
        alerts = Counter(StockAlert.objects.filter(warehouse__in=warehouses, resolved_at__isnull=True)
                         .values_list("kind", flat=True))
        open_orders = Order.objects.filter(shop__in=self.shops.values(), status__in=OPEN_STATUSES)
        return {
            "levels": levels.count(),
            "batches": Batch.objects.filter(levels__in=levels).distinct().count(),
            "quarantined batches": Batch.objects.filter(levels__in=levels, quarantined_at__isnull=False)
            .distinct().count(),
            "active reservations": Reservation.objects.filter(stock_level__in=levels,
                                                              state=Reservation.State.ACTIVE).count(),
            "moves": StockMove.objects.filter(stock_level__in=levels).count(),
            "stock holds": OrderHold.objects.filter(order__in=open_orders, type__in=STOCK_HOLDS,
                                                    released_at__isnull=True).count(),
            **{f"{kind} alerts": alerts[kind] for kind in StockAlert.Kind.values},
        }

    def build_warehouse_floor(self):
        """What a clerk needs on the first morning: each warehouse's sender details for e-waybills,
        each shop's default carrier, and one wave of the most urgent ready orders in HZ1 to pick."""
        for spec in WAREHOUSES:
            warehouse = self.warehouses[spec.code]
            SenderProfile.objects.create(
                warehouse=warehouse, name=WAREHOUSE_SENDERS[spec.code][0], phone=WAREHOUSE_SENDERS[spec.code][1],
                company="鑫源贸易", province=spec.province, city=spec.city,
                district=WAREHOUSE_SENDERS[spec.code][2], address_detail=spec.address)
        for shop_code, carrier_code in SHOP_CARRIERS.items():
            ShopCarrier.objects.create(shop=self.shops[shop_code], carrier=Carrier.objects.get(code=carrier_code))
        with demo_clock(self.anchor - timedelta(minutes=30)):
            self.wave = wave_create(warehouse_id=self.warehouses["HZ1"].pk, actor=self.users[roles.WAREHOUSE_CLERK],
                                    size_limit=DEMO_WAVE_SIZE, now=self.anchor)

    def build(self) -> DemoResult:
        self.build_users()
        self.build_places()
        self.build_scopes()
        self.build_policies()
        tokens = self.build_tokens()
        self.build_skus()
        self.build_customers()
        self.build_orders()
        self.save_orders()
        self.build_stock()
        self.run_journeys()
        self.build_warehouse_floor()
        returns = build_demo_returns(seed=self.o.seed, anchor=self.anchor, shops=list(self.shops.values()),
                                     users=self.users)
        imports = build_demo_imports(admin=self.users[roles.ADMIN])
        stock_alerts_refresh(today=self.today, now=self.anchor)
        shops = list(self.shops.values())
        holds = OrderHold.objects.filter(order__shop__in=shops)
        requests = ApprovalRequest.objects.filter(order__shop__in=shops)
        counts = {
            "warehouses": len(self.warehouses), "shops": len(self.shops), "skus": len(self.products),
            "customers": len(self.all_buyers), "addresses": sum(len(b.addresses) for b in self.all_buyers),
            "orders": len(self.orders), "lines": len(self.lines),
            "events": OrderEvent.objects.filter(order__shop__in=shops).count(),
            "holds": holds.count(), "open holds": holds.filter(released_at__isnull=True).count(),
            "approval requests": requests.count(),
            "waiting for approval": requests.filter(state=ApprovalRequest.State.PENDING).count(),
            **returns, **imports,
        }
        return DemoResult(counts=counts, stock=self.stock_summary(), tokens=tokens)


def place_of(where) -> tuple:
    """An order's or an address's delivery place, as the review's multiple-addresses rule compares them."""
    if isinstance(where, Order):
        return where.province, where.city, where.district, where.address_detail.strip(), where.receiver_phone
    return where.province, where.city, where.district, where.detail.strip(), where.phone


def ean_check_digit(body: str) -> str:
    """The EAN-13 check digit of 12 digits: weights 1 and 3 alternate from the left."""
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(body))
    return str((10 - total % 10) % 10)


def seed_demo(options: DemoOptions, *, reset: bool = False) -> DemoResult | None:
    """Build the demo in one transaction; None if it is already there and no reset was asked."""
    with transaction.atomic():
        if demo_present() and not reset:
            return None
        # Also clears leftovers of a demo whose shops were deleted by hand.
        reset_demo()
        return DemoBuilder(options).build()
