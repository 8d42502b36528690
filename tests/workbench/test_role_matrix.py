"""The role × action matrix: every workbench page and every API endpoint, for every role and for
anonymous visitors, including attempts to reach another scope's objects by id.

ROUTES names each URL pattern once. A new page or endpoint without an entry fails
`test_every_route_is_in_the_matrix`, so the matrix cannot fall behind the URLs.
- Pages without an object: which roles may open them (200); other roles get 403, visitors the login page.
- Routes with an object: the ids are another shop's / warehouse's objects. Every role gets 403 (no
  permission at all) or 404 (permission, but out of scope) and never a success; the route's own
  role, which has the permission, gets exactly 404: scope, not permission, is what stops it.
  Nothing the requests could have written changes.
"""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone

from apps.approvals.models import ApprovalRequest
from apps.fulfillment import services as fulfillment
from apps.fulfillment.models import PickTask, Wave
from apps.inventory.models import StockLevel
from apps.orders.models import CsNote, Order, OrderEvent, OrderHold
from apps.returns.models import ReasonNode, ReturnPhoto, ReturnRequest
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, make_user
from tests.fulfillment.factories import ready_order, stocked_sku

pytestmark = pytest.mark.django_db

ROLES = ("cs_agent", "cs_lead", "warehouse_clerk", "warehouse_lead", "finance", "manager", "admin")
EVERYONE = set(ROLES)
CS = {"cs_agent", "cs_lead"}
RETURNS_READERS = EVERYONE
PICKERS = {"warehouse_clerk", "warehouse_lead", "manager", "admin"}
APPROVAL_READERS = {"cs_lead", "finance", "manager", "admin"}
FINANCE = {"finance", "manager", "admin"}
BOARD = {"manager", "admin"}

# Pages without an object: GET, who may open them.
PAGES = {
    "workbench:home": EVERYONE,
    "workbench:cs-orders": EVERYONE,
    "workbench:approval-inbox": APPROVAL_READERS,
    "workbench:finance-payments": FINANCE,
    "workbench:finance-refunds": FINANCE,
    "workbench:finance-receivables": FINANCE,
    "workbench:board-holds": BOARD,
    "workbench:board-late": BOARD,
    "workbench:return-list": RETURNS_READERS,
    "workbench:wave-list": PICKERS,
    "workbench:warehouse-orders": PICKERS,
    "workbench:stock-alerts": EVERYONE,
    "workbench:import-list": {"admin"},
    "api-docs": EVERYONE,
    "api-schema": EVERYONE,
}

