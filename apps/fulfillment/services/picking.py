"""Scan-confirmed picking: a scan confirms units of a pick task, a short pick reports what was found.

Lock order (apps/orders/lock_objects.py): each call locks the one order its task belongs to
(apps.fulfillment.lock_objects.lock_order_of_task) and nothing else; the task is read again after
that lock, so two scanners on one order queue instead of both confirming the last unit.
"""
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.catalog.models import SKU
from apps.core.actors import actor_has_perm, actor_label, actor_user
from apps.inventory.models import Reservation
from apps.orders.models import HoldType
from apps.orders.services import order_hold_open, record_order_event, transition_locked_order

from ..errors import (
    InvalidPickQuantity,
    LotRequired,
    NothingToPick,
    OverPick,
    PickingForbidden,
    ReasonRequired,
    ScanRefused,
    TaskClosed,
    WaveNotFound,
    WrongItem,
    WrongLot,
)
from ..lock_objects import lock_order_of_task
from ..models import PickTask, ScanLog, Wave
from ..scanning import Scanned, barcode_matches, barcode_variants, parse_scan
from .waves import complete_wave_if_done

PICK_PERMISSION = "orders.pick_order"
# One scan may confirm several units (a case, or the count typed beside the scan), never an
# absurd number: that is a slip of the finger on the quantity field.
MAX_UNITS_PER_SCAN = 9_999


@dataclass(frozen=True)
class ScanResult:
    task: PickTask
    quantity: int
    order_finished: bool  # the scan completed the order, which moved to `picked`
    order_waiting: bool  # every task is picked but an open hold keeps the order in `picking`
    wave_done: bool  # no open task is left in the wave


def _require_picker(actor):
    if not actor_has_perm(actor, PICK_PERMISSION):
        raise PickingForbidden(details={"permission": PICK_PERMISSION})


