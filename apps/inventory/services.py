"""Every write to stock. Each change of on_hand or reserved writes a StockMove in the same
transaction, so the ledger always sums to the levels. Locks follow the order written in
apps/orders/lock_objects.py: the order first, then all stock levels needed, by pk."""
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Case, F, IntegerField, Q, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.catalog.models import SKU
from apps.core.actors import actor_label, actor_user
from apps.core.db import Statement, prepared_cursor, prepared_rows, uses_postgresql

from .errors import (
    AdjustBelowReserved,
    DuplicateLot,
    InsufficientStock,
    InvalidBatchDates,
    InvalidQuantity,
    LotNotTracked,
    LotRequired,
    NotFullyReserved,
    NotReservable,
    QuarantinedStock,
    UnknownBatch,
    UnknownSKU,
    UnknownStockLevel,
    UnknownWarehouse,
)
from .lock_objects import FreeLevel, lock_free_levels, lock_level, lock_levels, lock_or_create_level
from .models import Batch, Reservation, StockLevel, StockMove, Warehouse

SELLABLE = StockLevel.Bucket.SELLABLE
QUARANTINE = StockLevel.Bucket.QUARANTINE
RESERVABLE_STATUSES = frozenset({"pending_payment", "pending_review", "pending_approval", "ready"})
IN_WAREHOUSE_STATUSES = frozenset({"picking", "picked", "packed"})


def _check_quantity(quantity) -> int:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
        raise InvalidQuantity(details={"quantity": quantity})
    return quantity


def _move(level, *, type, actor, on_hand=0, reserved=0, order_id=None, reservation=None, reference="", note="",
          is_intervention=False) -> StockMove:
    return StockMove(stock_level=level, sku_id=level.sku_id, type=type, on_hand_delta=on_hand,
                     reserved_delta=reserved, order_id=order_id, reservation=reservation, reference=reference,
                     note=note, actor=actor_user(actor), actor_label=actor_label(actor),
                     is_intervention=is_intervention)


def _change_level(level, *, on_hand=0, reserved=0):
    """Apply a delta to a locked level in the database and in memory (CHECKs guard the bounds)."""
    StockLevel.objects.filter(pk=level.pk).update(on_hand=F("on_hand") + on_hand, reserved=F("reserved") + reserved,
                                                  updated_at=timezone.now())
    level.on_hand += on_hand
    level.reserved += reserved


# --- receiving, counting, moving --------------------------------------------------------------

def _batch_for_receipt(sku, *, lot_number, manufactured_on, expires_on):
    if not sku.batch_tracked:
        if lot_number:
            raise LotNotTracked(details={"sku": sku.code})
        return None
    if not lot_number or (expires_on is None and sku.shelf_life_days):
        raise LotRequired(details={"sku": sku.code})
    if manufactured_on and expires_on and expires_on <= manufactured_on:
        raise InvalidBatchDates(details={"manufactured_on": str(manufactured_on), "expires_on": str(expires_on)})
    batch, created = Batch.objects.get_or_create(
        sku=sku, lot_number=lot_number, defaults={"manufactured_on": manufactured_on, "expires_on": expires_on})
    if not created and (batch.manufactured_on, batch.expires_on) != (manufactured_on or batch.manufactured_on,
                                                                      expires_on or batch.expires_on):
        raise DuplicateLot(details={"lot_number": lot_number, "manufactured_on": str(batch.manufactured_on),
                                    "expires_on": str(batch.expires_on)})
    return batch


@transaction.atomic
def stock_receive(*, warehouse_id: int, sku_id: int, quantity: int, actor, lot_number: str = "",
                  manufactured_on: date | None = None, expires_on: date | None = None,
                  reference: str = "", note: str = "") -> StockLevel:
    """Goods in: the batch is created on first sight (same lot again must carry the same dates)."""
    _check_quantity(quantity)
    warehouse = Warehouse.objects.filter(pk=warehouse_id, is_active=True).first()
    if warehouse is None:
        raise UnknownWarehouse(details={"warehouse_id": warehouse_id})
    sku = SKU.objects.filter(pk=sku_id, is_active=True).first()
    if sku is None:
        raise UnknownSKU(details={"sku_id": sku_id})
    batch = _batch_for_receipt(sku, lot_number=lot_number, manufactured_on=manufactured_on, expires_on=expires_on)
    level = lock_or_create_level(warehouse_id=warehouse.pk, sku_id=sku.pk, batch_id=batch.pk if batch else None,
                                 bucket=SELLABLE)
    _change_level(level, on_hand=quantity)
    _move(level, type=StockMove.Type.RECEIPT, actor=actor, on_hand=quantity, reference=reference, note=note).save()
    return level


