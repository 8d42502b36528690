"""Warehouse reads, scoped: a clerk sees the waves and orders of the warehouses they work
(guardian `inventory.work_warehouse` on Warehouse, an indexed FK subquery); out of scope is
"not found", never "forbidden"."""
from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from apps.inventory.models import Warehouse
from apps.orders.errors import OrderNotFound
from apps.orders.models import Order, OrderEvent, OrderHold, OrderTag
from apps.orders.normalisation import urgency_bounds
from apps.orders.selectors import worked_warehouses

from .errors import WaveNotFound
from .models import PickTask, Shipment, ShopCarrier, Wave, WaveOrder

CARRIER_TAG_PREFIX = "carrier_"


def _is_authenticated(actor) -> bool:
    return actor is not None and getattr(actor, "is_authenticated", False)


def warehouses_worked_by(actor) -> QuerySet[Warehouse]:
    """Active warehouses the actor may build waves in; the system (None) and superusers work all."""
    active = Warehouse.objects.filter(is_active=True)
    if actor is None or getattr(actor, "is_superuser", False):
        return active
    if not _is_authenticated(actor):
        return Warehouse.objects.none()
    return active.filter(pk__in=worked_warehouses(actor).values("pk"))


def waves_visible_to(actor) -> QuerySet[Wave]:
    if not _is_authenticated(actor):
        return Wave.objects.none()
    if actor.is_superuser:
        return Wave.objects.all()
    if not actor.has_perm("fulfillment.view_wave"):
        return Wave.objects.none()
    return Wave.objects.filter(warehouse__in=worked_warehouses(actor).values("pk"))


def _task_count(**filters):
    tasks = (PickTask.objects.filter(wave=OuterRef("pk"), **filters).exclude(state=PickTask.State.RELEASED)
             .order_by().values("wave").annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(tasks, output_field=IntegerField()), Value(0))


def with_progress(waves: QuerySet[Wave]) -> QuerySet[Wave]:
    """Counts for lists and the scanner's progress bar; one subquery each, no row multiplication."""
    orders = (WaveOrder.objects.filter(wave=OuterRef("pk"), left_at__isnull=True).order_by().values("wave")
              .annotate(n=Count("pk")).values("n"))
    return waves.annotate(
        order_count=Coalesce(Subquery(orders, output_field=IntegerField()), Value(0)),
        task_count=_task_count(),
        open_count=_task_count(state=PickTask.State.OPEN),
        picked_count=_task_count(state=PickTask.State.PICKED),
        short_count=_task_count(state=PickTask.State.SHORT),
    )


def wave_list(*, actor, state: str | None = None) -> QuerySet[Wave]:
    waves = waves_visible_to(actor).select_related("warehouse", "carrier")
    if state:
        waves = waves.filter(state=state)
    return with_progress(waves).order_by("-created_at", "-id")


def wave_detail(*, actor, wave_id) -> Wave:
    try:
        wave_id = int(wave_id)
    except (TypeError, ValueError):
        raise WaveNotFound(details={"wave_id": wave_id}) from None
    wave = with_progress(waves_visible_to(actor).select_related("warehouse", "carrier")).filter(pk=wave_id).first()
    if wave is None:
        raise WaveNotFound(details={"wave_id": wave_id})
    return wave


LIVE_SHIPMENT_STATES = (Shipment.State.REQUESTED, Shipment.State.ISSUED)


def live_shipment(order) -> Shipment | None:
    """The order's waybill in play (requested or issued; at most one, a database constraint), with
    its carrier."""
    return Shipment.objects.select_related("carrier").filter(order=order, state__in=LIVE_SHIPMENT_STATES).first()


def visible_wave_id(*, actor, wave_id) -> int:
    """The wave's id if the actor may see it (the scan's scope check: one indexed query, no counts)."""
    try:
        wave_id = int(wave_id)
    except (TypeError, ValueError):
        raise WaveNotFound(details={"wave_id": wave_id}) from None
    if not waves_visible_to(actor).filter(pk=wave_id).exists():
        raise WaveNotFound(details={"wave_id": wave_id})
    return wave_id


def wave_tasks(wave: Wave) -> QuerySet[PickTask]:
    return (PickTask.objects.filter(wave=wave).select_related("sku", "batch", "order", "wave_order")
            .order_by("sequence"))


def next_task(*, wave_id: int) -> PickTask | None:
    """The next task on the pick path: the open one with the lowest sequence."""
    return (PickTask.objects.filter(wave_id=wave_id, state=PickTask.State.OPEN)
            .select_related("sku", "batch", "order", "wave_order").order_by("sequence").first())


