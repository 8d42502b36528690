"""Every write to shipments: the e-waybill, its cancellation, and shipping the packed order.

Locks: a shipment changes only while its order is locked (apps.orders.lock_objects.lock_order), so
no shipment row is ever locked itself; in the project-wide lock order shipments sit with their
order, before holds, approvals and stock levels.
"""
import json
import uuid
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.actors import actor_has_perm, actor_label, actor_user
from apps.orders.errors import TransitionForbidden
from apps.orders.lock_objects import lock_order
from apps.orders.services import record_order_event, transition_locked_order

from ..carriers import adapter_for
from ..carriers.base import CarrierAdapter, WaybillAnswer
from ..errors import (
    CarrierRefused,
    CarrierUnavailable,
    OrderNotShippable,
    PackageMissing,
    ReasonRequired,
    ShipmentCancelForbidden,
    ShipmentExists,
    ShipmentNotCancellable,
    ShipmentNotIssued,
    ShippingForbidden,
    UnknownCarrier,
)
from ..models import Carrier, Package, Shipment
from ..waybills import waybill_for_order
from ..selectors import live_shipment

SHIP_PERMISSION = "orders.ship_order"
CANCEL_PERMISSION = "fulfillment.change_shipment"
# The label goes on the packed parcel: only then are its weight and the (now locked) address final.
WAYBILL_STATUSES = ("packed",)
GRAMS_PER_KG = Decimal(1000)


def shipment_request_waybill(*, order_id: int, carrier_code: str, actor, service_type: str, weight=None,
                             cod_amount=None, insured_value=None, cargo_name: str | None = None,
                             packages: int = 1) -> Shipment:
    """Get the order's e-waybill from the carrier and store its answer (tracking number, 三段码,
    集包地, 大头笔) on a Shipment, noted in the order's history. The weight (kg) defaults to the
    weight recorded when the order was packed.

    Not one transaction: the carrier call is a network round trip of up to the adapter's timeout,
    and holding the order's row lock over it (on SQLite, the database's only write lock) would
    stall everything else that writes meanwhile. Instead:
    1. one transaction locks the order, checks it, validates the payload against the carrier's
       schema (invalid data raises here, nothing written) and records a `requested` Shipment with
       a new request id and the payload exactly as it will be sent;
    2. the carrier is called with no transaction open;
    3. one transaction locks the order again and stores the answer (`issued`) with its event.
    A failure in step 2 that proves the carrier never acted (connection refused, a refusal) deletes
    the requested row again, so nothing is left. One where it may have acted (timeout, 5xx, garbled
    answer) — or a crash between the steps — leaves the row: calling again resends the same
    request id and payload, and the carrier answers with the waybill it already issued instead of
    issuing a second. Once issued, calling again returns the stored shipment without a call.
    """
    if not actor_has_perm(actor, SHIP_PERMISSION):
        raise ShippingForbidden(details={"permission": SHIP_PERMISSION})
    shipment, adapter, created = _prepare_request(
        order_id=order_id, carrier_code=carrier_code, actor=actor,
        options={"service_type": service_type, "weight": weight, "cod_amount": cod_amount,
                 "insured_value": insured_value, "cargo_name": cargo_name, "packages": packages})
    if shipment.state == Shipment.State.ISSUED:
        return shipment
    try:
        answer = adapter.request_waybill(shipment.request_payload)
    except (CarrierRefused, CarrierUnavailable) as exc:
        never_acted = isinstance(exc, CarrierRefused) or not exc.may_have_arrived
        # Only this call's own row: an earlier attempt with the same request id may have reached
        # the carrier even if this one did not.
        if created and never_acted:
            _forget_request(order_id=shipment.order_id, shipment_id=shipment.pk)
        raise
    return _store_answer(order_id=shipment.order_id, shipment_id=shipment.pk, answer=answer, actor=actor)


@transaction.atomic
def _prepare_request(*, order_id, carrier_code, actor, options) -> tuple[Shipment, CarrierAdapter, bool]:
    order = lock_order(order_id)
    carrier = Carrier.objects.filter(code=carrier_code, is_active=True).first()
    if carrier is None:
        raise UnknownCarrier(details={"carrier": carrier_code})
    live = live_shipment(order)
    if live is not None and live.carrier_id != carrier.pk:
        raise ShipmentExists(details={"shipment_id": live.pk, "carrier": live.carrier.code,
                                      "tracking_number": live.tracking_number})
    if live is not None and live.state == Shipment.State.ISSUED:
        return live, None, False
    if order.status not in WAYBILL_STATUSES:
        raise OrderNotShippable(details={"status": order.status, "allowed": list(WAYBILL_STATUSES)})
    adapter = adapter_for(carrier)  # before anything is written: an unconfigured carrier leaves no row
    if live is not None:
        # A request that may have reached the carrier: resend it as it was, whatever the options
        # now say, because its request id stands for that payload.
        return live, adapter, False

    if options["weight"] is None:
        package = Package.objects.filter(order=order).first()
        if package is None:
            raise PackageMissing(details={"order_id": order.pk})
        options = {**options, "weight": Decimal(package.weight_grams) / GRAMS_PER_KG}
    cleaned = waybill_for_order(order, carrier, **options)
    request_id = uuid.uuid4()
    # Serialised once, so the stored payload is byte for byte what goes over the wire.
    wire = json.loads(json.dumps({"request_id": str(request_id), "order_ref": order.external_id, **cleaned},
                                 cls=DjangoJSONEncoder))
    shipment = Shipment.objects.create(
        order=order, carrier=carrier, request_id=request_id, service_type=cleaned["service_type"],
        request_payload=wire, weight=cleaned["weight"], cod_amount=cleaned.get("cod_amount"),
        insured_value=cleaned.get("insured_value"), actor=actor_user(actor), actor_label=actor_label(actor))
    return shipment, adapter, True


