"""Every write to orders: intake, status transitions, holds. One transaction each, audited."""
import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.actors import actor_has_perm, actor_label, actor_user
from apps.core.crypto import encrypt_text
from apps.core.db import InsertTogether, run_together, uses_postgresql
from apps.core.queue import jobs_held
from apps.core.errors import ValidationFailed
from apps.core.money import ZERO
from apps.core.phones import InvalidPhone, normalise_phone, phone_tail
from apps.core.privacy import mask_detail, mask_name, mask_phone
from apps.customers.models import Customer
from apps.inventory import services as stock

from . import audit
from .errors import (
    AddressAlreadyUnlocked,
    AddressLocked,
    AddressNotLockable,
    HoldAlreadyOpen,
    HoldNotOpen,
    InvalidAddress,
    InvalidPayment,
    OrderOnHold,
    TransitionForbidden,
    TransitionNotAllowed,
    UnknownTransition,
    WaybillIssued,
)
from .lock_objects import lock_hold, lock_order
from .normalisation import promised_ship_by, remark_tags, resolve_order_address
from .models import (
    PRE_SHIPMENT_STATUSES,
    TERMINAL_STATUSES,
    TRANSITION_LABELS,
    CsNote,
    Order,
    OrderEvent,
    OrderHold,
    OrderLine,
    OrderTag,
    PaymentStatus,
)
from .platforms import recognise_platform

# The graph itself lives on Order (django-fsm-2); this is the name -> permission view of it.
TRANSITION_PERMISSIONS: dict[str, str] = {
    t.name: t.permission for t in Order._meta.get_field("status").get_all_transitions(Order)
}

# Forward moves an open hold stops. Cancelling, expiry, intercepts and carrier facts are never
# blocked: a hold keeps the order's place, it does not deny what already happened.
HOLD_BLOCKED_TRANSITIONS = frozenset(
    {"pass_review", "require_approval", "approve", "start_picking", "finish_picking", "pack", "ship"}
)


def _record_event(order, **kwargs) -> OrderEvent:
    event = _new_event(order, **kwargs)
    event.save(force_insert=True)
    return event


def _new_event(order, *, type, actor, name="", from_status="", to_status="", payload=None,
               is_intervention=False, at=None) -> OrderEvent:
    return OrderEvent(
        order=order,
        type=type,
        name=name,
        from_status=from_status,
        to_status=to_status,
        actor=actor_user(actor),
        actor_label=actor_label(actor),
        payload=payload or {},
        is_intervention=is_intervention,
        created_at=at or timezone.now(),
    )


def _apply_transition(order, *, name, actor, reason="", payload=None, is_intervention=False,
                      changes=None, at=None) -> Order:
    """Run one transition on an order the caller has locked, at `at` (now by default)."""
    if name not in TRANSITION_PERMISSIONS:
        raise UnknownTransition(details={"transition": name, "known": sorted(TRANSITION_PERMISSIONS)})
    if not actor_has_perm(actor, TRANSITION_PERMISSIONS[name]):
        raise TransitionForbidden(details={"transition": name, "permission": TRANSITION_PERMISSIONS[name]})
    method = getattr(order, name)
    available = sorted(t.name for t in order.get_available_status_transitions())
    if name not in available:
        raise TransitionNotAllowed(
            _("“%(transition)s” is not allowed from status “%(status)s”.")
            % {"transition": TRANSITION_LABELS[name], "status": order.get_status_display()},
            details={"transition": name, "status": order.status, "allowed": available},
        )
    if name in HOLD_BLOCKED_TRANSITIONS:
        _refuse_if_on_hold(order, name)

    now = at or timezone.now()
    from_status = order.status
    method()
    for field, value in (changes or {}).items():
        setattr(order, field, value)
    order.status_changed_at = now
    order.save()
    _apply_stock_effects(order, name=name, actor=actor, reason=reason)
    event_payload = dict(payload or {})
    if reason:
        event_payload["reason"] = reason
    _record_event(order, type=OrderEvent.Type.TRANSITION, name=name, from_status=from_status,
                  to_status=order.status, actor=actor, payload=event_payload,
                  is_intervention=is_intervention, at=now)
    if order.status in TERMINAL_STATUSES:
        _close_holds_of_ended_order(order, at=now)
        if from_status == "pending_approval":
            from apps.approvals.services import close_requests_of_ended_order

            close_requests_of_ended_order(order, at=now)
        elif from_status == "picking":
            from apps.fulfillment.services.waves import release_wave_of_ended_order

            release_wave_of_ended_order(order, at=now)
    elif order.status == "pending_review":
        schedule_audit(order.pk)
    return order


