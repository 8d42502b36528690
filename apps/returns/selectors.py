"""Reads of returns, scoped like their orders (apps.orders.selectors.orders_visible_to): whoever may
see an order may see its returns; out of scope reads as "not found"."""
from django.db.models import Prefetch, QuerySet

from apps.orders.selectors import orders_visible_to

from .errors import ReturnNotFound
from .models import ReasonNode, ReturnEvent, ReturnLine, ReturnRequest


def returns_visible_to(actor) -> QuerySet[ReturnRequest]:
    return ReturnRequest.objects.filter(order__in=orders_visible_to(actor).values("pk"))


def return_list(*, actor, order_id: int | None = None, state: str | None = None) -> QuerySet[ReturnRequest]:
    returns = returns_visible_to(actor).select_related("order", "reason").order_by("-created_at", "-id")
    if order_id is not None:
        returns = returns.filter(order_id=order_id)
    if state:
        returns = returns.filter(state=state)
    return returns


def return_detail(*, actor, return_id: int) -> ReturnRequest:
    request = (
        returns_visible_to(actor)
        .select_related("order", "reason", "linked_order")
        .prefetch_related(
            Prefetch("lines", queryset=ReturnLine.objects.select_related("order_line__sku")
                     .order_by("order_line__line_no")),
            "photos",
            Prefetch("events", queryset=ReturnEvent.objects.order_by("created_at", "id")),
        )
        .filter(pk=return_id)
        .first()
    )
    if request is None:
        raise ReturnNotFound(details={"return_id": return_id})
    return request


def reason_tree() -> QuerySet[ReasonNode]:
    """Active nodes, parents before children; a leaf is a node without active children."""
    return ReasonNode.objects.filter(is_active=True).order_by("level", "position", "code")


def leaf_codes() -> set[str]:
    nodes = list(reason_tree().values_list("code", "parent__code"))
    parents = {parent for _code, parent in nodes if parent}
    return {code for code, _parent in nodes if code not in parents}
