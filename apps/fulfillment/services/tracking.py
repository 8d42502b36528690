"""Carrier tracking: the webhook's events, the order moving with them, and stalled parcels.

Locks: everything here changes an order's data under its lock (apps.orders.lock_objects.lock_order),
tracking events included; nothing else is locked, so the project-wide lock order is untouched.
"""
import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.orders.lock_objects import lock_order
from apps.orders.models import INTERCEPTABLE_STATUSES, HoldType, Order, OrderEvent, OrderHold
from apps.orders.services import open_automatic_hold, order_hold_release, transition_locked_order

from ..carriers import adapter_for
from ..carriers.codes import DELIVER, OUT_FOR_DELIVERY, REFUSE, TRANSIT
from ..errors import TrackingCarrierUnknown, TrackingEventInvalid, TrackingNumberUnknown, WebhookSignatureInvalid
from ..models import Carrier, Shipment, TrackingEvent

SIGNATURE_HEADER = "X-Orderhub-Signature"
SIGNATURE_PREFIX = "sha256="
STALL_AFTER = timedelta(hours=48)
STALL_OWNER_ROLE = "cs_lead"

# How far along the way to the buyer each status is. A scan moves the order only to a later
# stage: carriers redeliver and reorder webhooks, and a late "in transit" must not undo "delivered".
STAGE = {"shipped": 0, "in_transit": 1, "out_for_delivery": 2, "delivered": 3, "refused": 3, "completed": 4}
# The transitions that take an order from its status to the stage a scan means, in order. Skipped
# scans (shipped straight to delivered) are walked through, so the history shows every step.
PATHS = {
    TRANSIT: {"shipped": ["transit"]},
    OUT_FOR_DELIVERY: {"shipped": ["transit", "out_for_delivery"], "in_transit": ["out_for_delivery"]},
    DELIVER: {"shipped": ["transit", "deliver"], "in_transit": ["deliver"], "out_for_delivery": ["deliver"]},
    REFUSE: {"shipped": ["transit", "refuse"], "in_transit": ["refuse"], "out_for_delivery": ["refuse"]},
}
TARGET_STAGE = {TRANSIT: 1, OUT_FOR_DELIVERY: 2, DELIVER: 3, REFUSE: 3}


# --- errors (kept beside the service while apps/fulfillment/errors.py is being edited elsewhere) ---







# --- the webhook ---------------------------------------------------------------------------------

def sign_webhook_body(secret: str, raw_body: bytes) -> str:
    """The header value a carrier sends: HMAC-SHA256 of the exact body bytes under the shared secret."""
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).hexdigest()


def tracking_verify_signature(*, carrier_code: str, raw_body: bytes, signature: str | None) -> Carrier:
    """Check the webhook's signature before its body is even parsed; return the carrier.

    An unknown carrier, a carrier without a secret and a wrong signature give the same 401, so the
    endpoint tells a stranger nothing about which carriers exist or are set up. The comparison is
    constant-time, so the right signature cannot be found byte by byte from response times."""
    carrier = Carrier.objects.filter(code=carrier_code).first()
    secret = carrier.webhook_secret if carrier is not None else ""
    # Compared even when there is nothing to compare with, to keep the timing the same.
    expected = sign_webhook_body(secret or "-", raw_body)
    given = (signature or "").strip()
    if not hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace")) or not secret:
        raise WebhookSignatureInvalid(details={"header": SIGNATURE_HEADER})
    return carrier


@dataclass(frozen=True)
class TrackingResult:
    event: TrackingEvent
    created: bool  # False: a redelivery of an event already stored; nothing was changed

    @property
    def answer(self) -> dict:
        """The webhook's answer: the same for the first delivery and every redelivery."""
        return self.event.outcome