def _refuse_if_on_hold(order, name):
    open_holds = list(order.holds.filter(released_at__isnull=True).values("id", "type", "reason"))
    if open_holds:
        raise OrderOnHold(details={"transition": name, "holds": open_holds})


def transition_locked_order(order, *, name, actor, reason="", payload=None, is_intervention=False) -> Order:
    """A transition for another app's service that has already locked the order (approvals)."""
    return _apply_transition(order, name=name, actor=actor, reason=reason, payload=payload,
                             is_intervention=is_intervention)


def record_order_event(order, *, name: str, payload=None, actor=None) -> OrderEvent:
    """A note in the order's history for something that is not a status change (e.g. a warehouse
    reassignment)."""
    return _record_event(order, type=OrderEvent.Type.NOTE, name=name, actor=actor, payload=payload)


def _close_holds_of_ended_order(order, *, at):
    """A cancelled, expired or otherwise finished order has nothing left to wait for."""
    for hold in order.holds.filter(released_at__isnull=True):
        hold.released_at = at
        hold.resolution = _("Order ended")
        hold.save(update_fields=["released_at", "resolution"])
        _record_event(order, type=OrderEvent.Type.HOLD_RELEASED, name=hold.type, actor=None, at=at,
                      payload={"hold_id": hold.pk, "resolution": hold.resolution})


def schedule_audit(order_id: int):
    """Review the order by a django-q2 task. The job is a row written in this transaction
    (apps.core.queue), so it exists exactly when the order's change has committed; the sweep
    schedule catches anything missed."""
    from django_q.tasks import async_task

    async_task("apps.orders.tasks.audit_order", order_id)


def _apply_stock_effects(order, *, name, actor, reason):
    """What a status change means for the order's reserved stock, in the same transaction."""
    if name in {"pay", "confirm"}:
        stock.firm_for_order(order)
    elif name in {"cancel", "reject", "expire"}:
        stock.release_for_order(order, actor=actor, reason=reason or str(TRANSITION_LABELS[name]))
    elif name == "ship":
        stock.issue_for_order(order, actor=actor)


@transaction.atomic
def order_transition(*, order_id: int, name: str, actor, reason: str = "", payload=None,
                     is_intervention: bool = False) -> Order:
    """Lock the order, check the transition is allowed (status, permission, holds), apply it, audit it."""
    order = lock_order(order_id)
    if name == "pass_review":
        # A person passing review must not skip approval: the same routing as the rules.
        return _leave_review(order, actor=actor, reason=reason, is_intervention=is_intervention)
    return _apply_transition(order, name=name, actor=actor, reason=reason, payload=payload,
                             is_intervention=is_intervention)


def _payment_changes(order, *, amount, paid_at):
    amount = order.grand_total if amount is None else amount
    if amount <= ZERO or amount > order.grand_total:
        raise InvalidPayment(details={"amount": str(amount), "grand_total": str(order.grand_total)})
    status = PaymentStatus.PAID if amount == order.grand_total else PaymentStatus.DEPOSIT_PAID
    return {"paid_amount": amount, "payment_status": status, "paid_at": paid_at}


@transaction.atomic
def order_pay(*, order_id: int, actor, amount=None, paid_at=None) -> Order:
    """Record the buyer's payment (the whole amount, or a presale deposit) and send the order to review."""
    order = lock_order(order_id)
    now = timezone.now()  # paid "now" is the moment the pay event records
    changes = _payment_changes(order, amount=amount, paid_at=paid_at or now)
    return _apply_transition(order, name="pay", actor=actor, changes=changes, at=now,
                             payload={"amount": str(changes["paid_amount"])})


