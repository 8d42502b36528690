"""Reads of orders, always scoped to what the actor may see.

Scope is an object permission on a small object (guardian direct-FK tables): agents, finance and
managers serve Shops, clerks work Warehouses. Orders are filtered by an indexed FK subquery,
never by per-order permission rows. Out of scope means "not found", never "forbidden".
"""
from django.db.models import Prefetch, Q, QuerySet
from guardian.shortcuts import get_objects_for_user

from apps.inventory.models import Warehouse

from .authentication import ShopPrincipal
from .errors import OrderNotFound
from .models import Order, OrderEvent, Shop


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


def can_create_for_shop(actor, shop: Shop) -> bool:
    if isinstance(actor, ShopPrincipal):
        return actor.shop.pk == shop.pk
    if actor.is_superuser:
        return True
    return actor.has_perm("orders.add_order") and served_shops(actor).filter(pk=shop.pk).exists()


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
