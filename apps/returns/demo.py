"""Returns in the demo: a history of past requests whose reasons follow the goods and the parcel the
way they do in the seeds, and a handful of current requests, one in every state, made by the real
services (apps.core.demo calls `build_demo_returns` after the orders and their stock exist).

The history is written in bulk (requests, lines, events, and the signals that go with them: stall
holds, complaint notes, damage noted by the carrier at delivery). Its requests are refund-only
(refunded and closed, or rejected), so no goods come back and the stock ledger is not touched.
How a reason is drawn, per request:

- the product's category gives the base weights (`CATEGORY_WEIGHTS`: auto parts fail at fitting,
  devices stop working, food and tea arrive crushed or not as described);
- a third of the SKUs have a weak spot, one reason four times as likely as its category says;
- a refused or intercepted parcel makes "changed mind" five times as likely;
- then the signals follow the reason, imperfectly: a complaint before the request for about a
  third (a few vague ones name nothing), carrier damage notes for a third of the crushed parcels,
  stall holds for a third of the late ones, each with some noise on other reasons; and the request
  comes soon after delivery for logistics problems and changes of mind, later for faults.

`manage.py evaluate_return_suggestions` scores the suggestions against the latest fifth of it.
"""
from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Q

from apps.core.money import CENT, ZERO
from apps.fulfillment.models import Carrier, Shipment, TrackingEvent
from apps.orders.models import HoldType, Order, OrderEvent, OrderHold
from apps.orders.services import COMPLAINT_EVENT, order_record_complaint

from . import services
from .models import (
    ReasonNode,
    ReturnEvent,
    ReturnKind,
    ReturnLine,
    ReturnRequest,
    ReturnState,
)

HISTORY_SHARE = 0.22  # of delivered, completed, refused and intercepted orders
WEAK_SPOT_SHARE = 0.33
REJECTED_SHARE = 0.12
COMPLAINT_SHARE = 0.35
BATCH = 500

CATEGORY_WEIGHTS = {
    "PF": {"logistics.crushed": 3, "product.not_as_described": 2, "buyer.changed_mind": 3,
           "logistics.missing_item": 1, "logistics.late": 1, "logistics.wrong_item": 1,
           "product.workmanship_flaw": 0.3, "product.other": 0.5, "buyer.other": 0.3},
    "AP": {"installation.does_not_fit": 4, "installation.wrong_torque": 1.5, "installation.fitted_backwards": 1.5,
           "product.functional_fault": 2, "logistics.wrong_item": 1.5, "buyer.changed_mind": 1,
           "logistics.crushed": 0.5, "installation.other": 0.6},
    "MD": {"product.functional_fault": 4, "product.not_as_described": 1.5, "buyer.changed_mind": 2,
           "logistics.crushed": 1, "product.workmanship_flaw": 1, "logistics.missing_item": 0.5,
           "product.other": 0.6},
    "OS": {"logistics.crushed": 2, "logistics.wrong_item": 2, "logistics.missing_item": 2,
           "buyer.changed_mind": 1.5, "product.workmanship_flaw": 1, "logistics.late": 1, "logistics.other": 0.6},
    "TEA": {"product.not_as_described": 3, "buyer.changed_mind": 2.5, "logistics.crushed": 1.5,
            "product.workmanship_flaw": 0.5, "logistics.late": 1, "buyer.other": 0.6},
}
DEFAULT_WEIGHTS = {"buyer.changed_mind": 2, "product.functional_fault": 1, "logistics.crushed": 1,
                   "product.not_as_described": 1, "buyer.other": 0.3}