# Routes on another scope's object: (method, kwargs built from the world, the role whose job it is).
FOREIGN = {
    "workbench:approval-detail": ("get", lambda w: {"request_id": w.approval.pk}, "manager"),
    "workbench:approval-act": ("post", lambda w: {"request_id": w.approval.pk, "act": "approve"}, "manager"),
    "workbench:cs-order-detail": ("get", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "workbench:cs-order-history": ("get", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "workbench:cs-order-buyer-orders": ("get", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "workbench:cs-order-note": ("post", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "workbench:cs-order-urgent": ("post", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "workbench:cs-order-intercept": ("post", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "workbench:finance-receivable": ("get", lambda w: {"customer_id": w.dealer.pk}, "finance"),
    "workbench:return-detail": ("get", lambda w: {"return_id": w.return_request.pk}, "cs_agent"),
    "workbench:return-photo": ("get", lambda w: {"return_id": w.return_request.pk, "photo_id": w.photo.pk},
                               "cs_agent"),
    "workbench:return-step": ("post", lambda w: {"return_id": w.return_request.pk, "step": "approve"}, "cs_lead"),
    "workbench:order-returns": ("get", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "workbench:wave-scan": ("get", lambda w: {"wave_id": w.wave.pk}, "warehouse_clerk"),
    "workbench:wave-scan-submit": ("post", lambda w: {"wave_id": w.wave.pk}, "warehouse_clerk"),
    "workbench:task-short": ("post", lambda w: {"wave_id": w.wave.pk, "task_id": w.task.pk}, "warehouse_clerk"),
    "workbench:wave-pdf": ("get", lambda w: {"wave_id": w.wave.pk, "part": "pick-list"}, "warehouse_clerk"),
    "workbench:order-pdf": ("get", lambda w: {"order_id": w.picking_order.pk, "kind": "packing-list"},
                            "warehouse_clerk"),
    "order-detail": ("get", lambda w: {"pk": w.order.pk}, "cs_agent"),
    "order-open-hold": ("post", lambda w: {"pk": w.order.pk}, "cs_agent"),
    "order-record-complaint": ("post", lambda w: {"pk": w.order.pk}, "cs_agent"),
    "order-release-hold": ("post", lambda w: {"pk": w.order.pk, "hold_id": w.hold.pk}, "cs_lead"),
    "order-transition": ("post", lambda w: {"pk": w.order.pk, "name": "cancel"}, "cs_agent"),
    "stock-adjust": ("post", lambda w: {"pk": w.level.pk}, "warehouse_lead"),
    "stock-quarantine": ("post", lambda w: {"pk": w.level.pk}, "warehouse_lead"),
    "stock-transfer": ("post", lambda w: {"pk": w.level.pk}, "warehouse_lead"),
    "approval-detail": ("get", lambda w: {"pk": w.approval.pk}, "manager"),
    "approval-decide": ("post", lambda w: {"pk": w.approval.pk}, "manager"),
    "approval-delegate": ("post", lambda w: {"pk": w.approval.pk}, "manager"),
    "approval-signers": ("post", lambda w: {"pk": w.approval.pk}, "manager"),
    "approval-transfer": ("post", lambda w: {"pk": w.approval.pk}, "manager"),
    "approval-withdraw": ("post", lambda w: {"pk": w.approval.pk}, "cs_agent"),
    "wave-detail": ("get", lambda w: {"pk": w.wave.pk}, "warehouse_clerk"),
    "wave-scan": ("post", lambda w: {"pk": w.wave.pk}, "warehouse_clerk"),
    "pick-task-short": ("post", lambda w: {"pk": w.task.pk}, "warehouse_clerk"),
    "warehouse-order-cancel-waybill": ("post", lambda w: {"pk": w.picking_order.pk}, "warehouse_lead"),
    "warehouse-order-intercept": ("post", lambda w: {"pk": w.picking_order.pk}, "warehouse_lead"),
    "warehouse-order-pack": ("post", lambda w: {"pk": w.picking_order.pk}, "warehouse_clerk"),
    "warehouse-order-release": ("post", lambda w: {"pk": w.picking_order.pk}, "warehouse_clerk"),
    "warehouse-order-ship": ("post", lambda w: {"pk": w.picking_order.pk}, "warehouse_clerk"),
    "warehouse-order-waybill": ("post", lambda w: {"pk": w.picking_order.pk}, "warehouse_clerk"),
    "order-declaration": ("get", lambda w: {"order_id": w.order.pk}, "cs_agent"),
    "order-declaration-prepare": ("post", lambda w: {"order_id": w.order.pk}, "cs_lead"),
    "order-declaration-check": ("post", lambda w: {"order_id": w.order.pk}, "cs_lead"),
    "return-detail": ("get", lambda w: {"return_id": w.return_request.pk}, "cs_agent"),
    "return-step": ("post", lambda w: {"return_id": w.return_request.pk, "step": "approve"}, "cs_lead"),
}

# Admin-only pages on an object that belongs to no shop (an uploaded legacy file): every other
# role is refused outright.
ADMIN_OBJECTS = {
    "workbench:import-detail": ("get", lambda w: {"job_id": w.job.pk}),
    "workbench:import-confirm": ("post", lambda w: {"job_id": w.job.pk}),
    "workbench:import-errors": ("get", lambda w: {"job_id": w.job.pk}),
    "workbench:import-progress": ("get", lambda w: {"job_id": w.job.pk}),
}

# Scoped lists and writes without an object id in the URL: visitors are turned away; whatever a
# role may do there is covered by the capability's own tests (and the lists' scope by the API tests).
UNSCOPED_IN_URL = {
    "workbench:login", "workbench:logout", "workbench:wave-build", "set_language", "rest_framework:login",
    "rest_framework:logout", "order-list", "stock-alerts", "stock-availability", "stock-batches", "stock-ledger",
    "stock-receive", "approval-list", "wave-list", "customs-countries", "return-list", "return-reasons",
    "return-suggestions", "return-analytics",
    # Carriers post tracking with their own shared secret, not a session (tests/fulfillment/test_tracking.py).
    "carrier-tracking-webhook",
}


def _route_names():
    def walk(patterns, namespace):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                inner = pattern.namespace or namespace
                if inner == "admin":
                    continue
                yield from walk(pattern.url_patterns, inner)
            elif pattern.name:
                yield f"{namespace}:{pattern.name}" if namespace else pattern.name

    return set(walk(get_resolver().url_patterns, None))


def test_every_route_is_in_the_matrix():
    covered = set(PAGES) | set(FOREIGN) | set(ADMIN_OBJECTS) | UNSCOPED_IN_URL
    assert _route_names() - covered == set(), "add the new routes to the matrix"
    assert covered - _route_names() == set(), "the matrix names routes that no longer exist"


class World:
    """Mine: the shop and warehouse every user serves. Theirs: another shop and warehouse with one
    object of every kind a URL can name."""

    def __init__(self):
        self.mine = ShopFactory(code="mine")
        theirs = ShopFactory(code="theirs")
        warehouse = theirs.default_warehouse
        self.order = OrderFactory(shop=theirs, status="pending_approval")
        self.approval = ApprovalRequest.objects.create(order=self.order, requested_at=timezone.now())
        self.hold = OrderHold.objects.create(order=self.order, type="manual", reason="核对", opened_at=timezone.now())
        sku = stocked_sku(warehouse, location="A-01")
        self.level = StockLevel.objects.get(warehouse=warehouse, sku=sku)
        self.picking_order = ready_order(theirs, {sku: 1})
        self.wave = fulfillment.wave_create(warehouse_id=warehouse.pk,
                                            actor=make_user("warehouse_clerk", warehouses=[warehouse])).wave
        self.task = PickTask.objects.get(wave=self.wave)
        self.dealer = CustomerFactory(credit_limit=Decimal("9000"), payment_terms_days=30)
        OrderFactory(shop=theirs, customer=self.dealer, status="shipped", paid_amount=0,
                     placed_at=timezone.now() - timedelta(days=40))
        self.return_request = ReturnRequest.objects.create(
            order=self.order, kind="refund_only", state="requested", state_changed_at=timezone.now(),
            reason=ReasonNode.objects.filter(children__isnull=True, is_active=True).first(),
            refund_amount=Decimal("1.00"))
        self.photo = ReturnPhoto.objects.create(request=self.return_request, image="returns/x.png",
                                                content_type="image/png", size_bytes=1)
        from django.core.files.uploadedfile import SimpleUploadedFile

        from apps.imports.services import import_check

        self.job = import_check(kind="customers", actor=make_user("admin"), upload=SimpleUploadedFile(
            "c.csv", "客户编码,客户名称\nKH1,甲\n".encode()))
        self.users = {role: make_user(role, shops=[self.mine], warehouses=[self.mine.default_warehouse])
                      for role in ROLES}

    def snapshot(self):
        return (list(Order.objects.order_by("pk").values_list("status", "updated_at")),
                OrderEvent.objects.count(), OrderHold.objects.filter(released_at__isnull=True).count(),
                CsNote.objects.count(), list(StockLevel.objects.order_by("pk").values_list("on_hand", "reserved")),
                list(PickTask.objects.values_list("state", "picked_quantity")),
                list(Wave.objects.values_list("state", flat=True)),
                list(ApprovalRequest.objects.values_list("state", flat=True)),
                list(ReturnRequest.objects.values_list("state", flat=True)))


@pytest.fixture
def world(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return World()


def client_for(user=None):
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.mark.parametrize("role", ROLES + ("anonymous",))
def test_pages_open_for_their_roles_only(world, role):
    client = client_for(world.users.get(role))
    for name, allowed in PAGES.items():
        response = client.get(reverse(name))
        if role == "anonymous":
            if name.startswith("workbench:"):
                assert response.status_code == 302 and "/login/" in response["Location"], name
            continue
        expected = 200 if role in allowed else 403
        assert response.status_code == expected, (name, role, response.status_code)


@pytest.mark.parametrize("role", ROLES + ("anonymous",))
def test_another_scopes_objects_are_out_of_reach_by_id(world, role):
    client = client_for(world.users.get(role))
    before = world.snapshot()
    payload = {"body": "x", "reason": "x", "barcode": "x", "found": 0, "outcome": "approve", "comment": "x",
               "type": "manual", "text": "x", "quantity": 1}
    for name, (method, kwargs, own_role) in FOREIGN.items():
        url = reverse(name, kwargs=kwargs(world))
        if method == "get":
            response = client.get(url)
        elif name.startswith("workbench:"):
            response = client.post(url, payload)
        else:
            response = client.post(url, json.dumps(payload), content_type="application/json")
        if role == "anonymous":
            assert response.status_code in (302, 401, 403), (name, response.status_code)
            continue
        assert response.status_code in (403, 404), (name, role, response.status_code)
        if role == own_role:
            assert response.status_code == 404, (name, role, "must be refused for scope, not permission")
    assert world.snapshot() == before


@pytest.mark.parametrize("role", ROLES + ("anonymous",))
def test_admin_objects_are_refused_to_every_other_role(world, role):
    client = client_for(world.users.get(role))
    for name, (method, kwargs) in ADMIN_OBJECTS.items():
        url = reverse(name, kwargs=kwargs(world))
        response = client.get(url) if method == "get" else client.post(url)
        if role == "anonymous":
            assert response.status_code == 302, name
        elif role == "admin":
            assert response.status_code in (200, 302), name
        else:
            assert response.status_code == 403, (name, role)


def test_the_same_pages_open_on_objects_in_scope(world):
    """The other half of the matrix: the role whose job a page is opens it on its own scope's object."""
    order = OrderFactory(shop=world.mine, status="ready")
    agent = client_for(world.users["cs_agent"])
    for name in ("workbench:cs-order-detail", "workbench:cs-order-history", "workbench:cs-order-buyer-orders",
                 "workbench:order-returns"):
        assert agent.get(reverse(name, kwargs={"order_id": order.pk})).status_code == 200, name
    assert agent.get(reverse("order-detail", kwargs={"pk": order.pk})).status_code == 200
    dealer = CustomerFactory(credit_limit=Decimal("100"), payment_terms_days=7)
    OrderFactory(shop=world.mine, customer=dealer, status="ready", paid_amount=0)
    finance = client_for(world.users["finance"])
    assert finance.get(reverse("workbench:finance-receivable", kwargs={"customer_id": dealer.pk})).status_code == 200