@transaction.atomic
def _forget_request(*, order_id, shipment_id):
    lock_order(order_id)
    Shipment.objects.filter(pk=shipment_id, state=Shipment.State.REQUESTED).delete()


@transaction.atomic
def _store_answer(*, order_id, shipment_id, answer: WaybillAnswer, actor) -> Shipment:
    order = lock_order(order_id)
    shipment = Shipment.objects.select_related("carrier").get(pk=shipment_id)
    if shipment.state == Shipment.State.ISSUED:
        return shipment  # a concurrent replay of the same request stored the same answer first
    if shipment.state == Shipment.State.CANCELLED:
        # A lead cancelled the request while the carrier was answering: the waybill the carrier
        # issued stays unused rather than bringing back a label for an address that may have changed.
        return shipment
    shipment.tracking_number = answer.tracking_number
    shipment.sort_code = answer.sort_code
    shipment.package_centre = answer.package_centre
    shipment.short_address = answer.short_address
    shipment.state = Shipment.State.ISSUED
    shipment.issued_at = timezone.now()
    shipment.save(update_fields=["tracking_number", "sort_code", "package_centre", "short_address", "state",
                                 "issued_at"])
    record_order_event(order, name="waybill_issued", actor=actor, payload={
        "shipment_id": shipment.pk, "carrier": shipment.carrier.code, "tracking_number": shipment.tracking_number,
        "sort_code": shipment.sort_code, "package_centre": shipment.package_centre,
        "short_address": shipment.short_address,
    })
    return shipment


@transaction.atomic
def shipment_cancel(*, order_id: int, reason: str, actor) -> Shipment:
    """Void the order's live e-waybill before the parcel leaves (e.g. the buyer's address changed
    after the label was printed), so a new one can be requested. The carrier is not called: an
    unused waybill number simply never gets a first scan."""
    if not actor_has_perm(actor, CANCEL_PERMISSION):
        raise ShipmentCancelForbidden(details={"permission": CANCEL_PERMISSION})
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(details={"reason": [{"code": "required", "message": _("Give a reason.")}]})
    order = lock_order(order_id)
    shipment = live_shipment(order)
    if shipment is None or order.status not in ("picked", "packed"):
        raise ShipmentNotCancellable(details={"status": order.status,
                                              "shipment_id": shipment.pk if shipment else None})
    previous = shipment.state
    shipment.state = Shipment.State.CANCELLED
    shipment.save(update_fields=["state"])
    record_order_event(order, name="waybill_cancelled", actor=actor, payload={
        "shipment_id": shipment.pk, "carrier": shipment.carrier.code, "tracking_number": shipment.tracking_number,
        "previous_state": previous, "reason": reason[:500],
    })
    return shipment


@transaction.atomic
def order_ship(*, order_id: int, actor):
    """Hand the packed parcel to the carrier: the order needs its package and an issued e-waybill;
    the `ship` transition then issues the reserved stock (ledger `issue` lines) in this transaction."""
    if not actor_has_perm(actor, SHIP_PERMISSION):
        raise TransitionForbidden(details={"transition": "ship", "permission": SHIP_PERMISSION})
    order = lock_order(order_id)
    payload = {}
    if order.status == "packed":  # other statuses: the transition itself names what is allowed
        if not Package.objects.filter(order=order).exists():
            raise PackageMissing(details={"order_id": order.pk})
        shipment = live_shipment(order)
        if shipment is None or shipment.state != Shipment.State.ISSUED:
            raise ShipmentNotIssued(details={"shipment_id": shipment.pk if shipment else None,
                                             "state": shipment.state if shipment else None})
        payload = {"shipment_id": shipment.pk, "carrier": shipment.carrier.code,
                   "tracking_number": shipment.tracking_number}
    return transition_locked_order(order, name="ship", actor=actor, payload=payload)


def shipments_mark_label_printed(shipment_ids) -> int:
    """Record the first time each waybill's label was printed (the warehouse's "label printed"
    column). Printing again changes nothing; one conditional UPDATE, no lock needed."""
    return Shipment.objects.filter(pk__in=list(shipment_ids), label_printed_at__isnull=True).update(
        label_printed_at=timezone.now())