@transaction.atomic
def stock_adjust(*, level_id: int, counted: int, actor, reason: str) -> StockLevel:
    """Set a level to what a count found. Always a manual intervention."""
    if not isinstance(counted, int) or isinstance(counted, bool) or counted < 0:
        raise InvalidQuantity(details={"counted": counted})
    level = lock_level(level_id)
    if counted < level.reserved:
        raise AdjustBelowReserved(details={"counted": counted, "reserved": level.reserved})
    delta = counted - level.on_hand
    if delta:
        _change_level(level, on_hand=delta)
        _move(level, type=StockMove.Type.ADJUSTMENT, actor=actor, on_hand=delta, note=reason,
              is_intervention=True).save()
    return level


@transaction.atomic
def stock_transfer(*, level_id: int, to_warehouse_id: int, quantity: int, actor, reference: str = "") -> StockLevel:
    """Move free stock of one level (same batch) to another warehouse."""
    _check_quantity(quantity)
    source = StockLevel.objects.filter(pk=level_id).first()
    if source is None:
        raise UnknownStockLevel(details={"stock_level_id": level_id})
    if not Warehouse.objects.filter(pk=to_warehouse_id, is_active=True).exists():
        raise UnknownWarehouse(details={"warehouse_id": to_warehouse_id})
    # Make sure the destination exists, then lock both in pk order.
    target = lock_or_create_level(warehouse_id=to_warehouse_id, sku_id=source.sku_id, batch_id=source.batch_id,
                                  bucket=source.bucket)
    levels = lock_levels([source.pk, target.pk])
    source, target = levels[source.pk], levels[target.pk]
    if source.available < quantity:
        raise InsufficientStock(details={"available": source.available, "requested": quantity})
    _change_level(source, on_hand=-quantity)
    _change_level(target, on_hand=quantity)
    StockMove.objects.bulk_create([
        _move(source, type=StockMove.Type.TRANSFER, actor=actor, on_hand=-quantity, reference=reference),
        _move(target, type=StockMove.Type.TRANSFER, actor=actor, on_hand=quantity, reference=reference),
    ])
    return target


def _ensure_level(*, warehouse_id: int, sku_id: int, batch_id: int | None, bucket: str) -> int:
    """The pk of this place's level, created empty on first use (not locked: the caller locks all
    of its levels together). A concurrent creator loses on the unique constraint in its savepoint."""
    lookup = {"warehouse_id": warehouse_id, "sku_id": sku_id, "batch_id": batch_id, "bucket": bucket}
    pk = StockLevel.objects.filter(**lookup).values_list("pk", flat=True).first()
    if pk is None:
        try:
            with transaction.atomic():
                pk = StockLevel.objects.create(**lookup).pk
        except IntegrityError:
            pk = StockLevel.objects.filter(**lookup).values_list("pk", flat=True).get()
    return pk


@transaction.atomic
def stock_return_in(*, items, actor, order_id: int | None = None, reference: str = "", note: str = "") -> list[StockLevel]:
    """Returned goods back in: each item {warehouse_id, sku_id, batch_id (None for a batch-less SKU),
    quantity, bucket ("sellable" or "quarantine"), scrap (bool)} writes a `return_in` ledger line on
    the level of its batch. Good units of a batch quarantined meanwhile go to its quarantine level;
    a scrapped item is taken into the quarantine level and written off there (`scrap`) in the same
    transaction, so the ledger shows what came back and where it went. All levels are locked in one
    statement by pk, after whatever the caller locked first (its order)."""
    items = list(items)
    batch_ids = {item.get("batch_id") for item in items} - {None}
    quarantined = set(Batch.objects.filter(pk__in=batch_ids, quarantined_at__isnull=False).values_list("pk", flat=True))
    places = []
    for item in items:
        quantity = _check_quantity(item["quantity"])
        bucket = item.get("bucket", SELLABLE)
        if bucket not in (SELLABLE, QUARANTINE):
            raise UnknownStockLevel(details={"bucket": bucket})
        if item.get("scrap") or item.get("batch_id") in quarantined:
            bucket = QUARANTINE
        level_id = _ensure_level(warehouse_id=item["warehouse_id"], sku_id=item["sku_id"],
                                 batch_id=item.get("batch_id"), bucket=bucket)
        places.append((level_id, quantity, bool(item.get("scrap"))))
    levels = lock_levels({level_id for level_id, _q, _s in places})
    moves = []
    for level_id, quantity, scrap in places:
        level = levels[level_id]
        _change_level(level, on_hand=quantity)
        moves.append(_move(level, type=StockMove.Type.RETURN_IN, actor=actor, on_hand=quantity, order_id=order_id,
                           reference=reference, note=note))
        if scrap:
            _change_level(level, on_hand=-quantity)
            moves.append(_move(level, type=StockMove.Type.SCRAP, actor=actor, on_hand=-quantity, order_id=order_id,
                               reference=reference, note=note))
    StockMove.objects.bulk_create(moves)
    return [levels[level_id] for level_id, _q, _s in places]