COMPLAINT_EVENT = "complaint"


@transaction.atomic
def order_record_complaint(*, order_id: int, text: str, actor) -> OrderEvent:
    """What the buyer complained about, in their words, on the order's timeline. Return-reason
    suggestions read these (apps.returns.suggestions)."""
    if not actor_has_perm(actor, "orders.record_complaint"):
        raise TransitionForbidden(details={"permission": "orders.record_complaint"})
    text = (text or "").strip()
    if not text:
        raise ValidationFailed(code="complaint_text_required", details={"text": text})
    order = lock_order(order_id)
    return record_order_event(order, name=COMPLAINT_EVENT, actor=actor, payload={"text": text[:2000]})


NOTE_MAX_LENGTH = 2000
URGENT_TAG = "urgent"


@transaction.atomic
def order_add_note(*, order_id: int, body: str, actor) -> CsNote:
    """A private customer-service note, stored encrypted. The timeline only says a note was added
    (events are read by every role), which also counts as staff attention on a complaint."""
    if not actor_has_perm(actor, "orders.add_csnote"):
        raise TransitionForbidden(details={"permission": "orders.add_csnote"})
    body = (body or "").strip()
    if not body:
        raise ValidationFailed(_("Write the note first."), code="note_required",
                               details={"body": [{"code": "required", "message": _("Write the note first.")}]})
    if len(body) > NOTE_MAX_LENGTH:
        raise ValidationFailed(_("The note is too long."), code="note_too_long", details={"body": [{
            "code": "too_long", "message": _("At most %(max)d characters.") % {"max": NOTE_MAX_LENGTH}}]})
    order = lock_order(order_id)
    note = CsNote.objects.create(order=order, body_encrypted=encrypt_text(body), author=actor_user(actor))
    record_order_event(order, name="cs_note_added", actor=actor, payload={"note_id": note.pk})
    return note


@transaction.atomic
def order_mark_urgent(*, order_id: int, actor, reason: str = "") -> bool:
    """Tag the order `urgent`, which the agent's worklist and order page show. Marking twice changes
    nothing; returns whether this call marked it."""
    if not actor_has_perm(actor, "orders.mark_urgent"):
        raise TransitionForbidden(details={"permission": "orders.mark_urgent"})
    order = lock_order(order_id)
    if order.status in TERMINAL_STATUSES:
        raise TransitionNotAllowed(_("A finished order cannot be marked urgent."),
                                   details={"status": order.status})
    _tag, created = OrderTag.objects.get_or_create(order=order, tag=URGENT_TAG,
                                                   defaults={"source": actor_label(actor)[:64]})
    if created:
        record_order_event(order, name="marked_urgent", actor=actor,
                           payload={"reason": reason.strip()[:500]} if reason.strip() else {})
    return created


@transaction.atomic
def order_hold_open(*, order_id: int, type: str, reason: str, actor, owner_role: str = "",
                    details=None, is_automatic: bool = False) -> OrderHold:
    if not actor_has_perm(actor, "orders.add_orderhold"):
        raise TransitionForbidden(details={"permission": "orders.add_orderhold"})
    order = lock_order(order_id)
    if order.holds.filter(type=type, released_at__isnull=True).exists():
        raise HoldAlreadyOpen(details={"type": type})
    return _open_hold(order, type=type, reason=reason, actor=actor, owner_role=owner_role, details=details,
                      is_automatic=is_automatic)


def open_automatic_hold(order, *, type: str, reason: str, owner_role: str, details=None) -> OrderHold | None:
    """A rule's hold on an order the caller has locked; an open hold of the same type is kept as it is."""
    if order.holds.filter(type=type, released_at__isnull=True).exists():
        return None
    return _open_hold(order, type=type, reason=reason, actor=None, owner_role=owner_role, details=details,
                      is_automatic=True)


