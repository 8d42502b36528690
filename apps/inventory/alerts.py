"""Stock alerts as records: raised when a condition holds, resolved when it no longer does.

- low_stock: allocatable available below the SKU's safety stock;
- replenishment: stock cover = available ÷ (7-day average daily demand × 7) below 1.2, with a
  suggested quantity that brings cover back to two weeks of demand plus safety stock;
- near_expiry: a batch with stock whose expiry falls within the SKU's alert window (today included);
- expired: a batch with stock whose expiry date has passed: to be scrapped, never allocated. It is
  its own kind so that it is not read as one more batch to sell first; a near-expiry alert whose
  date passes is resolved and an expired one raised.

`stock_alerts_refresh` is idempotent (django-q2 runs it hourly); running it twice changes nothing.
"""
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from apps.catalog.models import SKU

from .models import StockAlert, StockLevel

COVER_ALERT_BELOW = Decimal("1.2")
DEMAND_DAYS = 7
REPLENISH_TO_DAYS = 14
EXCLUDED_DEMAND_STATUSES = ("cancelled", "expired")


def _available(today: date) -> dict[tuple[int, int], int]:
    """Free units per (warehouse, SKU) that could still be allocated today: not expired, not
    quarantined, and not too short-dated for the SKU's minimum remaining shelf life."""
    totals = defaultdict(int)
    levels = (StockLevel.objects.filter(bucket=StockLevel.Bucket.SELLABLE, on_hand__gt=F("reserved"))
              .exclude(batch__quarantined_at__isnull=False)
              .values("warehouse_id", "sku_id", "batch__expires_on", "sku__min_remaining_shelf_life_days")
              .annotate(free=Sum(F("on_hand") - F("reserved"))))
    for row in levels:
        expires_on = row["batch__expires_on"]
        cutoff = today + timedelta(days=max(row["sku__min_remaining_shelf_life_days"], 1))
        if expires_on is None or expires_on >= cutoff:
            totals[(row["warehouse_id"], row["sku_id"])] += row["free"]
    return totals


def _demand(now) -> dict[tuple[int, int], int]:
    """Units ordered per (warehouse, SKU) over the last DEMAND_DAYS days."""
    from apps.orders.models import OrderLine

    since = now - timedelta(days=DEMAND_DAYS)
    rows = (OrderLine.objects.filter(order__placed_at__gte=since, order__warehouse__isnull=False)
            .exclude(order__status__in=EXCLUDED_DEMAND_STATUSES)
            .values("order__warehouse_id", "sku_id").annotate(quantity=Sum("quantity")))
    return {(r["order__warehouse_id"], r["sku_id"]): r["quantity"] for r in rows}


def evaluate(today: date, now) -> dict[tuple, dict]:
    """What should be open now: {(kind, warehouse_id, sku_id, batch_id): fields}."""
    wanted = {}
    available = _available(today)
    demand = _demand(now)
    skus = {sku.pk: sku for sku in SKU.objects.filter(is_active=True).only(
        "pk", "safety_stock", "near_expiry_alert_days")}
    stocked = set(StockLevel.objects.values_list("warehouse_id", "sku_id").distinct())
    for warehouse_id, sku_id in stocked | set(demand):
        sku = skus.get(sku_id)
        if sku is None:
            continue
        free = available.get((warehouse_id, sku_id), 0)
        if free < sku.safety_stock:
            wanted[(StockAlert.Kind.LOW_STOCK, warehouse_id, sku_id, None)] = {
                "available": free, "details": {"safety_stock": sku.safety_stock}}
        ordered = demand.get((warehouse_id, sku_id), 0)
        if ordered > 0:
            # The average day × DEMAND_DAYS is the period's total: dividing by that integer keeps the
            # comparison exact (via the average, 8,430 units over a week's 7,025 came out below 1.2).
            cover = Decimal(free) / ordered
            if cover < COVER_ALERT_BELOW:
                shortfall = ordered * REPLENISH_TO_DAYS + (sku.safety_stock - free) * DEMAND_DAYS
                suggested = max(-(-shortfall // DEMAND_DAYS), 1)  # ceil in integers
                wanted[(StockAlert.Kind.REPLENISHMENT, warehouse_id, sku_id, None)] = {
                    "available": free, "suggested_quantity": suggested,
                    "details": {"cover": str(cover.quantize(Decimal("0.01"))),
                                "daily_demand": str((Decimal(ordered) / DEMAND_DAYS).quantize(Decimal("0.01")))}}
    dated = (StockLevel.objects.filter(on_hand__gt=0, batch__isnull=False, batch__expires_on__isnull=False)
             .select_related("batch", "sku"))
    for level in dated:
        days_left = (level.batch.expires_on - today).days
        if days_left <= level.sku.near_expiry_alert_days:
            kind = StockAlert.Kind.EXPIRED if days_left < 0 else StockAlert.Kind.NEAR_EXPIRY
            key = (kind, level.warehouse_id, level.sku_id, level.batch_id)
            entry = wanted.setdefault(key, {"available": 0, "details": {
                "expires_on": level.batch.expires_on.isoformat(), "days_left": days_left,
                "lot_number": level.batch.lot_number}})
            entry["available"] += level.on_hand
    return wanted


@transaction.atomic
def stock_alerts_refresh(*, today: date | None = None, now=None) -> dict[str, int]:
    now = now or timezone.now()
    today = today or timezone.localdate(now)
    wanted = evaluate(today, now)
    open_alerts = {(a.kind, a.warehouse_id, a.sku_id, a.batch_id): a
                   for a in StockAlert.objects.select_for_update().filter(resolved_at__isnull=True)}
    # One statement per kind of change, not one per alert: a peak day's first refresh raises thousands.
    cleared = [alert.pk for key, alert in open_alerts.items() if key not in wanted]
    StockAlert.objects.filter(pk__in=cleared).update(resolved_at=now)
    new, changed = [], []
    for key, fields in wanted.items():
        alert = open_alerts.get(key)
        if alert is None:
            kind, warehouse_id, sku_id, batch_id = key
            new.append(StockAlert(kind=kind, warehouse_id=warehouse_id, sku_id=sku_id, batch_id=batch_id,
                                  raised_at=now, **fields))
        elif any(getattr(alert, name) != value for name, value in fields.items()):
            for name, value in fields.items():
                setattr(alert, name, value)
            changed.append(alert)
    StockAlert.objects.bulk_create(new, batch_size=1000)
    # bulk_update writes a CASE per field that grows with the batch: 100 a statement beat 1,000 here.
    StockAlert.objects.bulk_update(changed, ["available", "suggested_quantity", "details"], batch_size=100)
    return {"raised": len(new), "resolved": len(cleared), "updated": len(changed), "open": len(wanted)}
