"""The three likeliest return reasons for an order's lines, by a deterministic score that explains
itself.

A leaf's score is a sum of named contributions, each kept as a `because` entry so the page can say
why a reason was proposed:

- history: the share of earlier requests with this reason among earlier requests for the same SKUs
  (weight `W_SKU`), for SKUs of the same category (`W_CATEGORY`) and overall (`W_OVERALL`). Shares
  are smoothed with `SMOOTHING` pseudo-requests, so one earlier return does not outvote a category
  with hundreds; "earlier" means created before `as_of`, and requests of any state count (a
  rejected request still says what buyers complain about).
- the shipment: refused, intercepted, stalled in transit (a stall hold, open or closed), damage noted
  by the carrier at delivery (a tracking event whose description names damage), not delivered yet.
- time since delivery: within 2 days (unpacking finds what is missing or broken), within 7 days
  (the platforms' no-reason window), over 30 days (faults show with use).
- earlier complaints on the order: words of a leaf's `keywords` in a complaint note recorded before
  `as_of`.

Leaves that require text ("other") are never proposed: the point is to offer something better.
Ties break by position in the tree, so the same inputs always give the same list.
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.fulfillment.models import TrackingEvent
from apps.orders.models import HoldType, OrderEvent, OrderHold
from apps.orders.services import COMPLAINT_EVENT

from .models import ReasonNode, ReturnLine
from .selectors import active_leaves

TOP = 3
W_SKU = Decimal("4")
W_CATEGORY = Decimal("2")
W_OVERALL = Decimal("1")
SMOOTHING = 3
COMPLAINT_WEIGHT = Decimal("3")
DAMAGE_WORDS = ("破损", "压坏", "破损签收", "外包装破", "外箱破", "damaged", "crushed")

# Shipment and timing signals → what they point to. Codes of leaves that are missing or inactive
# are skipped, so admins may reshape the tree without touching this table.
SIGNAL_BOOSTS: dict[str, dict[str, Decimal]] = {
    "refused": {"buyer.changed_mind": Decimal("2"), "logistics.late": Decimal("1")},
    "intercepted": {"buyer.changed_mind": Decimal("2"), "logistics.wrong_item": Decimal("0.5")},
    "stalled": {"logistics.late": Decimal("2.5"), "logistics.crushed": Decimal("0.5")},
    "damage_at_delivery": {"logistics.crushed": Decimal("3"), "logistics.missing_item": Decimal("0.5")},
    "not_delivered": {"logistics.late": Decimal("1.5"), "buyer.changed_mind": Decimal("0.5")},
    "delivered_within_2_days": {"logistics.crushed": Decimal("0.5"), "logistics.missing_item": Decimal("0.5"),
                                "logistics.empty_parcel": Decimal("0.5"), "logistics.wrong_item": Decimal("0.5")},
    "delivered_within_7_days": {"buyer.changed_mind": Decimal("1")},
    "delivered_over_30_days": {"product.functional_fault": Decimal("1"), "buyer.changed_mind": Decimal("-1")},
}
SIGNAL_LABELS = {
    "sku_history": _("Earlier returns of this product"),
    "category_history": _("Earlier returns in this category"),
    "overall_history": _("All earlier returns"),
    "refused": _("The parcel was refused"),
    "intercepted": _("The parcel was intercepted"),
    "stalled": _("The parcel stalled in transit"),
    "damage_at_delivery": _("The carrier noted damage at delivery"),
    "not_delivered": _("Not delivered yet"),
    "delivered_within_2_days": _("Delivered within the last 2 days"),
    "delivered_within_7_days": _("Delivered within the last 7 days"),
    "delivered_over_30_days": _("Delivered more than 30 days ago"),
    "complaint": _("An earlier complaint on the order"),
}


@dataclass
class Suggestion:
    reason: ReasonNode
    score: Decimal
    because: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"reason": self.reason.code, "name_zh": self.reason.name_zh, "name_en": self.reason.name_en,
                "score": str(self.score.quantize(Decimal("0.001"))), "because": self.because}


@dataclass(frozen=True)
class OrderSignals:
    """What the order's history says, up to a moment."""

    names: frozenset[str]
    complaints: tuple[str, ...]


def _leaves() -> list[ReasonNode]:
    """The leaves that may be proposed, in tree order (which breaks ties)."""
    return [leaf for leaf in active_leaves() if not leaf.requires_text]


def order_signals(order, *, as_of: datetime) -> OrderSignals:
    """Shipment, timing and complaint signals from the order's events, holds and tracking, as
    they stood at `as_of`."""
    names = set()
    delivered_at = None
    complaints = []
    events = OrderEvent.objects.filter(order=order, created_at__lt=as_of).filter(
        Q(to_status__in=["delivered", "refused", "intercepted", "shipped"]) | Q(name=COMPLAINT_EVENT)
    ).values_list("to_status", "name", "payload", "created_at").order_by("created_at", "id")
    shipped = False
    for to_status, name, payload, at in events:
        if name == COMPLAINT_EVENT:
            complaints.append(str((payload or {}).get("text", "")))
        elif to_status == "delivered":
            delivered_at = delivered_at or at
        elif to_status == "shipped":
            shipped = True
        else:
            names.add(to_status)
    if OrderHold.objects.filter(order=order, type=HoldType.STALLED_IN_TRANSIT, opened_at__lt=as_of).exists():
        names.add("stalled")
    damage = Q()
    for word in DAMAGE_WORDS:
        damage |= Q(description__icontains=word)
    if TrackingEvent.objects.filter(damage, shipment__order=order, occurred_at__lt=as_of).exists():
        names.add("damage_at_delivery")
    if delivered_at is None and shipped and not names & {"refused", "intercepted"}:
        names.add("not_delivered")
    if delivered_at is not None:
        since = as_of - delivered_at
        if since <= timedelta(days=2):
            names.add("delivered_within_2_days")
        if since <= timedelta(days=7):
            names.add("delivered_within_7_days")
        elif since > timedelta(days=30):
            names.add("delivered_over_30_days")
    return OrderSignals(names=frozenset(names), complaints=tuple(complaints))