def _open_hold(order, *, type, reason, actor, owner_role, details, is_automatic) -> OrderHold:
    now = timezone.now()
    hold = OrderHold.objects.create(
        order=order, type=type, reason=reason, owner_role=owner_role, details=details or {},
        is_automatic=is_automatic, opened_at=now, opened_by=actor_user(actor),
    )
    _record_event(order, type=OrderEvent.Type.HOLD_OPENED, name=type, actor=actor, at=now,
                  payload={"hold_id": hold.pk, "reason": reason, "automatic": is_automatic})
    return hold


@transaction.atomic
def order_hold_release(*, order_id: int, hold_id: int, actor, resolution: str,
                       is_intervention: bool = False) -> OrderHold:
    """Close a hold, recording who, when and how. A forced pass is marked as an intervention."""
    if not actor_has_perm(actor, "orders.change_orderhold"):
        raise TransitionForbidden(details={"permission": "orders.change_orderhold"})
    order = lock_order(order_id)
    hold = lock_hold(order_id=order.pk, hold_id=hold_id)
    if not hold.is_open:
        raise HoldNotOpen(details={"hold_id": hold.pk})
    hold.released_at = timezone.now()
    hold.released_by = actor_user(actor)
    hold.resolution = resolution
    hold.save(update_fields=["released_at", "released_by", "resolution"])
    _record_event(order, type=OrderEvent.Type.HOLD_RELEASED, name=hold.type, actor=actor,
                  at=hold.released_at, is_intervention=is_intervention,
                  payload={"hold_id": hold.pk, "resolution": resolution})
    if order.status == "pending_review" and not order.holds.filter(released_at__isnull=True).exists():
        schedule_audit(order.pk)  # the last hold is gone: the order moves on by itself
    return hold


@dataclass(frozen=True)
class IntakeResult:
    order: Order
    created: bool
    payload_differs: bool = False