# --- reservations -----------------------------------------------------------------------------

def _today() -> date:
    return timezone.localdate()


def allocatable_after(sku, customer, today: date) -> date:
    """The earliest expiry date a batch may have to be allocated to this customer: never an expired
    batch, and at least the longer of the SKU's and the customer's minimum remaining shelf life."""
    days = max(sku.min_remaining_shelf_life_days, customer.min_remaining_shelf_life_days if customer else 0, 1)
    return today + timedelta(days=days)


def _fefo_key(level):
    expiry = level.batch.expires_on if level.batch_id and level.batch.expires_on else date.max
    return (expiry, level.pk)


def _is_allocatable(level, cutoff: date) -> bool:
    if level.batch_id is None:
        return True
    batch = level.batch
    return batch.quarantined_at is None and (batch.expires_on is None or batch.expires_on >= cutoff)


@dataclass
class LineShortfall:
    line_no: int
    sku: str
    requested: int
    reserved: int
    blocked_by_expiry: int  # free units that exist but in batches too close to expiry

    @property
    def short(self) -> int:
        return self.requested - self.reserved

    def as_dict(self):
        return {"line_no": self.line_no, "sku": self.sku, "requested": self.requested, "reserved": self.reserved,
                "short": self.short, "blocked_by_expiry": self.blocked_by_expiry}


@dataclass
class ReservationResult:
    warehouse_id: int | None
    reserved: int = 0
    shortfalls: list[LineShortfall] = field(default_factory=list)


class _Cutoffs(dict):
    """sku_id -> earliest allowed expiry, computed on first use: the customer (for their shelf-life
    rule) is only read when a batch actually has to be judged."""

    def __init__(self, order, lines, today):
        super().__init__()
        self.order, self.skus, self.today = order, {line.sku_id: line.sku for line in lines}, today

    def __missing__(self, sku_id):
        self[sku_id] = allocatable_after(self.skus[sku_id], self.order.customer, self.today)
        return self[sku_id]


def _free_by_warehouse(sku_ids, cutoffs: dict[int, date], warehouse_ids) -> dict[int, dict[int, int]]:
    """Allocatable free units per warehouse and SKU (unlocked read, used only to choose a warehouse)."""
    free = defaultdict(lambda: defaultdict(int))
    levels = (StockLevel.objects.select_related("batch")
              .filter(sku_id__in=sku_ids, warehouse_id__in=warehouse_ids, bucket=SELLABLE, on_hand__gt=F("reserved")))
    for level in levels:
        if _is_allocatable(level, cutoffs[level.sku_id]):
            free[level.warehouse_id][level.sku_id] += level.available
    return free


SHOP_WAREHOUSES_SQL = "SELECT warehouse_id FROM orders_shopwarehouse WHERE shop_id = %s ORDER BY priority, id"


def _shop_warehouses(shop) -> list[int]:
    if uses_postgresql():
        return [warehouse_id for (warehouse_id,) in prepared_rows(SHOP_WAREHOUSES_SQL, [shop.pk])]
    return list(shop.warehouse_preferences.order_by("priority", "id").values_list("warehouse_id", flat=True))


def _choose_warehouse(order, needs: dict[int, int], cutoffs, preferred: list[int] | None = None) -> int | None:
    """The shop's ordered list (`preferred`, read here when not given): the first warehouse that can
    serve every line; else its default."""
    if preferred is None:
        preferred = _shop_warehouses(order.shop)
    default = order.shop.default_warehouse_id
    candidates = preferred or ([default] if default else [])
    if len(candidates) > 1:
        free = _free_by_warehouse(list(needs), cutoffs, candidates)
        for warehouse_id in candidates:
            if all(free[warehouse_id][sku_id] >= qty for sku_id, qty in needs.items()):
                return warehouse_id
    return default or (candidates[0] if candidates else None)


@dataclass(frozen=True, slots=True)
class SkuRule:
    code: str
    min_remaining_shelf_life_days: int


@dataclass(frozen=True, slots=True)
class LineToReserve:
    """An order line as the planner reads it: what it wants and what it already holds."""

    pk: int
    line_no: int
    sku_id: int
    quantity: int
    held: int
    sku: SkuRule  # or the SKU itself, for lines intake has just inserted


def _lines_to_reserve(order) -> list[LineToReserve]:
    # Only the Python planner reads lines this way; on PostgreSQL the function reads them itself.
    rows = (order.lines.order_by("line_no")
            .annotate(held=Coalesce(Sum("reservations__quantity",
                                        filter=Q(reservations__state=Reservation.State.ACTIVE)), 0))
            .values_list("pk", "line_no", "sku_id", "quantity", "sku__code", "sku__min_remaining_shelf_life_days",
                         "held"))
    return [LineToReserve(pk, line_no, sku_id, quantity, held, SkuRule(code, min_days))
            for pk, line_no, sku_id, quantity, code, min_days, held in rows]