def tracking_ingest(*, carrier_code: str, body) -> TrackingResult:
    """Store one tracking event from a carrier's webhook and move the order with it.

    - Malformed bodies raise `tracking_event_invalid` (the adapter's parser) with per-field details.
    - The shipment is found by (carrier, tracking number); none → `tracking_number_unknown` (404).
    - An event already stored (same carrier and event id) changes nothing and returns the stored
      outcome, so the carrier gets the same answer however often it redelivers.
    - The order only moves forward (shipped → in_transit → out_for_delivery → delivered | refused),
      through every step in between, each a transition by the system with the event in its payload.
      A late event that means an earlier stage, a scan that means nothing, an order being
      intercepted, or one not shipped yet: the event is stored and the order stays.
    - A fresh event (under 48 hours old) closes an open automatic `stalled_in_transit` hold.
    """
    carrier = Carrier.objects.filter(code=carrier_code).first()
    if carrier is None:
        raise TrackingCarrierUnknown(details={"carrier": carrier_code})
    parsed = adapter_for(carrier).parse_tracking_event(body)
    too_long = {name: [{"code": "too_long", "message": _("At most %(n)s characters.") % {"n": limit}}]
                for name, limit in (("event_id", 64), ("code", 32)) if len(getattr(parsed, name)) > limit}
    if too_long:  # the columns' limits: refused as data, not left to fail as a database error
        raise TrackingEventInvalid(details=too_long)
    shipment = (Shipment.objects.filter(carrier=carrier, tracking_number=parsed.tracking_number)
                .values("pk", "order_id").first())
    if shipment is None:
        raise TrackingNumberUnknown(details={"carrier": carrier.code, "tracking_number": parsed.tracking_number})
    return _ingest(carrier=carrier, shipment_id=shipment["pk"], order_id=shipment["order_id"], parsed=parsed,
                   body=body)


@transaction.atomic
def _ingest(*, carrier, shipment_id, order_id, parsed, body) -> TrackingResult:
    order = lock_order(order_id)
    # Read under the order's lock: two deliveries of one event queue here and the second finds the first.
    existing = TrackingEvent.objects.filter(carrier=carrier, event_id=parsed.event_id).first()
    if existing is not None:
        return TrackingResult(event=existing, created=False)
    shipment = Shipment.objects.get(pk=shipment_id)
    event = TrackingEvent(
        shipment=shipment, carrier=carrier, event_id=parsed.event_id, code=parsed.code,
        transition=parsed.transition or "", occurred_at=parsed.occurred_at, location=parsed.location[:200],
        description=parsed.description[:500], raw=body, received_at=timezone.now())
    event.save(force_insert=True)

    now = timezone.now()
    closed_hold = None
    if event.occurred_at > now - STALL_AFTER:
        closed_hold = _close_stall_hold(order, event)
    from_status = order.status
    applied, skipped = _move_order(order, shipment, event)
    event.outcome = {
        "event_id": event.event_id, "carrier": carrier.code, "tracking_number": parsed.tracking_number,
        "order_id": order.pk, "code": event.code, "transition": event.transition or None,
        "from_status": from_status, "status": order.status, "applied": applied, "skipped": skipped,
        "closed_hold_id": closed_hold,
    }
    event.save(update_fields=["outcome"])
    return TrackingResult(event=event, created=True)


def _move_order(order, shipment, event) -> tuple[list[str], str | None]:
    """Apply the transitions the event calls for; return them, or why none were applied."""
    if not event.transition:
        return [], "no_meaning"
    if order.status in ("intercepting", "intercepted"):
        # The intercept settles where the parcel ends up; an ordinary scan is only recorded.
        return [], "intercept"
    if shipment.state != Shipment.State.ISSUED:
        return [], "shipment_not_live"
    if order.status not in STAGE:
        # Not shipped yet (the carrier scanned the parcel before the clerk pressed "ship"), or ended.
        return [], "order_not_shipped"
    if TARGET_STAGE[event.transition] <= STAGE[order.status]:
        return [], "not_forward"
    path = PATHS[event.transition].get(order.status)
    if not path:
        return [], "not_forward"
    payload = {"tracking_event_id": event.pk, "carrier": event.carrier.code,
               "tracking_number": shipment.tracking_number, "event_id": event.event_id, "code": event.code,
               "occurred_at": event.occurred_at.isoformat(), "location": event.location}
    for name in path:
        transition_locked_order(order, name=name, actor=None, payload=payload)
    return path, None