def wave_units(*, wave_id: int) -> dict:
    """Units wanted and units confirmed, for the progress line (released tasks do not count)."""
    return PickTask.objects.filter(wave_id=wave_id).exclude(state=PickTask.State.RELEASED).aggregate(
        wanted=Coalesce(Sum("quantity"), 0), picked=Coalesce(Sum("picked_quantity"), 0))


# --- building a wave ----------------------------------------------------------------------------

def intends_carrier(carrier) -> Q:
    """Orders whose intended carrier is this one: the buyer asked for it (a `carrier_<code>` tag from
    a remark keyword such as 顺丰), or the order has no carrier tag and its shop ships with it by default."""
    any_carrier_tag = OrderTag.objects.filter(order=OuterRef("pk"), tag__startswith=CARRIER_TAG_PREFIX)
    this_carrier_tag = OrderTag.objects.filter(order=OuterRef("pk"), tag=f"{CARRIER_TAG_PREFIX}{carrier.code}")
    shops = ShopCarrier.objects.filter(carrier=carrier).values("shop_id")
    return Q(Exists(this_carrier_tag)) | (Q(shop_id__in=shops) & ~Q(Exists(any_carrier_tag)))


def wave_candidates(*, warehouse_id: int, now, carrier=None, urgency: str | None = None,
                    cut_off=None) -> QuerySet[Order]:
    """Ready orders of the warehouse without an open hold, matching the filters, most urgent first.
    An unlocked read: the service locks what it takes and checks again."""
    open_hold = OrderHold.objects.filter(order=OuterRef("pk"), released_at__isnull=True)
    orders = Order.objects.filter(warehouse_id=warehouse_id, status="ready").filter(~Q(Exists(open_hold)))
    if carrier is not None:
        orders = orders.filter(intends_carrier(carrier))
    if urgency:
        orders = orders.filter(**urgency_bounds(urgency, now))
    if cut_off is not None:
        orders = orders.filter(promised_ship_by__lte=cut_off)
    return orders.order_by("promised_ship_by", "pk")


def intended_carrier_code(order) -> str | None:
    """The carrier an order should go with, or None: its carrier tag, else its shop's default."""
    tag = order.tags.filter(tag__startswith=CARRIER_TAG_PREFIX).values_list("tag", flat=True).first()
    if tag:
        return tag[len(CARRIER_TAG_PREFIX):]
    return ShopCarrier.objects.filter(shop_id=order.shop_id).values_list("carrier__code", flat=True).first()


# --- orders in the warehouse --------------------------------------------------------------------

def warehouse_orders_visible_to(actor) -> QuerySet[Order]:
    """Orders a warehouse actor may pack and ship: those of the warehouses they work."""
    if not _is_authenticated(actor):
        return Order.objects.none()
    if actor.is_superuser:
        return Order.objects.all()
    if not actor.has_perm("orders.view_order"):
        return Order.objects.none()
    return Order.objects.filter(warehouse__in=worked_warehouses(actor).values("pk"))


def warehouse_order(*, actor, order_id) -> Order:
    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        raise OrderNotFound(details={"order_id": order_id}) from None
    order = warehouse_orders_visible_to(actor).select_related("warehouse", "shop").filter(pk=order_id).first()
    if order is None:
        raise OrderNotFound(details={"order_id": order_id})
    return order


WAREHOUSE_BOARD_STATUSES = ("picking", "picked", "packed", "shipped")


def warehouse_order_board(*, actor, status: str) -> QuerySet[Order]:
    """Orders on the warehouse floor in one status, with what the clerk's columns need fetched in
    a fixed number of queries: the wave, live pick tasks with their batch, the package, the live
    waybill with its carrier, and the pick-finished and shipped events."""
    return (warehouse_orders_visible_to(actor).filter(status=status)
            .select_related("warehouse", "package")
            .prefetch_related(
                Prefetch("wave_memberships", queryset=WaveOrder.objects.select_related("wave").order_by("-id"),
                         to_attr="memberships"),
                Prefetch("pick_tasks", queryset=PickTask.objects.exclude(state=PickTask.State.RELEASED)
                         .select_related("batch").order_by("sequence"), to_attr="live_tasks"),
                Prefetch("shipments", queryset=Shipment.objects.filter(state__in=LIVE_SHIPMENT_STATES)
                         .select_related("carrier"), to_attr="live_shipments"),
                Prefetch("events", queryset=OrderEvent.objects.filter(name__in=["finish_picking", "ship"])
                         .order_by("created_at", "id"), to_attr="floor_events"))
            .order_by("-status_changed_at", "-id"))