def _history(sku_ids, category_ids, *, as_of) -> tuple[dict, dict, dict]:
    """Earlier requests per reason: for these SKUs, for their categories, overall (each request once)."""
    earlier = ReturnLine.objects.filter(request__created_at__lt=as_of)
    per_sku = (earlier.filter(order_line__sku_id__in=sku_ids).values("request__reason_id")
               .annotate(n=Count("request", distinct=True)))
    per_category = (earlier.filter(order_line__sku__category_id__in=category_ids).values("request__reason_id")
                    .annotate(n=Count("request", distinct=True))) if category_ids else []
    overall = earlier.values("request__reason_id").annotate(n=Count("request", distinct=True))
    return tuple({row["request__reason_id"]: row["n"] for row in rows} for rows in (per_sku, per_category, overall))


def _shares(counts: dict[int, int]) -> tuple[dict[int, Decimal], int]:
    total = sum(counts.values())
    return {reason_id: Decimal(n) / (total + SMOOTHING) for reason_id, n in counts.items()}, total


def suggest_reasons(*, order, order_line_ids=None, as_of: datetime | None = None,
                    history_before: datetime | None = None, limit: int = TOP) -> list[Suggestion]:
    """The `limit` best-scoring active leaves for returning these lines of `order` (all its lines when
    none are named), from what was known at `as_of` (now by default); `history_before` cuts the
    reason history earlier (the held-out evaluation)."""
    as_of = as_of or timezone.now()
    lines = order.lines.select_related("sku")
    if order_line_ids:
        lines = lines.filter(pk__in=list(order_line_ids))
    sku_ids = sorted({line.sku_id for line in lines})
    category_ids = sorted({line.sku.category_id for line in lines if line.sku.category_id})
    leaves = _leaves()
    by_code = {leaf.code: leaf for leaf in leaves}
    scores = {leaf.pk: Suggestion(reason=leaf, score=Decimal(0)) for leaf in leaves}

    def add(leaf_id, signal, weight, **detail):
        if leaf_id in scores and weight:
            suggestion = scores[leaf_id]
            suggestion.score += weight
            suggestion.because.append({"signal": signal, "label": str(SIGNAL_LABELS[signal]),
                                       "weight": str(weight.quantize(Decimal("0.001"))), **detail})

    for signal, weight, counts in zip(("sku_history", "category_history", "overall_history"),
                                      (W_SKU, W_CATEGORY, W_OVERALL),
                                      _history(sku_ids, category_ids, as_of=history_before or as_of)):
        shares, total = _shares(counts)
        for leaf_id, share in shares.items():
            add(leaf_id, signal, weight * share, requests=counts[leaf_id], of=total)

    signals = order_signals(order, as_of=as_of)
    for signal in sorted(signals.names):
        for code, weight in SIGNAL_BOOSTS.get(signal, {}).items():
            if code in by_code:
                add(by_code[code].pk, signal, weight)
    complaint_text = " ".join(signals.complaints).lower()
    if complaint_text:
        for leaf in leaves:
            words = [word for word in leaf.keywords or [] if word.lower() in complaint_text]
            if words:
                add(leaf.pk, "complaint", COMPLAINT_WEIGHT, words=words)

    order_of = {leaf.pk: index for index, leaf in enumerate(leaves)}
    ranked = sorted(scores.values(), key=lambda s: (-s.score, order_of[s.reason.pk]))
    for suggestion in ranked:
        suggestion.because.sort(key=lambda b: -Decimal(b["weight"]))
    return ranked[:limit]


def evaluate(requests, *, split: float = 0.8) -> dict:
    """Top-1 and top-3 accuracy of the suggestions on held-out requests: requests sorted by creation,
    the last `1 - split` of them held out; each held-out request is scored with only the history
    before the first held-out one (so held-out answers never leak in), and its order's signals as
    they stood when it was created. Beside it, the baseline of always proposing the three reasons
    most common in that history."""
    requests = sorted(requests, key=lambda r: (r.created_at, r.pk))
    cut = int(len(requests) * split)
    train, held_out = requests[:cut], requests[cut:]
    if not train or not held_out:
        return {"train": len(train), "held_out": len(held_out), "top1": None, "top3": None, "baseline_top3": None}
    boundary = held_out[0].created_at
    leaves = {leaf.pk for leaf in _leaves()}
    popular = defaultdict(int)
    for request in train:
        if request.reason_id in leaves:
            popular[request.reason_id] += 1
    baseline = [reason_id for reason_id, _n in sorted(popular.items(), key=lambda item: (-item[1], item[0]))[:TOP]]
    top1 = top3 = base = 0
    for request in held_out:
        line_ids = [line.order_line_id for line in request.lines.all()]
        ranked = suggest_reasons(order=request.order, order_line_ids=line_ids, as_of=request.created_at,
                                 history_before=boundary)
        if ranked and ranked[0].reason.pk == request.reason_id:
            top1 += 1
        top3 += any(s.reason.pk == request.reason_id for s in ranked)
        base += request.reason_id in baseline
    n = len(held_out)
    return {"train": len(train), "held_out": n, "top1": round(top1 / n, 3), "top3": round(top3 / n, 3),
            "baseline_top3": round(base / n, 3),
            "other_held_out": sum(request.reason_id not in leaves for request in held_out)}