COMPLAINTS = {
    "product.functional_fault": ["用了两天就坏了", "开机没反应", "测出来不准，跟医院差很多", "充不进电，不工作"],
    "product.workmanship_flaw": ["表面有划痕", "边上开线了", "做工很粗糙，有毛边"],
    "product.not_as_described": ["和图片不一样", "口味不对，跟描述不符", "货不对板，包装也不一样"],
    "logistics.crushed": ["箱子压坏了", "收到的时候外箱破损", "罐子压扁了"],
    "logistics.missing_item": ["少了一盒", "说好两件只收到一件，漏发", "数量不对，少发了"],
    "logistics.empty_parcel": ["打开是空包", "箱子里什么都没有"],
    "logistics.wrong_item": ["发错了，不是我买的款", "型号不对", "颜色不对"],
    "logistics.late": ["一个星期还没到", "物流不动了，催了好几次", "迟迟没有发货"],
    "installation.wrong_torque": ["按说明书拧不紧，滑丝了", "扭矩没写清楚"],
    "installation.fitted_backwards": ["师傅说装反了", "方向反了装不回去"],
    "installation.does_not_fit": ["装不上，车型不对", "尺寸不对，不适配我的车"],
    "buyer.changed_mind": ["拍错了", "买多了，不想要了", "七天无理由退"],
}
VAGUE_COMPLAINTS = ["客服怎么一直不回", "请尽快处理", "能不能给个说法"]
OTHER_TEXTS = {
    "product.other": "保质期比页面写的短", "logistics.other": "快递员态度差，拒收了",
    "installation.other": "说明书是英文看不懂", "buyer.other": "送人的，对方已经有了",
}
# Days from delivery to the request, by the reason's kind.
DELAYS = {"logistics": (0, 3), "buyer": (0, 6), "product": (2, 40), "installation": (1, 20)}
DAMAGE_NOTES = ["外包装破损，客户已签收", "外箱压坏，拍照留存后签收"]
STALL_REASON = "轨迹 72 小时无更新"
STALL_AFTER = timedelta(hours=72)


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _weighted(rng: random.Random, weights: dict[str, float]) -> str:
    codes = sorted(weights)
    return rng.choices(codes, weights=[weights[code] for code in codes])[0]


