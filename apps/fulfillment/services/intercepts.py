"""Intercepts (拦截): asking the carrier to stop a parcel on its way and settling the order on its answer.

Locks: only the order (apps.orders.lock_objects.lock_order), and never across the carrier call.
"""
from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.actors import actor_has_perm
from apps.orders.errors import TransitionForbidden
from apps.orders.lock_objects import lock_order
from apps.orders.services import record_order_event, transition_locked_order

from ..carriers import adapter_for
from ..carriers.base import InterceptAnswer
from ..errors import CarrierRefused, CarrierUnavailable, InterceptUnconfirmed, ReasonRequired, ShipmentNotIssued
from ..models import Shipment

INTERCEPT_PERMISSION = "orders.intercept_order"




def order_request_intercept(*, order_id: int, reason: str, actor):
    """Ask the carrier to stop the order's parcel and settle the order on its answer.

    Three steps, like shipment_request_waybill, so the order's lock is never held over the network:
    1. lock the order and apply `request_intercept` (shipped / in transit / out for delivery →
       intercepting); an order already `intercepting` (an earlier attempt that got no answer) is
       asked about again without a second transition;
    2. call the carrier's intercept with no transaction open;
    3. lock again and apply `intercept_succeeded` (→ intercepted) when the carrier accepted, or
       `intercept_failed` (→ back to the status before the request) when it refused, the carrier's
       words in the event's payload.
    Carrier unreachable or answering nonsense: an `intercept_unconfirmed` note is recorded, the order
    stays `intercepting`, and InterceptUnconfirmed (503) is raised. Asking the carrier twice is
    harmless: it answers a repeated intercept with the same reference.
    """
    if not actor_has_perm(actor, INTERCEPT_PERMISSION):
        raise TransitionForbidden(details={"transition": "request_intercept", "permission": INTERCEPT_PERMISSION})
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(details={"reason": [{"code": "required", "message": _("Give a reason.")}]})
    reason = reason[:500]
    shipment, adapter = _start(order_id=order_id, reason=reason, actor=actor)
    try:
        answer = adapter.request_intercept(shipment.tracking_number, reason)
    except CarrierRefused as exc:
        # The carrier answered and turned the request itself down: it will not stop the parcel.
        answer = InterceptAnswer(accepted=False, message=exc.details.get("carrier_message") or exc.message,
                                 reference="")
    except CarrierUnavailable as exc:
        _record_unconfirmed(order_id=order_id, shipment=shipment, error=exc, actor=actor)
        raise InterceptUnconfirmed(details={"order_id": order_id, "carrier": shipment.carrier.code,
                                            "reason": exc.details.get("reason", "")}) from exc
    return _settle(order_id=order_id, shipment=shipment, answer=answer, actor=actor)


@transaction.atomic
def _start(*, order_id, reason, actor):
    order = lock_order(order_id)
    shipment = (Shipment.objects.select_related("carrier")
                .filter(order=order, state=Shipment.State.ISSUED).first())
    if shipment is None:
        raise ShipmentNotIssued(details={"order_id": order.pk})
    adapter = adapter_for(shipment.carrier)  # an unconfigured carrier fails here, before anything is written
    if order.status != "intercepting":
        # Any other status is checked by the transition itself (TransitionNotAllowed names what is allowed).
        transition_locked_order(order, name="request_intercept", actor=actor, reason=reason,
                                payload=_shipment_payload(shipment))
    else:
        record_order_event(order, name="intercept_asked_again", actor=actor,
                           payload={**_shipment_payload(shipment), "reason": reason})
    return shipment, adapter


@transaction.atomic
def _record_unconfirmed(*, order_id, shipment, error, actor):
    order = lock_order(order_id)
    record_order_event(order, name="intercept_unconfirmed", actor=actor, payload={
        **_shipment_payload(shipment), "error": error.code, "reason": error.details.get("reason", ""),
        "may_have_arrived": error.may_have_arrived})


@transaction.atomic
def _settle(*, order_id, shipment, answer: InterceptAnswer, actor):
    order = lock_order(order_id)
    if order.status != "intercepting":
        return order  # a concurrent attempt settled it first, on the same answer
    payload = {**_shipment_payload(shipment), "accepted": answer.accepted,
               "carrier_message": answer.message[:500], "reference": answer.reference[:64]}
    name = "intercept_succeeded" if answer.accepted else "intercept_failed"
    return transition_locked_order(order, name=name, actor=actor, payload=payload)


def _shipment_payload(shipment) -> dict:
    return {"shipment_id": shipment.pk, "carrier": shipment.carrier.code,
            "tracking_number": shipment.tracking_number}
