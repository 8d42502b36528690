"""Reads of returns, scoped like their orders (apps.orders.selectors.orders_visible_to): whoever may
see an order may see its returns; out of scope reads as "not found"."""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.db.models import Count, Prefetch, Q, QuerySet, Sum

from apps.orders.selectors import orders_visible_to

from .errors import ReturnNotFound
from .models import (
    FINAL_STATES,
    ReasonNode,
    ReturnEvent,
    ReturnKind,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
    ReturnState,
)


def returns_visible_to(actor) -> QuerySet[ReturnRequest]:
    return ReturnRequest.objects.filter(order__in=orders_visible_to(actor).values("pk"))


def return_list(*, actor, order_id: int | None = None, state: str | None = None, states=None,
                query: str = "") -> QuerySet[ReturnRequest]:
    """Returns the actor may see, newest first; `query` is an order number or the tracking number of
    the parcel coming back (what a clerk scans)."""
    returns = returns_visible_to(actor).select_related("order", "reason").order_by("-created_at", "-id")
    if order_id is not None:
        returns = returns.filter(order_id=order_id)
    if state:
        returns = returns.filter(state=state)
    if states is not None:
        returns = returns.filter(state__in=list(states))
    if query:
        returns = returns.filter(Q(order__external_id=query) | Q(return_tracking_no=query))
    return returns


def refunds_waiting(*, actor) -> QuerySet[ReturnRequest]:
    """Returns whose money is due: refund-only requests once approved, return-and-refund requests
    once the goods are inspected (the states ReturnRequest.refund accepts), oldest first."""
    return (returns_visible_to(actor)
            .filter(Q(kind=ReturnKind.REFUND_ONLY, state=ReturnState.APPROVED)
                    | Q(kind=ReturnKind.RETURN_AND_REFUND, state=ReturnState.INSPECTED))
            .select_related("order", "order__shop", "reason").order_by("state_changed_at", "id"))


def return_photo(*, actor, return_id: int, photo_id: int) -> ReturnPhoto:
    photo = ReturnPhoto.objects.filter(pk=photo_id, request__in=returns_visible_to(actor).filter(pk=return_id)).first()
    if photo is None:
        raise ReturnNotFound(details={"return_id": return_id, "photo_id": photo_id})
    return photo


def steps_for(actor, request: ReturnRequest) -> list[str]:
    """The steps this person may take now: possible from the state and allowed by their role."""
    from .services import TRANSITION_PERMISSIONS

    return [name for name in sorted(t.name for t in request.get_available_state_transitions())
            if actor.has_perm(TRANSITION_PERMISSIONS[name])]


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


@dataclass
class LineTotals:
    """What has become of an order line's units in returns: returned by requests that were not
    rejected, and the open requests holding the line."""

    returned: int = 0
    open_request_ids: set[int] = field(default_factory=set)


def line_return_totals(order_line_ids) -> dict[int, LineTotals]:
    totals = defaultdict(LineTotals)
    rows = (ReturnLine.objects.filter(order_line_id__in=list(order_line_ids))
            .exclude(request__state=ReturnState.REJECTED)
            .values_list("order_line_id", "quantity", "request_id", "request__state"))
    for line_id, quantity, request_id, state in rows:
        totals[line_id].returned += quantity
        if state not in FINAL_STATES:
            totals[line_id].open_request_ids.add(request_id)
    return totals


def returnable_lines(order) -> list[dict]:
    """Each line of a shipped order with what may still be returned (an order ships whole, so a
    line's shipped quantity is its ordered quantity) and the open request holding it, if any."""
    lines = list(order.lines.select_related("sku").order_by("line_no"))
    totals = line_return_totals(line.pk for line in lines)
    return [{"line": line, "returned": totals[line.pk].returned,
             "returnable": max(line.quantity - totals[line.pk].returned, 0),
             "open_request_ids": sorted(totals[line.pk].open_request_ids)} for line in lines]


def reason_tree() -> QuerySet[ReasonNode]:
    """Active nodes, parents before children; a leaf is a node without active children."""
    return ReasonNode.objects.filter(is_active=True).order_by("level", "position", "code")