class _History:
    def __init__(self, *, rng, anchor, reasons, users):
        self.rng, self.anchor, self.reasons, self.users = rng, anchor, reasons, users
        self.requests, self.lines, self.events, self.order_events, self.holds = [], [], [], [], []
        self.tracking = []  # (order, at, description)

    def weak_spots(self, skus) -> dict[int, str]:
        spots = {}
        for sku in sorted(skus, key=lambda s: s.pk):
            if self.rng.random() < WEAK_SPOT_SHARE:
                weights = CATEGORY_WEIGHTS.get(getattr(sku.category, "code", ""), DEFAULT_WEIGHTS)
                spots[sku.pk] = self.rng.choice(sorted(code for code in weights if not code.endswith(".other")))
        return spots

    def reason_for(self, order, line, spots) -> str:
        weights = dict(CATEGORY_WEIGHTS.get(getattr(line.sku.category, "code", ""), DEFAULT_WEIGHTS))
        spot = spots.get(line.sku_id)
        if spot:
            weights[spot] = weights.get(spot, 0) * 4 or 2
        if order.status in ("refused", "intercepted"):
            weights["buyer.changed_mind"] = weights.get("buyer.changed_mind", 1) * 5
        return _weighted(self.rng, weights)

    def add(self, order, line, code, shipped_at: datetime | None, delivered_at: datetime | None):
        rng = self.rng
        kind = code.split(".")[0]
        base = delivered_at or order.status_changed_at
        low, high = DELAYS[kind]
        created = base + timedelta(days=rng.uniform(low, high), minutes=rng.randint(5, 600))
        created = min(created, self.anchor - timedelta(hours=rng.randint(30, 96)))
        created = max(created, base + timedelta(minutes=5))
        rejected = rng.random() < REJECTED_SHARE
        quantity = rng.randint(1, line.quantity)
        refund = ZERO if rejected else min(_money(Decimal(line.line_total) * quantity / line.quantity),
                                           _money(order.paid_amount))
        settled = created + timedelta(hours=rng.randint(2, 30))
        request = ReturnRequest(
            order=order, kind=ReturnKind.REFUND_ONLY, reason=self.reasons[code],
            reason_text=OTHER_TEXTS.get(code, ""),
            state=ReturnState.REJECTED if rejected else ReturnState.CLOSED,
            state_changed_at=settled + (timedelta(0) if rejected else timedelta(minutes=rng.randint(5, 120))),
            refund_amount=refund, refunded_at=None if rejected else settled,
            created_by=self.users["cs_agent"], created_at=created, updated_at=created)
        self.requests.append((request, line, quantity, created, settled))
        # Signals, imperfect on purpose.
        if rng.random() < COMPLAINT_SHARE:
            text = (rng.choice(COMPLAINTS[code]) if code in COMPLAINTS and rng.random() < 0.85
                    else rng.choice(VAGUE_COMPLAINTS))
            self.order_events.append(OrderEvent(
                order=order, type=OrderEvent.Type.NOTE, name=COMPLAINT_EVENT, actor=self.users["cs_agent"],
                actor_label=self.users["cs_agent"].username, payload={"text": text},
                created_at=created - timedelta(hours=rng.randint(1, 20))))
        if delivered_at and (code == "logistics.crushed" and rng.random() < 0.35 or rng.random() < 0.02):
            self.tracking.append((order, delivered_at, rng.choice(DAMAGE_NOTES)))
        # A stall hold needs a parcel that was on the road long enough to stall (72 h without a scan).
        if (delivered_at and shipped_at and delivered_at - shipped_at > STALL_AFTER
                and (code == "logistics.late" and rng.random() < 0.35 or rng.random() < 0.02)):
            opened = (shipped_at + (delivered_at - shipped_at) * 0.6).replace(microsecond=0)
            self.holds.append(OrderHold(order=order, type=HoldType.STALLED_IN_TRANSIT, reason=STALL_REASON,
                                        owner_role="cs_lead", is_automatic=True, opened_at=opened,
                                        released_at=delivered_at + timedelta(minutes=1), resolution="轨迹恢复",
                                        released_by=self.users["cs_lead"]))

    def save(self, carriers):
        ReturnRequest.objects.bulk_create([r for r, *_rest in self.requests], batch_size=BATCH)
        # auto_now_add stamped "now": the history says when each request came.
        for request, _line, _q, created, _s in self.requests:
            request.created_at = request.updated_at = created
        ReturnRequest.objects.bulk_update([r for r, *_rest in self.requests], ["created_at", "updated_at"],
                                          batch_size=BATCH)
        agent, lead = self.users["cs_agent"], self.users["cs_lead"]
        for request, line, quantity, created, settled in self.requests:
            self.lines.append(ReturnLine(request=request, order_line=line, quantity=quantity,
                                         refund_amount=request.refund_amount))
            steps = [("create", "", ReturnState.REQUESTED, agent, created, {"kind": request.kind,
                                                                            "reason": request.reason.code})]
            if request.state == ReturnState.REJECTED:
                steps.append(("reject", ReturnState.REQUESTED, ReturnState.REJECTED, lead, settled,
                              {"reason": "超出售后期限"}))
            else:
                steps += [("approve", ReturnState.REQUESTED, ReturnState.APPROVED, lead, settled - timedelta(hours=1), {}),
                          ("refund", ReturnState.APPROVED, ReturnState.REFUNDED, lead, settled,
                           {"amount": str(request.refund_amount)}),
                          ("close", ReturnState.REFUNDED, ReturnState.CLOSED, lead, request.state_changed_at, {})]
            for name, source, target, who, at, payload in steps:
                self.events.append(ReturnEvent(request=request, name=name, from_state=source, to_state=target,
                                               actor=who, actor_label=who.username, payload=payload, created_at=at))
            self.order_events.append(OrderEvent(
                order=request.order, type=OrderEvent.Type.NOTE, name="return_requested", actor=agent,
                actor_label=agent.username, created_at=created,
                payload={"return_id": request.pk, "kind": request.kind, "reason": request.reason.code}))
        ReturnLine.objects.bulk_create(self.lines, batch_size=BATCH)
        ReturnEvent.objects.bulk_create(self.events, batch_size=BATCH)
        OrderEvent.objects.bulk_create(self.order_events, batch_size=BATCH)
        OrderHold.objects.bulk_create(self.holds, batch_size=BATCH)
        lead = self.users["cs_lead"]
        OrderEvent.objects.bulk_create([event for hold in self.holds for event in (
            OrderEvent(order=hold.order, type=OrderEvent.Type.HOLD_OPENED, name=hold.type, actor_label="system",
                       created_at=hold.opened_at, payload={"hold_id": hold.pk, "reason": hold.reason, "automatic": True}),
            OrderEvent(order=hold.order, type=OrderEvent.Type.HOLD_RELEASED, name=hold.type, actor=lead,
                       actor_label=lead.username, created_at=hold.released_at,
                       payload={"hold_id": hold.pk, "resolution": hold.resolution}))], batch_size=BATCH)
        shipments, events = [], []
        for index, (order, delivered_at, note) in enumerate(self.tracking):
            carrier = carriers[index % len(carriers)]
            issued = order.placed_at + timedelta(hours=2)
            shipment = Shipment(order=order, carrier=carrier, state=Shipment.State.ISSUED, request_id=uuid.uuid4(),
                                service_type="standard", tracking_number=f"DEMO{order.pk:010d}",
                                request_payload={}, weight=Decimal("1.000"), requested_at=issued, issued_at=issued,
                                actor_label="system")
            shipments.append(shipment)
            events.append(TrackingEvent(shipment=shipment, carrier=carrier, event_id=f"demo-{order.pk}",
                                        code="SIGNED", transition="delivered", occurred_at=delivered_at,
                                        location=order.city, description=note, raw={"demo": True},
                                        received_at=delivered_at))
        Shipment.objects.bulk_create(shipments, batch_size=BATCH)
        TrackingEvent.objects.bulk_create(events, batch_size=BATCH)


