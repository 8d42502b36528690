"""Stock reads, scoped: clerks see the warehouses they work, shop-scoped roles the warehouses
their shops ship from, a shop token its own shop's warehouses."""
from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from .models import StockAlert, StockLevel, StockMove, Warehouse


def warehouses_visible_to(actor) -> QuerySet[Warehouse]:
    from apps.orders.authentication import ShopPrincipal
    from apps.orders.models import ShopWarehouse
    from apps.orders.selectors import served_shops, worked_warehouses

    if actor is None or not actor.is_authenticated:
        return Warehouse.objects.none()
    if isinstance(actor, ShopPrincipal):
        return Warehouse.objects.filter(Q(pk=actor.shop.default_warehouse_id)
                                        | Q(pk__in=ShopWarehouse.objects.filter(shop=actor.shop)
                                            .values("warehouse_id")))
    if actor.is_superuser:
        return Warehouse.objects.all()
    if not actor.has_perm("inventory.view_stocklevel"):
        return Warehouse.objects.none()
    shops = served_shops(actor)
    return Warehouse.objects.filter(
        Q(pk__in=worked_warehouses(actor).values("pk"))
        | Q(pk__in=shops.values("default_warehouse_id"))
        | Q(pk__in=ShopWarehouse.objects.filter(shop_id__in=shops.values("pk")).values("warehouse_id"))
    )


def stock_availability(*, actor, sku_code: str | None = None, warehouse_code: str | None = None):
    """Per warehouse and SKU: on hand, reserved, available to allocate today, and quarantined."""
    today = timezone.localdate()
    unusable = Q(batch__expires_on__lte=today) | Q(batch__quarantined_at__isnull=False)
    sellable = Q(bucket=StockLevel.Bucket.SELLABLE)
    levels = StockLevel.objects.filter(warehouse__in=warehouses_visible_to(actor))
    if sku_code:
        levels = levels.filter(sku__code=sku_code)
    if warehouse_code:
        levels = levels.filter(warehouse__code=warehouse_code)
    return (levels.values("warehouse__code", "sku__code", "sku__name_zh")
            .annotate(
                total_on_hand=Sum(Case(When(sellable, then=F("on_hand")), default=0, output_field=IntegerField())),
                total_reserved=Sum("reserved"),
                total_available=Sum(Case(When(sellable & ~unusable, then=F("on_hand") - F("reserved")), default=0,
                                   output_field=IntegerField())),
                total_blocked=Sum(Case(When(sellable & unusable, then=F("on_hand") - F("reserved")), default=0,
                                            output_field=IntegerField())),
                total_quarantined=Sum(Case(When(bucket=StockLevel.Bucket.QUARANTINE, then=F("on_hand")), default=0,
                                     output_field=IntegerField())),
            )
            .order_by("sku__code", "warehouse__code"))


def stock_batches(*, actor, sku_code: str):
    """Batches of a SKU with their expiry and quantities per warehouse, earliest expiry first."""
    return (StockLevel.objects.filter(warehouse__in=warehouses_visible_to(actor), sku__code=sku_code,
                                      batch__isnull=False)
            .select_related("batch", "warehouse")
            .order_by(F("batch__expires_on").asc(nulls_last=True), "batch__lot_number", "warehouse__code"))


def stock_ledger(*, actor, sku_code: str) -> QuerySet[StockMove]:
    return (StockMove.objects.filter(sku__code=sku_code, stock_level__warehouse__in=warehouses_visible_to(actor))
            .select_related("stock_level__warehouse", "stock_level__batch", "order")
            .order_by("-created_at", "-id"))


def stock_alerts(*, actor, include_resolved: bool = False) -> QuerySet[StockAlert]:
    alerts = StockAlert.objects.filter(warehouse__in=warehouses_visible_to(actor))
    if not include_resolved:
        alerts = alerts.filter(resolved_at__isnull=True)
    return alerts.select_related("warehouse", "sku", "batch").order_by("kind", "warehouse__code", "sku__code")


# The order an alert list is worked in: stock to scrap, stock about to go, empty shelves, then orders to place.
ALERT_URGENCY = (StockAlert.Kind.EXPIRED, StockAlert.Kind.NEAR_EXPIRY, StockAlert.Kind.LOW_STOCK,
                 StockAlert.Kind.REPLENISHMENT)


def stock_alerts_by_urgency(*, actor, kind: str | None = None) -> QuerySet[StockAlert]:
    """Open alerts in the actor's warehouses, in ALERT_URGENCY order; within a kind the lot that
    expires first, then the emptiest place."""
    alerts = stock_alerts(actor=actor)
    if kind is not None:
        alerts = alerts.filter(kind=kind)
    rank = Case(*(When(kind=value, then=Value(position)) for position, value in enumerate(ALERT_URGENCY)))
    return alerts.order_by(rank, F("batch__expires_on").asc(nulls_last=True), "available", "warehouse__code",
                           "sku__code", "pk")


def stock_alert_counts(*, actor) -> dict[str, int]:
    """Open alerts per kind in the actor's warehouses."""
    return dict(stock_alerts(actor=actor).order_by().values_list("kind").annotate(count=Count("pk")))


def level_visible(*, actor, level_id: int) -> StockLevel | None:
    return StockLevel.objects.filter(pk=level_id, warehouse__in=warehouses_visible_to(actor)).first()