# Levels, reservations and their ledger lines in one statement (PostgreSQL), for one order or for
# a batch of them. The CHECK on the level still guards the bound; every data-modifying CTE runs
# whether or not it is read.
WRITE_RESERVATIONS_SQL = """
    WITH levels AS (
        UPDATE inventory_stocklevel s SET reserved = s.reserved + t.quantity, updated_at = %(now)s
        FROM unnest(%(level_ids)s::bigint[], %(level_quantities)s::integer[]) AS t(id, quantity)
        WHERE s.id = t.id
        RETURNING s.id, s.sku_id
    ), reservations AS (
        INSERT INTO inventory_reservation (order_line_id, stock_level_id, quantity, expires_at, state, created_at)
        SELECT p.line_id, p.level_id, p.quantity, p.expires_at, 'active', %(now)s
        FROM unnest(%(line_ids)s::bigint[], %(plan_level_ids)s::bigint[], %(plan_quantities)s::integer[],
                    %(plan_expires)s::timestamptz[]) AS p(line_id, level_id, quantity, expires_at)
        RETURNING id, order_line_id, stock_level_id, quantity
    )
    INSERT INTO inventory_stockmove (stock_level_id, sku_id, type, on_hand_delta, reserved_delta, order_id,
                                     reservation_id, reference, note, actor_id, actor_label, is_intervention,
                                     created_at)
    SELECT r.stock_level_id, l.sku_id, 'reserve', 0, r.quantity, o.id, r.id, 'order:' || o.external_id, '',
           %(actor_id)s, %(actor_label)s, false, %(now)s
    FROM reservations r JOIN levels l ON l.id = r.stock_level_id
         JOIN orders_orderline ol ON ol.id = r.order_line_id JOIN orders_order o ON o.id = ol.order_id"""


@dataclass(frozen=True, slots=True)
class PlannedReservation:
    order: object
    line: LineToReserve
    level: FreeLevel
    quantity: int
    expires_at: datetime | None  # an unpaid order's reservation lapses with its payment window


def _write_reservations(plan: list[PlannedReservation], taken: dict[int, int], *, actor):
    """Reserve `taken` units per locked level and record `plan` as reservations with their ledger
    lines: one statement on PostgreSQL, whatever the number of orders."""
    if not plan:
        return
    user = actor_user(actor)
    if uses_postgresql():
        with prepared_cursor() as cursor:
            cursor.execute(WRITE_RESERVATIONS_SQL, {
                "now": timezone.now(), "level_ids": list(taken), "level_quantities": list(taken.values()),
                "line_ids": [p.line.pk for p in plan], "plan_level_ids": [p.level.pk for p in plan],
                "plan_quantities": [p.quantity for p in plan], "plan_expires": [p.expires_at for p in plan],
                "actor_id": user.pk if user else None, "actor_label": actor_label(actor)})
        return
    StockLevel.objects.filter(pk__in=list(taken)).update(
        reserved=F("reserved") + Case(*(When(pk=pk, then=Value(qty)) for pk, qty in taken.items()),
                                      output_field=IntegerField()),
        updated_at=timezone.now())
    reservations = Reservation.objects.bulk_create(
        Reservation(order_line_id=p.line.pk, stock_level_id=p.level.pk, quantity=p.quantity, expires_at=p.expires_at)
        for p in plan)
    StockMove.objects.bulk_create(
        StockMove(stock_level_id=p.level.pk, sku_id=p.level.sku_id, type=StockMove.Type.RESERVE,
                  reserved_delta=p.quantity, order_id=p.order.pk, reservation=reservation,
                  reference=f"order:{p.order.external_id}", actor=user, actor_label=actor_label(actor))
        for p, reservation in zip(plan, reservations))


def _plan_order(order, lines, wanted, by_sku, cutoffs, taken) -> tuple[list[PlannedReservation], list[LineShortfall]]:
    """FEFO over the locked levels (`by_sku`, earliest expiry first), counting what this call has
    already taken from each level (`taken`, updated here); lines it cannot fill are shortfalls."""
    expires_at = order.payment_due_at if order.status == "pending_payment" else None
    plan, shortfalls = [], []
    for line in lines:
        need = wanted[line.pk]
        blocked = 0
        for level in by_sku[line.sku_id]:
            free = level.available - taken.get(level.pk, 0)
            if free <= 0:
                continue
            if not _is_allocatable(level, cutoffs[line.sku_id]):
                blocked += free
                continue
            if need <= 0:
                break
            qty = min(free, need)
            taken[level.pk] += qty
            plan.append(PlannedReservation(order, line, level, qty, expires_at))
            need -= qty
        if need > 0:
            shortfalls.append(LineShortfall(line_no=line.line_no, sku=line.sku.code, requested=wanted[line.pk],
                                            reserved=wanted[line.pk] - need, blocked_by_expiry=blocked))
    return plan, shortfalls