def intake_digest(raw_payload) -> str:
    canonical = json.dumps(raw_payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _existing(shop, external_id, digest):
    order = Order.objects.filter(shop=shop, external_id=external_id).first()
    if order is None:
        return None
    return IntakeResult(order=order, created=False, payload_differs=order.intake_digest != digest)


def _platform_buyer(shop, data) -> Customer | None:
    """The platform buyer an order without a B2B customer belongs to (not saved): its code is the
    platform and the buyer's id, or the receiver's phone when the platform gives no id."""
    if data.get("customer"):
        return None
    buyer = data.get("buyer") or {}
    address = data["address"]
    identity = buyer.get("id") or f"tel:{address['phone']}"
    return Customer(code=f"{shop.platform}:{identity}"[:64], name=buyer.get("nickname") or address["receiver"],
                    kind=Customer.Kind.B2C, phone=address["phone"])


def _upsert_buyers(buyers: list[Customer]) -> dict[str, int]:
    """Customer id by code, created on first sight in one statement (ON CONFLICT on the unique
    code); an existing buyer's name and phone are left as they are."""
    unique = list({buyer.code: buyer for buyer in buyers}.values())
    Customer.objects.bulk_create(unique, update_conflicts=True, unique_fields=["code"], update_fields=["code"],
                                 batch_size=1000)
    return {buyer.code: buyer.pk for buyer in unique}


def order_create(*, shop, data: dict, actor, raw_payload=None) -> IntakeResult:
    """Create an order with its lines from validated intake data, once per (shop, external_id), and
    reserve its stock.

    The unique constraint on (shop, external_id) is the only check: a replay, or the loser of two
    identical requests racing each other, fails its INSERT, rolls back its savepoint (customer
    included) and reads the existing row. Looking first would cost every new order a query to
    save a replay one.
    """
    digest = intake_digest(raw_payload if raw_payload is not None else data)
    try:
        with transaction.atomic():
            order = _insert_order(shop=shop, data=data, actor=actor, digest=digest)
    except IntegrityError:
        existing = _existing(shop, data["external_id"], digest)
        if existing is None:
            raise
        return existing
    return IntakeResult(order=order, created=True)


def orders_create_batch(*, items: list[tuple], actor) -> list[Order]:
    """Create many new orders at once (a legacy file's open orders): the orders order_create would
    make, each (shop, data, raw_payload) of `items`, written with one INSERT per table and batch,
    their stock reserved together as intake would reserve it order by order, and the paid ones
    reviewed by one task per batch once committed. The caller has checked that none of them exists yet; one that was
    created meanwhile fails the batch with IntegrityError (run it inside the caller's transaction)."""
    now = timezone.now()
    buyers = {index: _platform_buyer(shop, data) for index, (shop, data, _raw) in enumerate(items)}
    buyer_ids = _upsert_buyers([buyer for buyer in buyers.values() if buyer is not None])
    built = [_build_order(shop=shop, data=data, actor=actor, now=now,
                          digest=intake_digest(raw if raw is not None else data),
                          customer_id=data["customer"].pk if buyers[index] is None else buyer_ids[buyers[index].code])
             for index, (shop, data, raw) in enumerate(items)]
    # Reservation judges batches by the customer's shelf-life rule: read them all here, not once per order.
    customers = Customer.objects.in_bulk({order.customer_id for order, _lines, _events in built})
    for order, _lines, _events in built:
        order.customer = customers[order.customer_id]
    orders = Order.objects.bulk_create([order for order, _lines, _events in built], batch_size=1000)
    lines = OrderLine.objects.bulk_create([line for _order, order_lines, _events in built for line in order_lines],
                                          batch_size=1000)
    OrderEvent.objects.bulk_create([event for _order, _lines, events in built for event in events], batch_size=1000)
    OrderTag.objects.bulk_create([tag for order in orders for tag in remark_tags(order)], ignore_conflicts=True)
    by_order = {}
    for line in lines:
        by_order.setdefault(line.order_id, []).append(line)
    stock.reserve_for_new_orders([(order, by_order[order.pk]) for order in orders], actor=actor)
    to_review = [order.pk for order in orders if order.status == "pending_review"]
    if to_review:
        from django_q.tasks import async_task

        async_task("apps.orders.tasks.audit_orders", to_review)  # in this transaction (apps.core.queue)
    return orders


def _insert_order(*, shop, data, actor, digest) -> Order:
    """Write a new order with its buyer, lines, events, tags and review job, and reserve its stock."""
    buyer = _platform_buyer(shop, data)
    order, lines, events = _build_order(shop=shop, data=data, actor=actor, digest=digest, now=timezone.now(),
                                        customer_id=None)
    order.customer = buyer or data["customer"]
    tags = remark_tags(order)
    if not uses_postgresql():
        if buyer is not None:
            order.customer_id = _upsert_buyers([buyer])[buyer.code]
        order.save(force_insert=True)
        lines = OrderLine.objects.bulk_create(lines)
        OrderEvent.objects.bulk_create(events)
        OrderTag.objects.bulk_create(tags)
        _schedule_intake_audit(order)
        stock.reserve_for_order(order, actor=actor, new_lines=lines)
        return order
    # The busiest write of all: every row in one statement, sent with the reservation in one round
    # trip (apps.core.db). The reservation finds the order by shop and number, as it has no id yet.
    with jobs_held() as jobs:
        _schedule_intake_audit(order)
    rows = InsertTogether([([buyer] if buyer else [], "code"), ([order], None), (lines, None), (events, None),
                           (tags, None), (jobs, None)])
    written, reserved = run_together(rows.statement, stock.new_order_reservation(order, actor=actor))
    rows.assign(written)
    stock.new_order_reserved(reserved, order)
    return order


def _schedule_intake_audit(order):
    """An order that arrived paid is reviewed by a job written with it (apps.core.queue), which names
    it by shop and number so that it can be written before the order has an id."""
    if order.status == "pending_review":
        from django_q.tasks import async_task

        async_task("apps.orders.tasks.audit_new_order", order.shop_id, order.external_id)


def _build_order(*, shop, data, actor, digest, now, customer_id) -> tuple[Order, list[OrderLine], list[OrderEvent]]:
    """The order of validated intake data with its lines and events, not yet saved (each refers to
    the order, whose id the INSERT gives them)."""
    address = data["address"]
    goods_total = sum((line["line_total"] for line in data["lines"]), ZERO)
    order = Order(
        shop=shop,
        external_id=data["external_id"],
        platform=recognise_platform(data["external_id"], prefer=shop.platform) or shop.platform,
        customer_id=customer_id,
        buyer_nickname=(data.get("buyer") or {}).get("nickname", ""),
        warehouse_id=shop.default_warehouse_id,
        status_changed_at=now,
        receiver_name=address["receiver"],
        receiver_phone=address["phone"],
        phone_tail=phone_tail(address["phone"]),
        province=address["province"],
        city=address["city"],
        district=address["district"],
        address_detail=address["detail"],
        postal_code=address.get("postal_code", ""),
        goods_total=goods_total,
        shipping_fee=data["shipping_fee"],
        discount_total=data["discount_total"],
        grand_total=goods_total + data["shipping_fee"] - data["discount_total"],
        buyer_remark=data.get("buyer_remark", ""),
        seller_remark=data.get("seller_remark", ""),
        placed_at=data.get("placed_at") or now,
        promised_ship_by=promised_ship_by(shop, data.get("placed_at") or now),
        payment_due_at=now + timedelta(minutes=shop.payment_window_minutes),
        intake_digest=digest,
        created_by=actor_user(actor),
    )
    events = [_new_event(order, type=OrderEvent.Type.CREATED, to_status=order.status, actor=actor, at=now,
                         payload={"channel": "api", "platform": order.platform})]
    if data.get("paid_at"):
        # An order that arrives paid takes its pay transition before its first INSERT: a new row
        # has no holds and nobody else can see it, so only the permission is left to check.
        if not actor_has_perm(actor, TRANSITION_PERMISSIONS["pay"]):
            raise TransitionForbidden(details={"transition": "pay", "permission": TRANSITION_PERMISSIONS["pay"]})
        changes = _payment_changes(order, amount=data.get("paid_amount"), paid_at=data["paid_at"])
        from_status = order.status
        order.pay()
        for field, value in changes.items():
            setattr(order, field, value)
        events.append(_new_event(order, type=OrderEvent.Type.TRANSITION, name="pay", from_status=from_status,
                                 to_status=order.status, actor=actor, at=now,
                                 payload={"amount": str(changes["paid_amount"])}))
    lines = [
        OrderLine(
            order=order,
            line_no=index,
            sku=line["sku"],
            name=line["sku"].name_zh,
            quantity=line["quantity"],
            unit_price=line["unit_price"],
            discount=line["discount"],
            line_total=line["line_total"],
        )
        for index, line in enumerate(data["lines"], start=1)
    ]
    return order, lines, events


@dataclass(frozen=True)
class AuditResult:
    order: Order
    holds_opened: list
    passed: bool


@transaction.atomic
def order_audit(*, order_id: int) -> AuditResult:
    """Review an order waiting in pending_review: each active rule that fails opens a hold owned by
    the rule's role; an order with no open hold moves on by itself, to pending_approval when an
    approval policy asks for signatures, otherwise to ready. Idempotent: a held
    order gets no second hold of a type, a moved-on order is left alone."""
    order = lock_order(order_id)
    if order.status != "pending_review":
        return AuditResult(order=order, holds_opened=[], passed=False)
    opened = []
    # A hold a person already resolved on this order (fixed, or force-passed) is their decision:
    # the same rule does not stop the order again.
    decided = set(order.holds.filter(released_at__isnull=False).values_list("type", flat=True))
    resolve_order_address(order)
    for rule, finding in audit.evaluate(order):
        if finding.hold_type in decided:
            continue
        hold = open_automatic_hold(order, type=finding.hold_type, reason=finding.reason,
                                   owner_role=rule.owner_role, details=finding.details)
        if hold:
            opened.append(hold)
    if order.holds.filter(released_at__isnull=True).exists():
        return AuditResult(order=order, holds_opened=opened, passed=False)
    _leave_review(order, actor=None, reason=_("All review rules passed"))
    return AuditResult(order=order, holds_opened=opened, passed=True)


def _leave_review(order, *, actor, reason, is_intervention=False) -> Order:
    """The way out of pending_review, for the rules and for a person alike: to pending_approval when
    an approval policy asks for signatures, otherwise to ready."""
    from apps.approvals.services import approval_open_for_order

    # Check the person may move the order on, and that no hold stops it, before a request is opened.
    if not actor_has_perm(actor, TRANSITION_PERMISSIONS["pass_review"]):
        raise TransitionForbidden(details={"transition": "pass_review",
                                           "permission": TRANSITION_PERMISSIONS["pass_review"]})
    routing = None
    if order.status == "pending_review":  # otherwise the transition below refuses with the allowed list
        _refuse_if_on_hold(order, "pass_review")
        routing = approval_open_for_order(order)
    if routing is not None and routing.needs_approval:
        return _apply_transition(order, name="require_approval", actor=actor, reason=reason,
                                 payload={"approval_request": routing.request.pk}, is_intervention=is_intervention)
    payload = {"approval_request": routing.request.pk, "auto_approved": True} if routing and routing.request else None
    return _apply_transition(order, name="pass_review", actor=actor, reason=reason, payload=payload,
                             is_intervention=is_intervention)


# --- the shipping address and its lock after packing ---------------------------------------------

# Field -> longest value the column takes. The postal code may be blank; every other part is required.
ADDRESS_FIELDS = {"receiver_name": 64, "receiver_phone": 32, "province": 32, "city": 32, "district": 32,
                  "address_detail": 255, "postal_code": 12}
_REGION_FIELDS = {"province", "city", "district", "address_detail"}
# Statuses after review whose address must already be resolved (review resolves the earlier ones).
_REVIEWED_STATUSES = {"ready", "picking", "picked", "packed"}
_ADDRESS_MASKS = {"receiver_name": mask_name, "receiver_phone": mask_phone, "address_detail": mask_detail}


def _field_error(code: str, message) -> list[dict]:
    return [{"code": code, "message": str(message)}]


def _required_reason(reason) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidAddress(_("Give a reason."), details={"reason": _field_error("required", _("Give a reason."))})
    return reason[:500]


def _clean_address(values: dict) -> dict:
    """The given parts, trimmed and checked (every problem at once); the phone in canonical form."""
    errors, cleaned = {}, {}
    for name, value in values.items():
        if value is None:
            continue
        value = str(value).strip()
        if name == "receiver_phone":
            try:
                value = normalise_phone(value)
            except InvalidPhone as exc:
                errors[name] = _field_error("invalid_phone", exc.message)
                continue
        elif name == "postal_code":
            if value and not (len(value) == 6 and value.isdigit()):
                errors[name] = _field_error("invalid_postal_code", _("A postal code has 6 digits."))
                continue
        elif not value:
            errors[name] = _field_error("required", _("This field is required."))
            continue
        if len(value) > ADDRESS_FIELDS[name]:
            errors[name] = _field_error("too_long", _("At most %(max)d characters.") % {"max": ADDRESS_FIELDS[name]})
            continue
        cleaned[name] = value
    if errors:
        raise InvalidAddress(details=errors)
    return cleaned


def _masked_address(values: dict) -> dict:
    """What the order's history keeps of an address: events are shown to roles that may not see
    personal data, so names, phones and streets are masked as on screens."""
    return {name: _ADDRESS_MASKS.get(name, str)(value) for name, value in values.items()}


def _live_waybill(order):
    from apps.fulfillment.selectors import live_shipment  # fulfillment builds on orders, not the reverse

    return live_shipment(order)


@transaction.atomic
def order_change_address(*, order_id: int, actor, reason: str, receiver_name: str | None = None,
                         receiver_phone: str | None = None, province: str | None = None, city: str | None = None,
                         district: str | None = None, address_detail: str | None = None,
                         postal_code: str | None = None) -> Order:
    """Change the shipping address (only the parts given). Before packing anyone with the permission
    may; from `packed` on the address is locked, and a packed order takes one change after a warehouse
    lead unlocked it (order_unlock_address), which locks it again. A shipped parcel is with the
    carrier: its address never changes here (an intercept is the way). An e-waybill requested or
    issued for the old address must be cancelled first, or the label on the parcel and the order
    would disagree."""
    if not actor_has_perm(actor, "orders.change_shipping_address"):
        raise TransitionForbidden(details={"permission": "orders.change_shipping_address"})
    reason = _required_reason(reason)
    cleaned = _clean_address({"receiver_name": receiver_name, "receiver_phone": receiver_phone,
                              "province": province, "city": city, "district": district,
                              "address_detail": address_detail, "postal_code": postal_code})
    order = lock_order(order_id)
    unlocked = order.address_unlocked_at is not None
    if order.status not in PRE_SHIPMENT_STATUSES:
        raise AddressLocked(_("The parcel has left the warehouse; its address can no longer change here."),
                            details={"status": order.status, "unlockable": False})
    if order.status == "packed" and not unlocked:
        raise AddressLocked(details={"status": order.status, "unlockable": True})
    live = _live_waybill(order)
    if live is not None:
        raise WaybillIssued(details={"shipment_id": live.pk, "carrier": live.carrier.code, "state": live.state,
                                     "tracking_number": live.tracking_number})
    changed = {name: value for name, value in cleaned.items() if getattr(order, name) != value}
    if not changed:
        raise InvalidAddress(_("The new address is the same as the old one."),
                             details={"_": _field_error("no_change", _("Nothing to change."))})

    before = {name: getattr(order, name) for name in changed}
    for name, value in changed.items():
        setattr(order, name, value)
    update = [*changed, "address_unlocked_at", "updated_at"]
    if "receiver_phone" in changed:
        order.phone_tail = phone_tail(order.receiver_phone)
        update.append("phone_tail")
    regional = bool(_REGION_FIELDS & set(changed))
    if regional:
        order.region_code = ""
        update.append("region_code")
    order.address_unlocked_at = None
    order.save(update_fields=update)
    resolved = None
    if regional and order.status in _REVIEWED_STATUSES:
        # Review resolved the old address; the new one gets the same treatment now (canonical names
        # and the district's code), because review will not see this order again.
        resolved = resolve_order_address(order)
    record_order_event(order, name="address_changed", actor=actor, payload={
        "reason": reason, "fields": sorted(changed), "before": _masked_address(before),
        "after": _masked_address({name: getattr(order, name) for name in changed}),
        "after_unlock": unlocked, "address_resolved": resolved,
    })
    return order


@transaction.atomic
def order_unlock_address(*, order_id: int, reason: str, actor) -> Order:
    """Open a packed order's address for one change. Needs a warehouse lead (orders.unlock_address)
    and a reason, and is recorded as a manual intervention."""
    if not actor_has_perm(actor, "orders.unlock_address"):
        raise TransitionForbidden(details={"permission": "orders.unlock_address"})
    reason = _required_reason(reason)
    order = lock_order(order_id)
    if order.status != "packed":
        if order.status in PRE_SHIPMENT_STATUSES:
            raise AddressNotLockable(details={"status": order.status})
        raise AddressLocked(_("The parcel has left the warehouse; its address can no longer change here."),
                            details={"status": order.status, "unlockable": False})
    if order.address_unlocked_at is not None:
        raise AddressAlreadyUnlocked(details={"unlocked_at": order.address_unlocked_at.isoformat()})
    order.address_unlocked_at = timezone.now()
    order.save(update_fields=["address_unlocked_at", "updated_at"])
    live = _live_waybill(order)
    _record_event(order, type=OrderEvent.Type.NOTE, name="address_unlocked", actor=actor, is_intervention=True,
                  at=order.address_unlocked_at,
                  payload={"reason": reason, "live_waybill": live.tracking_number or live.state if live else None})
    return order
