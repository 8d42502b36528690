"""Row locks for stock. The project-wide lock order is written at the top of
apps/orders/lock_objects.py: orders first, then stock levels, levels always by ascending pk and
all of an operation's levels in one statement."""
from django.db import IntegrityError, transaction
from django.db.models import F

from .errors import UnknownStockLevel
from .models import StockLevel


def lock_levels(level_ids) -> dict[int, StockLevel]:
    levels = StockLevel.objects.select_for_update(of=("self",)).select_related("batch").filter(
        pk__in=list(level_ids)).order_by("pk")
    return {level.pk: level for level in levels}


def lock_levels_for_skus(*, warehouse_id: int, sku_ids) -> list[StockLevel]:
    """The sellable levels of these SKUs in the warehouse that still have free units, locked in pk
    order. Empty levels of old lots are left alone; PostgreSQL re-checks the condition on rows it
    had to wait for, so a level emptied meanwhile drops out."""
    return list(
        StockLevel.objects.select_for_update(of=("self",))
        .select_related("batch")
        .filter(warehouse_id=warehouse_id, sku_id__in=list(sku_ids), bucket=StockLevel.Bucket.SELLABLE,
                on_hand__gt=F("reserved"))
        .order_by("pk")
    )


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