def _moments(orders, status) -> dict[int, datetime]:
    """When each order reached `status` (its first time)."""
    moments = {}
    for order_id, at in (OrderEvent.objects.filter(order__in=orders, to_status=status)
                         .order_by("created_at").values_list("order_id", "created_at")):
        moments.setdefault(order_id, at)
    return moments


def build_history(*, seed, anchor, orders, users) -> int:
    """Past requests on a share of the finished orders (`orders` with their lines prefetched)."""
    rng = random.Random(f"{seed}:returns")
    reasons = {node.code: node for node in ReasonNode.objects.filter(is_active=True)}
    candidates = sorted((o for o in orders if o.status in ("delivered", "completed", "refused", "intercepted")
                         and o.paid_amount > 0), key=lambda o: o.pk)
    picked = [o for o in candidates if rng.random() < HISTORY_SHARE]
    history = _History(rng=rng, anchor=anchor, reasons=reasons, users=users)
    spots = history.weak_spots({line.sku for order in picked for line in order.lines.all()})
    shipped, delivered = _moments(picked, "shipped"), _moments(picked, "delivered")
    for order in picked:
        line = rng.choice(sorted(order.lines.all(), key=lambda l: l.line_no))
        history.add(order, line, history.reason_for(order, line, spots), shipped.get(order.pk), delivered.get(order.pk))
    carriers = list(Carrier.objects.filter(is_active=True).order_by("code")) or list(Carrier.objects.order_by("code"))
    history.save(carriers)
    return len(history.requests)


# --- current requests, through the services -----------------------------------------------------

SHOWCASE = [  # (kind, reason, steps after creation, note)
    (ReturnKind.RETURN_AND_REFUND, "logistics.wrong_item", []),
    (ReturnKind.REFUND_ONLY, "logistics.crushed", ["approve"]),
    (ReturnKind.REFUND_ONLY, "buyer.changed_mind", ["reject"]),
    (ReturnKind.EXCHANGE, "installation.does_not_fit", ["approve", "await_return"]),
    (ReturnKind.RETURN_AND_REFUND, "product.functional_fault", ["approve", "await_return"]),
    (ReturnKind.RETURN_AND_REFUND, "product.not_as_described", ["approve", "await_return", "receive"]),
    (ReturnKind.RETURN_AND_REFUND, "product.workmanship_flaw", ["approve", "await_return", "receive", "inspect"]),
    (ReturnKind.REFUND_ONLY, "logistics.missing_item", ["approve", "refund"]),
    (ReturnKind.EXCHANGE, "logistics.wrong_item", ["approve", "await_return", "receive", "inspect", "exchange"]),
    (ReturnKind.RESHIP, "logistics.empty_parcel", ["approve", "reship"]),
    (ReturnKind.RETURN_AND_REFUND, "buyer.changed_mind",
     ["approve", "await_return", "receive", "inspect", "refund", "close"]),
]