def leaf_codes() -> set[str]:
    nodes = list(reason_tree().values_list("code", "parent__code"))
    parents = {parent for _code, parent in nodes if parent}
    return {code for code, _parent in nodes if code not in parents}


def active_leaves() -> list[ReasonNode]:
    """The reasons one may pick: active nodes below a category without active children, whose
    ancestors are all active, in tree order, each with `category` set to its top-level node."""
    nodes = list(reason_tree())
    by_pk = {node.pk: node for node in nodes}
    parents = {node.parent_id for node in nodes}
    keyed = []
    for node in nodes:
        if node.pk in parents or node.parent_id is None:
            continue
        chain = [node]
        while chain[-1].parent_id is not None and chain[-1].parent_id in by_pk:
            chain.append(by_pk[chain[-1].parent_id])
        if chain[-1].parent_id is not None:  # an inactive ancestor hides the leaf
            continue
        node.category = chain[-1]
        keyed.append(([(n.position, n.code) for n in reversed(chain)], node))
    return [node for _key, node in sorted(keyed, key=lambda item: item[0])]


def _category_of(nodes: dict[int, ReasonNode]) -> dict[int, ReasonNode]:
    """Each node's top-level category."""
    top = {}
    for node in nodes.values():
        root = node
        while root.parent_id is not None:
            root = nodes[root.parent_id]
        top[node.pk] = root
    return top


def _share(part: int, whole: int) -> Decimal | None:
    return (Decimal(part * 100) / whole).quantize(Decimal("0.1")) if whole else None


def reason_analytics(*, actor, since: datetime, until: datetime) -> dict:
    """Why goods came back between `since` (inclusive) and `until` (exclusive), over the returns the
    actor may see: requests and units by category and by reason, units by SKU and reason, and the
    share of requests filed under an "other" leaf — the figure the reason tree exists to shrink.
    Rejected requests count too: they are still what buyers said."""
    requests = returns_visible_to(actor).filter(created_at__gte=since, created_at__lt=until)
    per_reason = {row["reason_id"]: row for row in requests.values("reason_id").annotate(requests=Count("pk"))}
    units = dict(ReturnLine.objects.filter(request__in=requests).values("request__reason_id")
                 .annotate(units=Sum("quantity")).values_list("request__reason_id", "units"))
    nodes = {node.pk: node for node in ReasonNode.objects.all()}  # a small tree: read it once
    category_of = _category_of(nodes)
    total = sum(row["requests"] for row in per_reason.values())
    by_reason, by_category = [], {}
    for reason_id, row in per_reason.items():
        reason, category = nodes[reason_id], category_of[reason_id]
        by_reason.append({"reason": reason.code, "name_zh": reason.name_zh, "name_en": reason.name_en,
                          "category": category.code, "is_other": reason.requires_text,
                          "requests": row["requests"], "units": units.get(reason_id, 0),
                          "share": _share(row["requests"], total)})
        bucket = by_category.setdefault(category.code, {"category": category.code, "name_zh": category.name_zh,
                                                        "name_en": category.name_en, "requests": 0, "units": 0})
        bucket["requests"] += row["requests"]
        bucket["units"] += units.get(reason_id, 0)
    for bucket in by_category.values():
        bucket["share"] = _share(bucket["requests"], total)
    other = sum(row["requests"] for row in by_reason if row["is_other"])
    by_sku = [
        {"sku": row["order_line__sku__code"], "reason": row["request__reason__code"], "units": row["units"],
         "requests": row["requests"]}
        for row in ReturnLine.objects.filter(request__in=requests)
        .values("order_line__sku__code", "request__reason__code")
        .annotate(units=Sum("quantity"), requests=Count("request", distinct=True))
        .order_by("order_line__sku__code", "-units", "request__reason__code")
    ]
    return {
        "since": since, "until": until, "requests": total, "other_requests": other,
        "other_share": _share(other, total),
        "by_category": sorted(by_category.values(), key=lambda b: (-b["requests"], b["category"])),
        "by_reason": sorted(by_reason, key=lambda r: (-r["requests"], r["reason"])),
        "by_sku": by_sku,
    }
