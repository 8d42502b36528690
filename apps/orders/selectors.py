"""Reads of orders, always scoped to what the actor may see.

Scope is an object permission on a small object (guardian direct-FK tables): agents, finance and
managers serve Shops, clerks work Warehouses. Orders are filtered by an indexed FK subquery,
never by per-order permission rows. Out of scope means "not found", never "forbidden".
"""
from datetime import timedelta

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from guardian.shortcuts import get_objects_for_user

from apps.inventory.models import Warehouse

from .authentication import ShopPrincipal
from apps.core.errors import ValidationFailed
from apps.core.privacy import mask_name, mask_phone

from .errors import OrderNotFound, ShopNotServed
from .models import TERMINAL_STATUSES, Order, OrderEvent, Shop


def served_shops(user) -> QuerySet[Shop]:
    return get_objects_for_user(user, "orders.serve_shop", klass=Shop, accept_global_perms=False,
                                with_superuser=False)


def worked_warehouses(user) -> QuerySet[Warehouse]:
    return get_objects_for_user(user, "inventory.work_warehouse", klass=Warehouse, accept_global_perms=False,
                                with_superuser=False)


def orders_visible_to(actor) -> QuerySet[Order]:
    if actor is None or not actor.is_authenticated:
        return Order.objects.none()
    if isinstance(actor, ShopPrincipal):
        return Order.objects.filter(shop=actor.shop)
    if actor.is_superuser:
        return Order.objects.all()
    if not actor.has_perm("orders.view_order"):
        return Order.objects.none()
    return Order.objects.filter(
        Q(shop__in=served_shops(actor).values("pk")) | Q(warehouse__in=worked_warehouses(actor).values("pk"))
    )


def can_view_personal_data(actor) -> bool:
    return actor is not None and actor.has_perm("orders.view_personal_data")


def receiver_shown(order, *, full: bool) -> dict:
    """The receiver's name and phone as a page shows them: in full, or masked (张*, 138****5678)."""
    if full:
        return {"name": order.receiver_name, "phone": order.receiver_phone}
    return {"name": mask_name(order.receiver_name), "phone": mask_phone(order.receiver_phone)}


def shop_for_intake(*, actor, code: str | None) -> Shop:
    """The shop an intake writes to: a token's own shop (naming another is refused), or for staff
    the named shop if they serve it. Unknown and unserved shops look the same."""
    if isinstance(actor, ShopPrincipal):
        if code not in (None, "", actor.shop.code):
            raise ShopNotServed(details={"shop": code})
        return actor.shop
    if not code:
        raise ValidationFailed(details={"shop": [{"code": "required", "message": str(_("This field is required."))}]})
    shop = Shop.objects.filter(code=code, is_active=True).first()
    allowed = shop is not None and (actor.is_superuser or (
        actor.has_perm("orders.add_order") and served_shops(actor).filter(pk=shop.pk).exists()))
    if not allowed:
        raise ShopNotServed(details={"shop": code})
    return shop


def order_list(*, actor) -> QuerySet[Order]:
    return orders_visible_to(actor).select_related("shop").prefetch_related("tags").order_by("-placed_at", "-id")


def order_detail(*, actor, order_id: int) -> Order:
    order = (
        orders_visible_to(actor)
        .select_related("shop", "customer", "warehouse")
        .prefetch_related(
            "lines__sku",
            "holds",
            "tags",
            Prefetch("events", queryset=OrderEvent.objects.select_related("actor").order_by("created_at", "id")),
        )
        .filter(pk=order_id)
        .first()
    )
    if order is None:
        raise OrderNotFound(details={"order_id": order_id})
    return order


NO_RESPONSE_AFTER = timedelta(hours=24)


def order_search(orders: QuerySet[Order], query: str) -> QuerySet[Order]:
    """One search box for agents: a phone's last four digits, an order number (or its start), or a
    carrier tracking number."""
    query = (query or "").strip()
    if not query:
        return orders
    if len(query) == 4 and query.isdigit():
        return orders.filter(phone_tail=query)
    from apps.fulfillment.models import Shipment  # fulfillment builds on orders, not the reverse

    return orders.filter(Q(external_id__startswith=query)
                         | Exists(Shipment.objects.filter(order=OuterRef("pk"), tracking_number=query)))


def agent_worklist(*, actor, query: str = "", now=None) -> QuerySet[Order]:
    """The agent's open orders (not finished) in the shops they serve, newest first, each with its
    latest complaint (else the buyer's remark shows) and `awaiting_reply`: a complaint older than
    24 hours that nobody on staff has acted on since."""
    from .services import COMPLAINT_EVENT

    now = now or timezone.now()
    complaints = OrderEvent.objects.filter(order=OuterRef("pk"), name=COMPLAINT_EVENT).order_by("-created_at", "-id")
    staff_since = OrderEvent.objects.filter(order=OuterRef("pk"), actor__isnull=False,
                                            created_at__gt=OuterRef("last_complaint_at")).exclude(name=COMPLAINT_EVENT)
    orders = (orders_visible_to(actor).filter(shop__in=served_shops(actor).values("pk"))
              .exclude(status__in=TERMINAL_STATUSES)
              .select_related("shop")
              .annotate(last_complaint=Subquery(complaints.values("payload__text")[:1]),
                        last_complaint_at=Subquery(complaints.values("created_at")[:1]))
              .annotate(awaiting_reply=ExpressionWrapper(
                  Q(last_complaint_at__lt=now - NO_RESPONSE_AFTER) & ~Exists(staff_since), output_field=BooleanField()))
              .order_by("-placed_at", "-id"))
    return order_search(orders, query)