def _levels_by_sku(warehouse_id, sku_ids) -> dict[int, list[FreeLevel]]:
    by_sku = defaultdict(list)
    if warehouse_id is not None:
        for level in sorted(lock_free_levels(warehouse_id=warehouse_id, sku_ids=sku_ids), key=_fefo_key):
            by_sku[level.sku_id].append(level)
    return by_sku


def reserve_for_order(order, *, actor, on_shortfall: str = "hold", today: date | None = None,
                      new_lines=None, rebook: bool = False) -> ReservationResult:
    """Reserve what the order's lines still lack, FEFO, in the order's warehouse. The caller holds
    the order's lock (or has just inserted it). Idempotent: a fully reserved order changes nothing.
    Intake passes `new_lines` (just inserted, SKUs attached, nothing reserved yet) to spare two reads.

    on_shortfall="raise" refuses the whole reservation with a per-line InsufficientStock;
    "hold" reserves what there is and opens an out_of_stock / expiry_conflict hold naming the gap;
    "report" reserves what there is and only returns the gap (the review rules decide on holds).

    On PostgreSQL the whole reservation is one call of the database function
    inventory_reserve_order (inventory migration 0005); elsewhere the planner below does it.
    """
    if order.status not in _reservable(rebook):
        raise NotReservable(details={"status": order.status})
    today = today or _today()
    if uses_postgresql():
        return _reserve_in_database(order.pk, actor=actor, on_shortfall=on_shortfall, today=today, rebook=rebook,
                                    announce=new_lines is None, order=order)
    return _reserve_in_python(order, actor=actor, on_shortfall=on_shortfall, today=today, new_lines=new_lines,
                              rebook=rebook)


def _reservable(rebook: bool) -> frozenset[str]:
    return RESERVABLE_STATUSES | IN_WAREHOUSE_STATUSES if rebook else RESERVABLE_STATUSES


def _reserve_in_python(order, *, actor, on_shortfall, today, new_lines, rebook) -> ReservationResult:
    """reserve_for_order's planner: FEFO over the levels locked here, written in one go."""
    if new_lines is not None:
        lines = [LineToReserve(line.pk, line.line_no, line.sku_id, line.quantity, 0, line.sku) for line in new_lines]
    else:
        lines = _lines_to_reserve(order)
    already = {line.pk: line.held for line in lines if line.held}
    wanted = {line.pk: line.quantity - already.get(line.pk, 0) for line in lines}
    if not any(qty > 0 for qty in wanted.values()):
        return ReservationResult(warehouse_id=order.warehouse_id)

    cutoffs = _Cutoffs(order, lines, today)
    if not rebook and (order.warehouse_id is None or not already):
        needs = defaultdict(int)
        for line in lines:
            needs[line.sku_id] += wanted[line.pk]
        warehouse_id = _choose_warehouse(order, needs, cutoffs)
        if warehouse_id != order.warehouse_id:
            _assign_warehouse(order, warehouse_id, announce=new_lines is None)
    result = ReservationResult(warehouse_id=order.warehouse_id)
    by_sku = _levels_by_sku(order.warehouse_id, {line.sku_id for line in lines})
    taken = defaultdict(int)  # level pk -> units this call reserves
    plan, result.shortfalls = _plan_order(order, lines, wanted, by_sku, cutoffs, taken)
    if result.shortfalls and on_shortfall == "raise":
        raise InsufficientStock(details={"lines": [s.as_dict() for s in result.shortfalls]})

    _write_reservations(plan, taken, actor=actor)
    result.reserved = sum(taken.values())
    if result.shortfalls and on_shortfall == "hold":
        _open_stock_holds(order, result.shortfalls)
    return result


