"""Waves: building one from ready orders, and an order leaving its wave.

Lock order (apps/orders/lock_objects.py): a wave locks all the orders it may take in one
statement, ascending pk, and nothing else; memberships and tasks change only under those locks.
The partial unique index on live memberships is the database's own guard that no order is in two
waves, whatever a future code path forgets.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.actors import actor_has_perm, actor_label, actor_user
from apps.inventory.models import Reservation
from apps.orders.lock_objects import lock_order, lock_orders
from apps.orders.models import OrderHold, OrderLine
from apps.orders.services import transition_locked_order

from .. import selectors
from ..errors import (
    InvalidWaveFilter,
    PickingForbidden,
    ReasonRequired,
    UnknownCarrier,
    WarehouseNotFound,
    WaveConflict,
    WaveEmpty,
)
from ..models import Carrier, PickTask, Wave, WaveOrder
from ..models.picking import Urgency

BUILD_PERMISSIONS = ("fulfillment.add_wave", "orders.pick_order")
PICK_PERMISSION = "orders.pick_order"
# A wave is what one picker (or a small team) walks in a round; larger requests are capped so one
# click cannot lock every ready order of a warehouse in one transaction.
MAX_WAVE_ORDERS = 500
DEFAULT_WAVE_ORDERS = 100


@dataclass
class WaveResult:
    wave: Wave
    # Orders that matched the filters but could not be taken, each {"order_id", "external_id",
    # "reason", "message"}: a hold opened or the status moved between the read and the lock.
    skipped: list[dict] = field(default_factory=list)


def _require(actor, *perms):
    for perm in perms:
        if not actor_has_perm(actor, perm):
            raise PickingForbidden(details={"permission": perm})


def _filters(*, warehouse_id, carrier_code, urgency, size_limit, actor):
    warehouse = selectors.warehouses_worked_by(actor).filter(pk=warehouse_id).first()
    if warehouse is None:
        raise WarehouseNotFound(details={"warehouse_id": warehouse_id})
    carrier = None
    if carrier_code:
        carrier = Carrier.objects.filter(code=carrier_code, is_active=True).first()
        if carrier is None:
            raise UnknownCarrier(details={"carrier": carrier_code})
    errors = {}
    if urgency and urgency not in Urgency.values:
        errors["urgency"] = [{"code": "invalid_choice", "message": _("Choose red, amber or green.")}]
    if size_limit is not None and (isinstance(size_limit, bool) or not isinstance(size_limit, int)
                                   or not 1 <= size_limit <= MAX_WAVE_ORDERS):
        errors["size_limit"] = [{"code": "out_of_range", "message": _("Between 1 and %(max)d orders.")
                                 % {"max": MAX_WAVE_ORDERS}}]
    if errors:
        raise InvalidWaveFilter(details=errors)
    return warehouse, carrier


def _skip(order, reason: str, message) -> dict:
    return {"order_id": order.pk, "external_id": order.external_id, "reason": reason, "message": str(message)}


def _covered(order, lines_by_order, reservations_by_line) -> bool:
    """Every line of the order is fully held by active reservations (what review guarantees for a
    ready order; checked again because the tasks are made from exactly these reservations)."""
    return all(sum(r.quantity for r in reservations_by_line[line.pk]) == line.quantity
               for line in lines_by_order[order.pk])


def _task_sort_key(reservation, position):
    level = reservation.stock_level
    expiry = level.batch.expires_on if level.batch_id and level.batch.expires_on else date.max
    # The pick path: by location code (stock without a location last), then SKU and batch so one
    # shelf is emptied in FEFO order, then the orders by urgency.
    return (level.location_code == "", level.location_code, reservation.order_line.sku.code, expiry,
            position, reservation.pk)


@transaction.atomic
def wave_create(*, warehouse_id: int, actor, carrier_code: str | None = None, urgency: str | None = None,
                cut_off=None, size_limit: int | None = None, now=None) -> WaveResult:
    """Build a wave: ready orders of one warehouse without an open hold, optionally only those going
    with one carrier, of one urgency colour and promised to ship by a cut-off; the most urgent first,
    at most `size_limit` (default 100). Each order moves to `picking` through its transition and
    gets pick tasks from its active reservations, sorted along the pick path.

    The candidates are read without locks, then locked together in pk order and checked again: an
    order that got a hold or left `ready` meanwhile (another clerk's wave took it) is skipped and
    reported, not failed. With nothing left to take, no wave is written (`wave_empty`).
    """
    _require(actor, *BUILD_PERMISSIONS)
    now = now or timezone.now()
    warehouse, carrier = _filters(warehouse_id=warehouse_id, carrier_code=carrier_code, urgency=urgency,
                                  size_limit=size_limit, actor=actor)
    limit = size_limit or DEFAULT_WAVE_ORDERS
    candidate_ids = list(selectors.wave_candidates(warehouse_id=warehouse.pk, now=now, carrier=carrier,
                                                   urgency=urgency or None, cut_off=cut_off)
                         .values_list("pk", flat=True)[:limit])
    if not candidate_ids:
        raise WaveEmpty(details={"skipped": []})
    position = {order_id: index for index, order_id in enumerate(candidate_ids, start=1)}
    # PostgreSQL hands a row another transaction changed to us as it is after that commit, so the
    # checks below see a competing wave's work.
    locked = sorted(lock_orders(candidate_ids), key=lambda order: position[order.pk])

    held = set(OrderHold.objects.filter(order_id__in=candidate_ids, released_at__isnull=True)
               .values_list("order_id", flat=True))
    _close_stale_memberships([o for o in locked if o.status == "ready"], now=timezone.now())
    reservations = list(Reservation.objects.filter(order_line__order_id__in=candidate_ids,
                                                   state=Reservation.State.ACTIVE)
                        .select_related("stock_level__batch", "order_line__sku").order_by("pk"))
    reservations_by_line = defaultdict(list)
    for reservation in reservations:
        reservations_by_line[reservation.order_line_id].append(reservation)
    lines_by_order = defaultdict(list)
    for line in OrderLine.objects.filter(order_id__in=candidate_ids).order_by("order_id", "line_no"):
        lines_by_order[line.order_id].append(line)

    taken, skipped = [], []
    for order in locked:
        if order.status != "ready":
            skipped.append(_skip(order, "status_changed", _("Now %(status)s.") % {"status": order.get_status_display()}))
        elif order.pk in held:
            skipped.append(_skip(order, "on_hold", _("A hold was opened on the order.")))
        elif not _covered(order, lines_by_order, reservations_by_line):
            skipped.append(_skip(order, "not_fully_reserved", _("Not all of its stock is reserved.")))
        else:
            taken.append(order)
    if not taken:
        raise WaveEmpty(_("None of the matching orders could be taken; another wave may have taken them."),
                        details={"skipped": skipped})

    wave = Wave.objects.create(warehouse=warehouse, carrier=carrier, urgency=urgency or "", cut_off=cut_off,
                               size_limit=size_limit, created_at=timezone.now(), created_by=actor_user(actor),
                               actor_label=actor_label(actor))
    members = [WaveOrder(wave=wave, order=order, position=index) for index, order in enumerate(taken, start=1)]
    try:
        with transaction.atomic():
            WaveOrder.objects.bulk_create(members)
    except IntegrityError as exc:  # the unique index caught an order already in a live wave
        raise WaveConflict(details={"orders": [order.pk for order in taken]}) from exc
    member_of = {member.order_id: member for member in members}

    for order in taken:
        transition_locked_order(order, name="start_picking", actor=actor, payload={"wave_id": wave.pk})
    rank = {order.pk: index for index, order in enumerate(taken)}
    chosen = sorted((r for r in reservations if r.order_line.order_id in rank),
                    key=lambda r: _task_sort_key(r, rank[r.order_line.order_id]))
    PickTask.objects.bulk_create(
        PickTask(wave=wave, wave_order=member_of[r.order_line.order_id], order_id=r.order_line.order_id,
                 order_line=r.order_line, reservation=r, sku_id=r.order_line.sku_id,
                 batch_id=r.stock_level.batch_id, location_code=r.stock_level.location_code,
                 sequence=sequence, quantity=r.quantity)
        for sequence, r in enumerate(chosen, start=1)
    )
    return WaveResult(wave=wave, skipped=skipped)


def _close_stale_memberships(ready_orders, *, now):
    """An order that went back to ready by the plain transition (not wave_release_order) still has
    its old membership: close it and release its tasks, under the order's lock we hold, so the
    order can join this wave."""
    stale = list(WaveOrder.objects.filter(order__in=ready_orders, left_at__isnull=True).values_list("pk", flat=True))
    if stale:
        _release_memberships(stale, now=now)


def _release_memberships(member_ids, *, now):
    PickTask.objects.filter(wave_order_id__in=member_ids).exclude(state=PickTask.State.RELEASED).update(
        state=PickTask.State.RELEASED, closed_at=now)
    WaveOrder.objects.filter(pk__in=member_ids).update(left_at=now)


@transaction.atomic
def wave_release_order(*, order_id: int, reason: str, actor):
    """Take an order out of its wave and back to `ready` (return_to_ready): its tasks are released,
    and units already picked go back to their location. Stock stays reserved: nothing left the
    building. Also what a lead does after a short pick, once the stock is counted."""
    _require(actor, PICK_PERMISSION)
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(details={"reason": [{"code": "required", "message": _("Give a reason.")}]})
    order = lock_order(order_id)
    now = timezone.now()
    members = list(WaveOrder.objects.filter(order=order, left_at__isnull=True).values_list("pk", "wave_id"))
    transition_locked_order(order, name="return_to_ready", actor=actor, reason=reason,
                            payload={"wave_id": members[0][1] if members else None})
    if members:
        _release_memberships([pk for pk, _wave in members], now=now)
        for _pk, wave_id in members:
            complete_wave_if_done(wave_id)
    return order


def release_wave_of_ended_order(order, *, at):
    """An order cancelled while being picked leaves its wave: its open tasks are released (the
    scan page stops offering them) and the wave can complete without it. The caller holds the
    order's lock; its reservations are released by the stock service in the same transaction."""
    members = list(WaveOrder.objects.filter(order=order, left_at__isnull=True).values_list("pk", "wave_id"))
    if not members:
        return
    _release_memberships([pk for pk, _wave in members], now=at)
    for _pk, wave_id in members:
        complete_wave_if_done(wave_id)


def complete_wave_if_done(wave_id: int) -> bool:
    """Mark the wave done once no task is open. A conditional UPDATE rather than a lock: two
    clerks finishing the last two tasks at once may both run it, and only one changes the row."""
    if PickTask.objects.filter(wave_id=wave_id, state=PickTask.State.OPEN).exists():
        return False
    return bool(Wave.objects.filter(pk=wave_id, state=Wave.State.PICKING).update(state=Wave.State.DONE,
                                                                              completed_at=timezone.now()))