def _check_quantity(quantity, *, low=1, high=MAX_UNITS_PER_SCAN, name="quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or not low <= quantity <= high:
        raise InvalidPickQuantity(details={name: [{"code": "out_of_range", "message": _(
            "A whole number from %(low)d to %(high)d.") % {"low": low, "high": high}}]})
    return quantity


def pick_scan(*, wave_id: int, barcode: str, actor, lot_number: str = "", quantity: int = 1,
              task_id: int | None = None) -> ScanResult:
    """Confirm `quantity` units of a pick task by scanning: the task named, or else the wave's next
    open task on the pick path. The barcode must be the task's SKU's (a GS1-128 carton label's GTIN
    counts, and its lot is read from it) and, for a batch-tracked SKU, the lot the stock service
    reserved; the units must not exceed what the task still needs.

    A refused scan changes nothing and raises its coded error (wrong_item, wrong_lot, lot_required,
    over_pick, task_closed, nothing_to_pick) with a message naming what was expected and what was
    scanned; the refusal is then logged in a transaction of its own, because the scan's own
    transaction has been rolled back. A confirmed scan is one transaction: the task, its ScanLog
    row and, when it completes the order, the order's `finish_picking` transition.
    """
    _require_picker(actor)
    quantity = _check_quantity(quantity)
    scanned = parse_scan(barcode, lot_number)
    try:
        return _confirm_scan(wave_id=wave_id, scanned=scanned, quantity=quantity, task_id=task_id, actor=actor)
    except ScanRefused as refusal:
        _log_refusal(wave_id=wave_id, refusal=refusal, scanned=scanned, quantity=quantity, actor=actor)
        raise


@transaction.atomic
def _confirm_scan(*, wave_id, scanned: Scanned, quantity: int, task_id, actor) -> ScanResult:
    if task_id is None:
        task_id = (PickTask.objects.filter(wave_id=wave_id, state=PickTask.State.OPEN).order_by("sequence")
                   .values_list("pk", flat=True).first())
        if task_id is None:
            if not Wave.objects.filter(pk=wave_id).exists():
                raise WaveNotFound(details={"wave_id": wave_id})
            raise NothingToPick(details={"wave_id": wave_id, "scanned": {"barcode": scanned.raw}})
    order, task = lock_order_of_task(task_id=task_id, wave_id=wave_id)
    _check_scan(order, task, scanned, quantity)

    now = timezone.now()
    done = task.picked_quantity + quantity == task.quantity
    changes = {"picked_quantity": F("picked_quantity") + quantity}
    if done:
        changes.update(state=PickTask.State.PICKED, closed_at=now)
    PickTask.objects.filter(pk=task.pk).update(**changes)
    task.picked_quantity += quantity
    if done:
        task.state, task.closed_at = PickTask.State.PICKED, now
    ScanLog.objects.create(wave_id=wave_id, task=task, sku_id=task.sku_id, barcode=scanned.raw[:128],
                           lot_number=scanned.lot[:64], quantity=quantity, outcome=ScanLog.OK,
                           actor=actor_user(actor), actor_label=actor_label(actor), created_at=now)
    finished = waiting = wave_done = False
    if done:
        finished, waiting = _finish_order_if_picked(order, task, actor=actor)
        wave_done = complete_wave_if_done(wave_id)
    return ScanResult(task=task, quantity=quantity, order_finished=finished, order_waiting=waiting,
                      wave_done=wave_done)


def _expected(task) -> dict:
    return {"task_id": task.pk, "sku": task.sku.code, "name": task.sku.name_zh, "barcode": task.sku.barcode,
            "lot": task.batch.lot_number if task.batch_id else None, "location": task.location_code,
            "quantity_left": task.quantity_left, "order": task.order_id}


def _refuse(error_class, message, task, scanned: Scanned, quantity: int, **extra):
    refusal = error_class(message, details={
        "expected": _expected(task),
        "scanned": {"barcode": scanned.raw, "lot": scanned.lot or None, "quantity": quantity},
        **extra,
    })
    refusal.task_id, refusal.sku_id = task.pk, task.sku_id
    raise refusal


def _check_scan(order, task, scanned: Scanned, quantity: int):
    """Raise the scan's refusal, the most basic problem first: a task that is no longer open, a
    wrong product, a wrong or missing lot, too many units."""
    sku = task.sku
    names = {"sku": sku.code, "name": sku.name_zh}
    if task.state == PickTask.State.PICKED:
        _refuse(OverPick, _("%(sku)s %(name)s is already fully picked for this task.") % names,
                task, scanned, quantity)
    if task.state != PickTask.State.OPEN:
        _refuse(TaskClosed, _("This task is closed (%(state)s); nothing is picked for it.")
                % {"state": task.get_state_display()}, task, scanned, quantity)
    if order.status != "picking":
        _refuse(TaskClosed, _("Order %(order)s is no longer being picked (%(status)s).")
                % {"order": order.external_id, "status": order.get_status_display()}, task, scanned, quantity)
    if task.reservation.state != Reservation.State.ACTIVE:
        _refuse(TaskClosed, _("The stock of this task was re-booked (e.g. its batch was quarantined); "
                              "ask a warehouse lead."), task, scanned, quantity)
    if not barcode_matches(sku.barcode, scanned.code):
        other = SKU.objects.filter(barcode__in=barcode_variants(scanned.code)).first() if scanned.code else None
        expected = {**names, "barcode": sku.barcode or "—", "scanned": scanned.code or "—"}
        if other is not None:
            message = _("Wrong item: this task needs %(sku)s %(name)s (barcode %(barcode)s), but you scanned "
                        "%(scanned)s, which is %(scanned_sku)s %(scanned_name)s.") % {
                **expected, "scanned_sku": other.code, "scanned_name": other.name_zh}
        else:
            message = _("Wrong item: this task needs %(sku)s %(name)s (barcode %(barcode)s), but you scanned "
                        "%(scanned)s, which is no known product.") % expected
        _refuse(WrongItem, message, task, scanned, quantity,
                scanned_sku={"sku": other.code, "name": other.name_zh} if other else None)
    if sku.batch_tracked and task.batch_id:
        lot = task.batch.lot_number
        if not scanned.lot:
            _refuse(LotRequired, _("%(sku)s %(name)s is batch-tracked: scan or type lot %(lot)s as well.")
                    % {**names, "lot": lot}, task, scanned, quantity)
        if scanned.lot != lot:
            _refuse(WrongLot, _("Wrong batch: this task needs lot %(lot)s of %(sku)s %(name)s, but you scanned "
                                "lot %(scanned)s.") % {**names, "lot": lot, "scanned": scanned.lot},
                    task, scanned, quantity)
    if quantity > task.quantity_left:
        _refuse(OverPick, _("Too many: this task needs %(left)d more of %(sku)s %(name)s, you confirmed "
                            "%(quantity)d.") % {**names, "left": task.quantity_left, "quantity": quantity},
                task, scanned, quantity)


def _finish_order_if_picked(order, task, *, actor) -> tuple[bool, bool]:
    """(finished, waiting): the order moves to `picked` when every task of its wave membership is
    picked; an open hold (say, a quarantine) keeps it in `picking` for a lead to look at."""
    unfinished = PickTask.objects.filter(wave_order_id=task.wave_order_id).exclude(
        state__in=[PickTask.State.PICKED, PickTask.State.RELEASED])
    if unfinished.exists():
        return False, False
    if order.holds.filter(released_at__isnull=True).exists():
        return False, True
    transition_locked_order(order, name="finish_picking", actor=actor, payload={"wave_id": task.wave_id})
    return True, False


def _log_refusal(*, wave_id, refusal: ScanRefused, scanned: Scanned, quantity: int, actor):
    with transaction.atomic():
        if not Wave.objects.filter(pk=wave_id).exists():
            return
        ScanLog.objects.create(wave_id=wave_id, task_id=getattr(refusal, "task_id", None),
                               sku_id=getattr(refusal, "sku_id", None), barcode=scanned.raw[:128],
                               lot_number=scanned.lot[:64], quantity=quantity, outcome=refusal.code,
                               details={"message": refusal.message, **refusal.details},
                               actor=actor_user(actor), actor_label=actor_label(actor))


@transaction.atomic
def pick_short(*, task_id: int, found: int, reason: str, actor) -> PickTask:
    """The location holds fewer units than the task needs: record what was found (at least what was
    already scanned, less than the task's quantity), close the task short and open a `short_pick`
    hold on the order for a warehouse lead (a second short pick on the same order is noted in its
    history under the hold already open). The order stays in `picking` until the lead decides,
    typically after a stock count: back to ready (wave_release_order)."""
    _require_picker(actor)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(details={"reason": [{"code": "required", "message": _("Give a reason.")}]})
    if isinstance(found, bool) or not isinstance(found, int):
        raise InvalidPickQuantity(details={"found": [{"code": "invalid", "message": _("A whole number.")}]})
    order, task = lock_order_of_task(task_id=task_id)
    if task.state != PickTask.State.OPEN or order.status != "picking":
        raise TaskClosed(details={"task_id": task.pk, "state": task.state, "order_status": order.status})
    _check_quantity(found, low=task.picked_quantity, high=task.quantity - 1, name="found")

    now = timezone.now()
    PickTask.objects.filter(pk=task.pk).update(state=PickTask.State.SHORT, found_quantity=found,
                                               short_reason=reason[:255], closed_at=now)
    task.state, task.found_quantity, task.short_reason, task.closed_at = PickTask.State.SHORT, found, reason[:255], now
    lot = task.batch.lot_number if task.batch_id else ""
    details = {"task_id": task.pk, "wave_id": task.wave_id, "sku": task.sku.code, "lot": lot,
               "location": task.location_code, "wanted": task.quantity, "found": found,
               "picked": task.picked_quantity, "reason": reason[:255]}
    if order.holds.filter(type=HoldType.SHORT_PICK, released_at__isnull=True).exists():
        record_order_event(order, name="short_pick", actor=actor, payload=details)
    else:
        text = _("Short pick at %(location)s: %(sku)s %(lot)s found %(found)d of %(wanted)d (%(reason)s)") % {
            **details, "location": task.location_code or "—", "lot": lot}
        order_hold_open(order_id=order.pk, type=HoldType.SHORT_PICK, reason=text[:500], actor=actor,
                        owner_role="warehouse_lead", details={"tasks": [details]})
    complete_wave_if_done(task.wave_id)
    return task