def reserve_for_new_orders(orders: list[tuple], *, actor, today: date | None = None) -> dict[int, ReservationResult]:
    """Reserve for orders just inserted together, each (order, its new lines with SKUs attached), as
    reserve_for_order would one after the other at intake: the shop's warehouse choice, FEFO, a
    shortfall held. The levels of each warehouse are locked once for all of them and each level is
    updated once with their sum, so a large batch (a legacy import) neither pays a lock per order
    nor piles up versions of its busiest rows in one transaction. {order id: result}."""
    today = today or _today()
    preferences, planned = {}, []
    for order, new_lines in orders:
        if order.status not in RESERVABLE_STATUSES:
            raise NotReservable(details={"status": order.status})
        lines = [LineToReserve(line.pk, line.line_no, line.sku_id, line.quantity, 0, line.sku) for line in new_lines]
        wanted = {line.pk: line.quantity for line in lines}
        cutoffs = _Cutoffs(order, lines, today)
        needs = defaultdict(int)
        for line in lines:
            needs[line.sku_id] += line.quantity
        if order.shop_id not in preferences:
            preferences[order.shop_id] = _shop_warehouses(order.shop)
        warehouse_id = _choose_warehouse(order, needs, cutoffs, preferences[order.shop_id])
        if warehouse_id != order.warehouse_id:
            _assign_warehouse(order, warehouse_id, announce=False)
        planned.append((order, lines, wanted, cutoffs))
    skus_by_warehouse = defaultdict(set)
    for order, lines, _wanted, _cutoffs in planned:
        skus_by_warehouse[order.warehouse_id].update(line.sku_id for line in lines)
    levels = {warehouse_id: _levels_by_sku(warehouse_id, sku_ids)
              for warehouse_id, sku_ids in sorted(skus_by_warehouse.items(), key=lambda item: item[0] or 0)}
    taken, plan, results = defaultdict(int), [], {}
    for order, lines, wanted, cutoffs in planned:
        before = sum(taken.values())
        order_plan, shortfalls = _plan_order(order, lines, wanted, levels[order.warehouse_id], cutoffs, taken)
        plan += order_plan
        results[order.pk] = ReservationResult(warehouse_id=order.warehouse_id, reserved=sum(taken.values()) - before,
                                              shortfalls=shortfalls)
    _write_reservations(plan, taken, actor=actor)
    for order, *_rest in planned:
        if results[order.pk].shortfalls:
            _open_stock_holds(order, results[order.pk].shortfalls)
    return results


def _assign_warehouse(order, warehouse_id, *, announce: bool):
    """Set the order's warehouse; a change after intake (e.g. stock came back elsewhere) is noted
    in the order's history, the first choice at intake is not news."""
    from apps.orders.services import record_order_event

    previous = order.warehouse_id
    type(order).objects.filter(pk=order.pk).update(warehouse_id=warehouse_id, updated_at=timezone.now())
    order.warehouse_id = warehouse_id
    if announce and previous is not None:
        record_order_event(order, name="warehouse_reassigned", payload={"from": previous, "to": warehouse_id})


STOCK_HOLD_OWNERS = {"out_of_stock": "cs_lead", "expiry_conflict": "warehouse_lead"}


def shortfall_holds(shortfalls: list[LineShortfall]) -> dict[str, tuple[str, dict]]:
    """{hold type: (reason, details)}: a line short because the only free units expire too soon is
    an expiry conflict, any other gap is out of stock."""
    expiry = [s for s in shortfalls if s.blocked_by_expiry >= s.short]
    missing = [s for s in shortfalls if s.blocked_by_expiry < s.short]
    holds = {}
    for hold_type, items in (("out_of_stock", missing), ("expiry_conflict", expiry)):
        if items:
            # Translators: one line of a stock hold's reason, e.g. "CAT-01: short 2 of 5".
            reason = _("; ").join(
                _("%(sku)s: short %(short)d of %(requested)d") % {"sku": s.sku, "short": s.short, "requested": s.requested}
                for s in items)
            holds[hold_type] = (reason, {"lines": [s.as_dict() for s in items]})
    return holds


def _open_stock_holds(order, shortfalls: list[LineShortfall]):
    from apps.orders.services import open_automatic_hold

    for hold_type, (reason, details) in shortfall_holds(shortfalls).items():
        open_automatic_hold(order, type=hold_type, reason=reason, owner_role=STOCK_HOLD_OWNERS[hold_type],
                            details=details)


def _active_reservations(order) -> list[Reservation]:
    return list(Reservation.objects.filter(order_line__order=order, state=Reservation.State.ACTIVE).order_by("pk"))


def release_for_order(order, *, actor, reason: str = "", reservations=None) -> int:
    """Give back the order's active reservations (cancel, reject, payment timeout). Idempotent."""
    reservations = _active_reservations(order) if reservations is None else reservations
    if not reservations:
        return 0
    levels = lock_levels({r.stock_level_id for r in reservations})
    now = timezone.now()
    moves = []
    for reservation in reservations:
        level = levels[reservation.stock_level_id]
        _change_level(level, reserved=-reservation.quantity)
        moves.append(_move(level, type=StockMove.Type.RELEASE, actor=actor, reserved=-reservation.quantity,
                           order_id=order.pk, reservation=reservation, note=reason,
                           reference=f"order:{order.external_id}"))
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(state=Reservation.State.RELEASED,
                                                                           closed_at=now)
    StockMove.objects.bulk_create(moves)
    return sum(r.quantity for r in reservations)


