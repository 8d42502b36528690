"""Row locks for stock. The project-wide lock order is written at the top of
apps/orders/lock_objects.py: orders first, then stock levels, levels always by ascending pk and
all of an operation's levels in one statement."""
from dataclasses import dataclass
from datetime import date, datetime

from django.db import IntegrityError, transaction
from django.db.models import F

from apps.core.db import prepared_rows, uses_postgresql

from .errors import UnknownStockLevel
from .models import StockLevel


def lock_levels(level_ids) -> dict[int, StockLevel]:
    levels = StockLevel.objects.select_for_update(of=("self",)).select_related("batch").filter(
        pk__in=list(level_ids)).order_by("pk")
    return {level.pk: level for level in levels}


@dataclass(frozen=True, slots=True)
class BatchDates:
    expires_on: date | None
    quarantined_at: datetime | None


@dataclass(slots=True)
class FreeLevel:
    """A locked sellable level as the reservation planner reads it (plain data, no model)."""

    pk: int
    warehouse_id: int
    sku_id: int
    batch_id: int | None
    on_hand: int
    reserved: int
    batch: BatchDates | None

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


# The reservation's level lock, prepared once per connection (apps.core.db). FOR UPDATE OF s:
# batches are read, not locked. PostgreSQL re-checks the WHERE on rows it had to wait for, so a
# level emptied meanwhile drops out.
FREE_LEVELS_SQL = """
    SELECT s.id, s.warehouse_id, s.sku_id, s.batch_id, s.on_hand, s.reserved, b.expires_on, b.quarantined_at
    FROM inventory_stocklevel s LEFT JOIN inventory_batch b ON b.id = s.batch_id
    WHERE s.warehouse_id = %s AND s.sku_id = ANY(%s) AND s.bucket = 'sellable' AND s.on_hand > s.reserved
    ORDER BY s.id
    FOR UPDATE OF s"""


def lock_free_levels(*, warehouse_id: int, sku_ids) -> list[FreeLevel]:
    """The sellable levels of these SKUs in the warehouse that still have free units, locked in pk
    order. Empty levels of old lots are left alone."""
    sku_ids = sorted(sku_ids)
    if uses_postgresql():
        rows = prepared_rows(FREE_LEVELS_SQL, [warehouse_id, sku_ids])
    else:  # SQLite: the write lock taken at BEGIN covers every row
        rows = (StockLevel.objects.select_for_update(of=("self",))
                .filter(warehouse_id=warehouse_id, sku_id__in=sku_ids, bucket=StockLevel.Bucket.SELLABLE,
                        on_hand__gt=F("reserved"))
                .order_by("pk")
                .values_list("pk", "warehouse_id", "sku_id", "batch_id", "on_hand", "reserved", "batch__expires_on",
                             "batch__quarantined_at"))
    return [FreeLevel(pk, warehouse_id, sku_id, batch_id, on_hand, reserved,
                      BatchDates(expires_on, quarantined_at) if batch_id else None)
            for pk, warehouse_id, sku_id, batch_id, on_hand, reserved, expires_on, quarantined_at in rows]


def lock_level(level_id: int) -> StockLevel:
    level = lock_levels([level_id]).get(level_id)
    if level is None:
        raise UnknownStockLevel(details={"stock_level_id": level_id})
    return level


def lock_or_create_level(*, warehouse_id: int, sku_id: int, batch_id: int | None, bucket: str) -> StockLevel:
    """The level for this place, created empty on first use, locked. A concurrent creator loses
    on the unique constraint inside its savepoint and locks the winner's row."""
    lookup = {"warehouse_id": warehouse_id, "sku_id": sku_id, "batch_id": batch_id, "bucket": bucket}
    level = StockLevel.objects.select_for_update(of=("self",)).select_related("batch").filter(**lookup).first()
    if level is not None:
        return level
    try:
        with transaction.atomic():
            StockLevel.objects.create(**lookup)
    except IntegrityError:
        pass
    return StockLevel.objects.select_for_update(of=("self",)).select_related("batch").get(**lookup)