def _close_stall_hold(order, event) -> int | None:
    hold = order.holds.filter(type=HoldType.STALLED_IN_TRANSIT, released_at__isnull=True,
                              is_automatic=True).first()
    if hold is None:
        return None
    resolution = _("Carrier scan %(code)s at %(time)s: the parcel is moving again.") % {
        "code": event.code, "time": timezone.localtime(event.occurred_at).strftime("%Y-%m-%d %H:%M")}
    # Nested in this transaction; it locks the same order again, which costs nothing.
    order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=None, resolution=resolution[:500])
    return hold.pk


# --- stalled parcels ----------------------------------------------------------------------------

STALL_STATUSES = tuple(str(status) for status in INTERCEPTABLE_STATUSES)  # shipped, in_transit, out_for_delivery


def _stalled(orders, *, cutoff):
    """Orders on the way whose last sign of life is older than `cutoff` and that have no open stall
    hold. A sign of life is the latest tracking event, else the ship time (the status change time
    for orders without a ship event); a person releasing a stall hold also restarts the clock, so
    their decision stands for another 48 hours instead of being overruled by the next sweep."""
    recent_event = TrackingEvent.objects.filter(shipment__order=OuterRef("pk"), occurred_at__gt=cutoff)
    recent_ship = OrderEvent.objects.filter(order=OuterRef("pk"), type=OrderEvent.Type.TRANSITION,
                                            name="ship", created_at__gt=cutoff)
    stall_holds = OrderHold.objects.filter(order=OuterRef("pk"), type=HoldType.STALLED_IN_TRANSIT)
    return (orders.filter(status__in=STALL_STATUSES, status_changed_at__lte=cutoff)
            .exclude(Exists(recent_event)).exclude(Exists(recent_ship))
            .exclude(Exists(stall_holds.filter(Q(released_at__isnull=True) | Q(released_at__gt=cutoff)))))


def stalled_order_ids(*, limit: int = 1000) -> list[int]:
    cutoff = timezone.now() - STALL_AFTER
    return list(_stalled(Order.objects.all(), cutoff=cutoff).order_by("status_changed_at", "pk")
                .values_list("pk", flat=True)[:limit])


def order_flag_stalled(*, order_id: int) -> OrderHold | None:
    """Open the `stalled_in_transit` hold (owner: CS lead) on one order if it is still stalled when
    locked; None when it is not (an event arrived meanwhile) or a stall hold is already open."""
    with transaction.atomic():
        order = lock_order(order_id)
        # Re-checked under the lock with the sweep's own query: an event may have arrived meanwhile.
        if not _stalled(Order.objects.filter(pk=order.pk), cutoff=timezone.now() - STALL_AFTER).exists():
            return None
        last = (TrackingEvent.objects.filter(shipment__order=order).select_related("carrier")
                .order_by("-occurred_at", "-pk").first())
        if last is not None:
            reason = _("No carrier scan for over %(hours)s hours; last: %(code)s %(description)s at "
                       "%(location)s, %(time)s.") % {
                "hours": int(STALL_AFTER.total_seconds() // 3600), "code": last.code,
                "description": last.description or "", "location": last.location or "?",
                "time": timezone.localtime(last.occurred_at).strftime("%Y-%m-%d %H:%M")}
            details = {"last_event": {"tracking_event_id": last.pk, "carrier": last.carrier.code,
                                      "event_id": last.event_id, "code": last.code,
                                      "occurred_at": last.occurred_at.isoformat(), "location": last.location,
                                      "description": last.description}}
        else:
            reason = _("No carrier scan for over %(hours)s hours since the parcel was shipped.") % {
                "hours": int(STALL_AFTER.total_seconds() // 3600)}
            details = {"last_event": None}
        details["status"] = order.status
        return open_automatic_hold(order, type=HoldType.STALLED_IN_TRANSIT, reason=reason[:500],
                                   owner_role=STALL_OWNER_ROLE, details=details)


def tracking_flag_stalled(*, limit: int = 1000) -> int:
    """The schedule's sweep: a stall hold on every stalled order; returns how many were opened.
    Idempotent: an order with an open stall hold is not selected, and each is re-checked under its lock."""
    return sum(order_flag_stalled(order_id=order_id) is not None
               for order_id in stalled_order_ids(limit=limit))