def build_showcase(*, seed, anchor, orders, users) -> list[ReturnRequest]:
    """One current request in every state, on the latest delivered orders of non-batch goods (their
    goods go back to the order's warehouse), each step by the person whose job it is."""
    from apps.core.demo import (
        demo_clock,  # the demo's clock; imported here, the demo imports this module
    )

    rng = random.Random(f"{seed}:returns:showcase")
    taken = set(ReturnLine.objects.values_list("order_line__order_id", flat=True))
    settled_before = anchor - timedelta(days=1)  # room for every step before the demo's "now"
    candidates = [o for o in orders if o.status in ("delivered", "completed") and o.pk not in taken and o.paid_amount > 0
                  and o.status_changed_at < settled_before and o.warehouse_id and all(not line.sku.batch_tracked for line in o.lines.all())]
    candidates.sort(key=lambda o: o.status_changed_at, reverse=True)
    agent, lead, clerk = users["cs_agent"], users["cs_lead"], users["warehouse_clerk"]
    who = {"approve": lead, "reject": lead, "await_return": agent, "receive": clerk, "inspect": clerk,
           "refund": lead, "exchange": lead, "reship": lead, "close": lead}
    made = []
    for index, (kind, reason, steps) in enumerate(SHOWCASE):
        if index >= len(candidates):
            break
        order = candidates[index]
        line = sorted(order.lines.all(), key=lambda l: l.line_no)[0]
        at = max(order.status_changed_at, anchor - timedelta(days=3)) + timedelta(hours=index + 1)
        with demo_clock(at):
            complaint = COMPLAINTS.get(reason)
            if complaint:
                order_record_complaint(order_id=order.pk, text=rng.choice(complaint), actor=agent)
            request = services.return_create(order_id=order.pk, kind=kind, lines=[
                {"order_line_id": line.pk, "quantity": min(line.quantity, 1 + index % 2)}],
                reason_code=reason, actor=agent)
        for number, step in enumerate(steps, start=1):
            with demo_clock(at + timedelta(hours=2 * number)):
                if step == "reject":
                    services.return_reject(return_id=request.pk, actor=who[step], reason="已超过七天无理由期限")
                elif step == "await_return":
                    services.return_await(return_id=request.pk, actor=who[step],
                                          tracking_no=f"YT{rng.randrange(10 ** 12):012d}")
                elif step == "inspect":
                    lines = request.lines.all()
                    outcome = "damaged" if reason == "product.workmanship_flaw" else "good"
                    services.return_inspect(return_id=request.pk, actor=who[step], outcomes=[
                        {"return_line_id": line.pk, "outcome": outcome} for line in lines])
                else:
                    getattr(services, f"return_{step}")(return_id=request.pk, actor=who[step])
        made.append(request)
    return made


def build_demo_returns(*, seed, anchor, shops, users) -> dict[str, int]:
    orders = list(Order.objects.filter(shop__in=shops).filter(
        Q(status__in=["delivered", "completed", "refused", "intercepted"]))
        .select_related("shop").prefetch_related("lines__sku__category"))
    history = build_history(seed=seed, anchor=anchor, orders=orders, users=users)
    showcase = build_showcase(seed=seed, anchor=anchor, orders=orders, users=users)
    states = Counter(ReturnRequest.objects.filter(order__shop__in=shops).values_list("state", flat=True))
    return {"history": history, "current": len(showcase), **{f"returns {state}": n for state, n in states.items()}}