def issue_for_order(order, *, actor) -> int:
    """Shipment: the reserved units leave the building (on_hand and reserved both go down)."""
    reservations = _active_reservations(order)
    reserved = defaultdict(int)
    for reservation in reservations:
        reserved[reservation.order_line_id] += reservation.quantity
    short = [line.line_no for line in order.lines.all() if reserved[line.pk] != line.quantity]
    if short:
        raise NotFullyReserved(details={"lines": short})
    blocked = StockLevel.objects.filter(pk__in={r.stock_level_id for r in reservations}).filter(
        Q(batch__quarantined_at__isnull=False) | Q(bucket=QUARANTINE)).values_list("batch__lot_number", flat=True)
    if blocked:  # the last guard: a quarantined lot never leaves the building
        raise QuarantinedStock(details={"lots": sorted(set(blocked))})
    levels = lock_levels({r.stock_level_id for r in reservations})
    moves = []
    for reservation in reservations:
        level = levels[reservation.stock_level_id]
        _change_level(level, on_hand=-reservation.quantity, reserved=-reservation.quantity)
        moves.append(_move(level, type=StockMove.Type.ISSUE, actor=actor, on_hand=-reservation.quantity,
                           reserved=-reservation.quantity, order_id=order.pk, reservation=reservation,
                           reference=f"order:{order.external_id}"))
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(state=Reservation.State.ISSUED,
                                                                           closed_at=timezone.now())
    StockMove.objects.bulk_create(moves)
    return sum(r.quantity for r in reservations)


def firm_for_order(order) -> int:
    """Payment arrived: the reservations no longer lapse."""
    return Reservation.objects.filter(order_line__order=order, state=Reservation.State.ACTIVE,
                                      expires_at__isnull=False).update(expires_at=None)


# The statement is prepared per connection like the other hot ones (apps.core.db); the casts name
# the one signature even for NULLs. {order} is the order's id, or for intake, which sends the call in
# the same round trip as the order's INSERT, the lookup by shop and number (it has no id yet).
_RESERVE_ORDER_CALL = """
    SELECT r_outcome, r_status, r_previous_warehouse_id, r_warehouse_id, r_reserved, r_shortfalls::text
    FROM inventory_reserve_order({order}, %s::text[], %s::date, %s::timestamptz, %s::bigint, %s::text,
                                 %s::boolean, %s::boolean)"""
RESERVE_ORDER_SQL = _RESERVE_ORDER_CALL.format(order="%s::bigint")
RESERVE_NEW_ORDER_SQL = _RESERVE_ORDER_CALL.format(
    order="(SELECT id FROM orders_order WHERE shop_id = %s AND external_id = %s)")


def _reserve_params(*, actor, on_shortfall: str, today: date, rebook: bool) -> list:
    user = actor_user(actor)
    return [sorted(_reservable(rebook)), today, timezone.now(), user.pk if user else None, actor_label(actor),
            on_shortfall != "raise", not rebook]


def _reserve_in_database(order_id: int, *, actor, on_shortfall: str, today: date, rebook: bool = False,
                         announce: bool = True, order=None) -> ReservationResult:
    """reserve_for_order in one call of inventory_reserve_order (PostgreSQL), which locks the order
    itself; the order is read here only when a hold or a history note needs it."""
    rows = prepared_rows(RESERVE_ORDER_SQL, [order_id, *_reserve_params(actor=actor, on_shortfall=on_shortfall,
                                                                        today=today, rebook=rebook)])
    return _reservation_outcome(rows, order_id=order_id, on_shortfall=on_shortfall, announce=announce, order=order)


def new_order_reservation(order, *, actor) -> Statement:
    """reserve_for_order for an order intake is inserting (PostgreSQL), as a statement to send in the
    same round trip as the order's INSERT (apps.core.db.run_together); its rows go to
    new_order_reserved. Shortfalls open holds, as at intake always."""
    if order.status not in RESERVABLE_STATUSES:
        raise NotReservable(details={"status": order.status})
    return Statement(RESERVE_NEW_ORDER_SQL, [order.shop_id, order.external_id,
                                             *_reserve_params(actor=actor, on_shortfall="hold", today=_today(),
                                                              rebook=False)])


def new_order_reserved(rows, order) -> ReservationResult:
    return _reservation_outcome(rows, order_id=order.pk, on_shortfall="hold", announce=False, order=order)


def _reservation_outcome(rows, *, order_id: int, on_shortfall: str, announce: bool, order) -> ReservationResult:
    """What inventory_reserve_order answered, turned into the result, errors, holds and history note."""
    from apps.orders.errors import OrderNotFound
    from apps.orders.lock_objects import lock_order
    from apps.orders.services import record_order_event

    [(outcome, status, previous, warehouse_id, reserved, shortfalls)] = rows
    if outcome == "not_found":
        raise OrderNotFound(details={"order_id": order_id})
    if outcome == "not_reservable":
        raise NotReservable(details={"status": status})
    if order is not None:
        order.warehouse_id = warehouse_id
    result = ReservationResult(warehouse_id=warehouse_id, reserved=reserved,
                               shortfalls=[LineShortfall(**item) for item in json.loads(shortfalls)])
    if announce and previous is not None and warehouse_id != previous:
        order = order or lock_order(order_id)
        record_order_event(order, name="warehouse_reassigned", payload={"from": previous, "to": warehouse_id})
    if outcome == "refused":
        raise InsufficientStock(details={"lines": [s.as_dict() for s in result.shortfalls]})
    if result.shortfalls and on_shortfall == "hold":
        _open_stock_holds(order or lock_order(order_id), result.shortfalls)
    return result


@transaction.atomic
def stock_reserve_order(*, order_id: int, actor, on_shortfall: str = "hold") -> ReservationResult:
    """Reserve (or top up) an order's stock; see reserve_for_order."""
    from apps.orders.lock_objects import lock_order

    if uses_postgresql():  # the function locks the order itself: no model read on the way
        return _reserve_in_database(order_id, actor=actor, on_shortfall=on_shortfall, today=_today())
    return reserve_for_order(lock_order(order_id), actor=actor, on_shortfall=on_shortfall)


@transaction.atomic
def stock_release_order(*, order_id: int, actor, reason: str = "") -> int:
    from apps.orders.lock_objects import lock_order

    return release_for_order(lock_order(order_id), actor=actor, reason=reason)


@transaction.atomic
def stock_quarantine_batch(*, batch_id: int, actor, reason: str) -> Batch:
    """Stop a batch: nothing more is allocated from it, the reservations on it are moved to other
    batches (or the order is held), and its free units go to a quarantine level.

    Orders already in the warehouse flow (picking to packed) are re-booked too and get a
    `quarantined_stock` hold, because someone has to take the picked units back off the bench.
    """
    from apps.orders.lock_objects import lock_orders

    if not Batch.objects.filter(pk=batch_id).exists():
        raise UnknownBatch(details={"batch_id": batch_id})

    def holders():
        return set(Reservation.objects.filter(stock_level__batch_id=batch_id, state=Reservation.State.ACTIVE)
                   .values_list("order_line__order_id", flat=True))

    orders = {order.pk: order for order in lock_orders(holders())}  # orders before levels, as everywhere
    Batch.objects.filter(pk=batch_id).update(quarantined_at=timezone.now(), quarantine_reason=reason)
    level_ids = list(StockLevel.objects.filter(batch_id=batch_id, bucket=SELLABLE).values_list("pk", flat=True))
    levels = lock_levels(level_ids)
    # A reservation committed between the first read and the level locks also has to move.
    late = holders() - set(orders)
    orders.update({order.pk: order for order in lock_orders(late)})

    for order in orders.values():
        release_for_order(order, actor=actor, reason=reason, reservations=list(
            Reservation.objects.filter(order_line__order=order, stock_level__batch_id=batch_id,
                                       state=Reservation.State.ACTIVE).order_by("pk")))
    for level in levels.values():
        level.refresh_from_db()
        if level.available <= 0:
            continue
        quantity = level.available
        target = lock_or_create_level(warehouse_id=level.warehouse_id, sku_id=level.sku_id, batch_id=batch_id,
                                      bucket=QUARANTINE)
        _change_level(level, on_hand=-quantity)
        _change_level(target, on_hand=quantity)
        StockMove.objects.bulk_create([
            _move(level, type=StockMove.Type.QUARANTINE, actor=actor, on_hand=-quantity, note=reason),
            _move(target, type=StockMove.Type.QUARANTINE, actor=actor, on_hand=quantity, note=reason),
        ])
    for order in orders.values():
        in_warehouse = order.status in IN_WAREHOUSE_STATUSES
        if order.status in RESERVABLE_STATUSES or in_warehouse:
            reserve_for_order(order, actor=actor, on_shortfall="hold", rebook=in_warehouse)
        if in_warehouse:
            _open_quarantine_hold(order, reason)
    return Batch.objects.get(pk=batch_id)


def _open_quarantine_hold(order, reason):
    from apps.orders.models import HoldType
    from apps.orders.services import open_automatic_hold

    open_automatic_hold(order, type=HoldType.QUARANTINED_STOCK, owner_role="warehouse_lead",
                        reason=_("Picked units of a quarantined batch must be put back: %(reason)s") % {"reason": reason})


def ledger_matches_levels() -> list[dict]:
    """Levels whose numbers differ from the sums of their ledger lines (empty when all is well)."""
    sums = StockMove.objects.values("stock_level_id").annotate(on_hand=Sum("on_hand_delta"),
                                                               reserved=Sum("reserved_delta"))
    by_level = {row["stock_level_id"]: row for row in sums}
    wrong = []
    for level in StockLevel.objects.all().iterator():
        row = by_level.get(level.pk, {"on_hand": 0, "reserved": 0})
        if (row["on_hand"], row["reserved"]) != (level.on_hand, level.reserved):
            wrong.append({"stock_level_id": level.pk, "on_hand": level.on_hand, "reserved": level.reserved,
                          "ledger_on_hand": row["on_hand"], "ledger_reserved": row["reserved"]})
    return wrong


