"""Every write to returns. Each public service is one transaction given the acting `actor`: it
locks the return's order first (apps.orders.lock_objects.lock_order; requests and their lines are
never locked themselves), then — only when stock moves — the stock levels, all in one statement by
pk (apps.inventory.services.stock_return_in), and writes a ReturnEvent for the step. Creating a
request and settling it also leave a note on the order's own timeline (record_order_event).

Validation happens before the first write, so a refused request writes nothing (no rows, no files).
"""
from decimal import ROUND_HALF_UP, Decimal
from io import BytesIO
from uuid import uuid4

from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from apps.core.actors import actor_has_perm, actor_label, actor_user
from apps.core.errors import ValidationFailed
from apps.core.money import CENT, ZERO
from apps.inventory.models import StockLevel, StockMove
from apps.inventory.services import stock_return_in
from apps.orders.lock_objects import lock_order
from apps.orders.services import (
    order_create,
    order_pay,
    record_order_event,
    transition_locked_order,
)

from .errors import (
    InspectionInvalid,
    InvalidReturnKind,
    OrderNotShipped,
    PhotoNotImage,
    PhotoTooLarge,
    ReasonNotLeaf,
    ReasonTextRequired,
    ReturnAlreadyOpen,
    ReturnForbidden,
    ReturnLinesInvalid,
    ReturnNotFound,
    ReturnOriginUnknown,
    ReturnQuantityExceeded,
    ReturnTransitionNotAllowed,
    TooManyPhotos,
)
from .models import (
    InspectionOutcome,
    ReasonNode,
    ReturnEvent,
    ReturnKind,
    ReturnLine,
    ReturnPhoto,
    ReturnRequest,
)
from .selectors import line_return_totals

# Goods have left the warehouse: shipped and everything after it, refused and intercepted parcels
# included (they come back physically). Not "intercepting": the intercept's outcome is pending.
RETURNABLE_STATUSES = frozenset({"shipped", "in_transit", "out_for_delivery", "delivered", "completed",
                                 "refused", "intercepted"})
CREATE_PERMISSION = "returns.add_returnrequest"
MAX_PHOTOS = 6
MAX_PHOTO_BYTES = 5 * 1024 * 1024
IMAGE_TYPES = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp")}
MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"))

TRANSITION_PERMISSIONS: dict[str, str] = {
    t.name: t.permission for t in ReturnRequest._meta.get_field("state").get_all_transitions(ReturnRequest)
}
BUCKET_FOR_OUTCOME = {InspectionOutcome.GOOD: StockLevel.Bucket.SELLABLE,
                      InspectionOutcome.DAMAGED: StockLevel.Bucket.QUARANTINE,
                      InspectionOutcome.SCRAP: StockLevel.Bucket.QUARANTINE}


# --- helpers ------------------------------------------------------------------------------------

def _event(request, *, name, actor, from_state="", payload=None, at=None) -> ReturnEvent:
    return ReturnEvent.objects.create(request=request, name=name, from_state=from_state, to_state=request.state,
                                      actor=actor_user(actor), actor_label=actor_label(actor),
                                      payload=payload or {}, created_at=at or timezone.now())


def _lock(return_id: int) -> tuple:
    """Lock the return's order, then read the return (under that lock)."""
    order_id = ReturnRequest.objects.filter(pk=return_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise ReturnNotFound(details={"return_id": return_id})
    order = lock_order(order_id)
    return order, ReturnRequest.objects.select_related("reason").get(pk=return_id)


def _check_transition(request, name, actor):
    permission = TRANSITION_PERMISSIONS[name]
    if not actor_has_perm(actor, permission):
        raise ReturnForbidden(details={"transition": name, "permission": permission})
    available = sorted(t.name for t in request.get_available_state_transitions())
    if name not in available:
        raise ReturnTransitionNotAllowed(details={"transition": name, "state": request.state, "kind": request.kind,
                                                  "allowed": available})


def _apply(request, name, *, actor, payload=None, changes=None) -> ReturnRequest:
    _check_transition(request, name, actor)
    now = timezone.now()
    from_state = request.state
    getattr(request, name)()
    for field, value in (changes or {}).items():
        setattr(request, field, value)
    request.state_changed_at = now
    request.save()
    _event(request, name=name, actor=actor, from_state=from_state, payload=payload, at=now)
    return request


def _money(value) -> Decimal:
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


def _image_format(content: bytes) -> str | None:
    """The image format judged by content, never by name or declared type."""
    try:
        from PIL import Image
    except ImportError:  # pragma: no cover - Pillow is a dependency; the magic bytes are the fallback
        if content.startswith(b"RIFF") and content[8:12] == b"WEBP":
            return "WEBP"
        return next((fmt for magic, fmt in MAGIC if content.startswith(magic)), None)
    try:
        with Image.open(BytesIO(content)) as image:
            fmt = image.format
            image.verify()
    except Exception:  # noqa: BLE001 - anything Pillow cannot read (or a decompression bomb) is not a photo
        return None
    return fmt if fmt in IMAGE_TYPES else None


def _checked_photos(photos) -> list[tuple[bytes, str]]:
    photos = list(photos or [])
    if len(photos) > MAX_PHOTOS:
        raise TooManyPhotos(details={"count": len(photos), "max": MAX_PHOTOS})
    checked = []
    for index, photo in enumerate(photos):
        name = getattr(photo, "name", "") or f"photo {index + 1}"
        size = getattr(photo, "size", None)
        if size is None or size <= MAX_PHOTO_BYTES:
            if hasattr(photo, "seek"):
                photo.seek(0)
            content = photo.read(MAX_PHOTO_BYTES + 1) if hasattr(photo, "read") else bytes(photo)
            size = len(content)
        if size > MAX_PHOTO_BYTES:
            raise PhotoTooLarge(details={"index": index, "name": name, "size": size, "max_bytes": MAX_PHOTO_BYTES})
        fmt = _image_format(content)
        if fmt is None:
            raise PhotoNotImage(details={"index": index, "name": name, "allowed": sorted(IMAGE_TYPES)})
        checked.append((content, fmt))
    return checked


def _leaf_reason(reason_code) -> ReasonNode:
    reason = ReasonNode.objects.filter(code=reason_code or "", is_active=True).first()
    if reason is None or reason.children.filter(is_active=True).exists():
        raise ReasonNotLeaf(details={"reason": reason_code})
    return reason


def _requested_lines(lines) -> dict[int, int]:
    problems = []
    wanted = {}
    for index, line in enumerate(lines or []):
        line_id = line.get("order_line_id") if isinstance(line, dict) else None
        quantity = line.get("quantity") if isinstance(line, dict) else None
        if not isinstance(line_id, int) or isinstance(line_id, bool):
            problems.append({"index": index, "code": "order_line_required"})
        elif line_id in wanted:
            problems.append({"index": index, "order_line_id": line_id, "code": "duplicate_line"})
        elif not isinstance(quantity, int) or isinstance(quantity, bool) or quantity <= 0:
            problems.append({"index": index, "order_line_id": line_id, "code": "invalid_quantity"})
        else:
            wanted[line_id] = quantity
    if not lines:
        problems.append({"code": "no_lines"})
    if problems:
        raise ReturnLinesInvalid(details={"problems": problems})
    return wanted


# --- creating -----------------------------------------------------------------------------------

@transaction.atomic
def return_create(*, order_id: int, kind: str, lines, reason_code: str, reason_text: str = "", photos=(),
                  actor) -> ReturnRequest:
    """Open a return on a shipped order: kind, lines [{order_line_id, quantity}], an active leaf
    reason (text required for "other" leaves), up to 6 photos. Each line returns at most what was
    shipped minus what other requests (any but rejected) already return, and no line may be in
    another open request. Refused as a whole with a coded error; nothing is written then."""
    if not actor_has_perm(actor, CREATE_PERMISSION):
        raise ReturnForbidden(details={"permission": CREATE_PERMISSION})
    if kind not in ReturnKind.values:
        raise InvalidReturnKind(details={"kind": kind, "allowed": ReturnKind.values})
    reason = _leaf_reason(reason_code)
    reason_text = (reason_text or "").strip()
    if reason.requires_text and not reason_text:
        raise ReasonTextRequired(details={"reason": reason.code})
    wanted = _requested_lines(lines)
    checked_photos = _checked_photos(photos)

    order = lock_order(order_id)
    if order.status not in RETURNABLE_STATUSES:
        raise OrderNotShipped(details={"order_id": order.pk, "status": order.status})
    order_lines = {line.pk: line for line in order.lines.select_related("sku")}
    foreign = sorted(set(wanted) - set(order_lines))
    if foreign:
        raise ReturnLinesInvalid(details={"problems": [{"order_line_id": pk, "code": "not_on_order"}
                                                       for pk in foreign]})

    totals = line_return_totals(wanted)
    open_requests = {pk: t.open_request_ids for pk, t in totals.items() if t.open_request_ids}
    if open_requests:
        raise ReturnAlreadyOpen(details={"lines": [
            {"order_line_id": pk, "line_no": order_lines[pk].line_no, "return_ids": sorted(ids)}
            for pk, ids in sorted(open_requests.items())]})
    returned = {pk: totals[pk].returned for pk in wanted}
    # An order ships whole (issue_for_order refuses a partly reserved order), so a shipped line's
    # shipped quantity is its ordered quantity.
    exceeded = []
    for pk, quantity in sorted(wanted.items()):
        line = order_lines[pk]
        returnable = line.quantity - returned[pk]
        if quantity > returnable:
            exceeded.append({"order_line_id": pk, "line_no": line.line_no, "sku": line.sku.code,
                             "requested": quantity, "shipped": line.quantity, "already_returned": returned[pk],
                             "returnable": max(returnable, 0)})
    if exceeded:
        raise ReturnQuantityExceeded(details={"lines": exceeded})

    now = timezone.now()
    request = ReturnRequest.objects.create(order=order, kind=kind, reason=reason, reason_text=reason_text,
                                           state_changed_at=now, created_by=actor_user(actor))
    ReturnLine.objects.bulk_create(ReturnLine(request=request, order_line_id=pk, quantity=quantity)
                                   for pk, quantity in sorted(wanted.items()))
    for content, fmt in checked_photos:
        content_type, extension = IMAGE_TYPES[fmt]
        photo = ReturnPhoto(request=request, content_type=content_type, size_bytes=len(content))
        photo.image.save(f"{uuid4().hex}.{extension}", ContentFile(content), save=False)
        photo.save()
    payload = {"kind": kind, "reason": reason.code, "lines": {str(pk): q for pk, q in sorted(wanted.items())},
               "photos": len(checked_photos)}
    _event(request, name="create", actor=actor, payload=payload, at=now)
    record_order_event(order, name="return_requested", actor=actor,
                       payload={"return_id": request.pk, "kind": kind, "reason": reason.code})
    return request


# --- deciding -----------------------------------------------------------------------------------

@transaction.atomic
def return_approve(*, return_id: int, actor, note: str = "") -> ReturnRequest:
    _order, request = _lock(return_id)
    return _apply(request, "approve", actor=actor, payload={"note": note} if note else None)


@transaction.atomic
def return_reject(*, return_id: int, actor, reason: str) -> ReturnRequest:
    _order, request = _lock(return_id)
    _check_transition(request, "reject", actor)
    if not (reason or "").strip():
        raise ValidationFailed(code="rejection_reason_required", details={"reason": reason})
    return _apply(request, "reject", actor=actor, payload={"reason": reason.strip()})


@transaction.atomic
def return_await(*, return_id: int, actor, tracking_no: str = "") -> ReturnRequest:
    """The buyer has been told where to send the goods (optionally the parcel's tracking number)."""
    _order, request = _lock(return_id)
    return _apply(request, "await_return", actor=actor, payload={"tracking_no": tracking_no},
                  changes={"return_tracking_no": tracking_no[:64]} if tracking_no else None)


# --- the goods ----------------------------------------------------------------------------------

@transaction.atomic
def return_receive(*, return_id: int, actor, tracking_no: str = "") -> ReturnRequest:
    """The parcel has arrived at the warehouse. Stock is not touched yet: units enter stock at
    inspection, when it is known which bucket they belong in."""
    _order, request = _lock(return_id)
    changes = {"return_tracking_no": tracking_no[:64]} if tracking_no else None
    return _apply(request, "receive", actor=actor, payload={"tracking_no": tracking_no} if tracking_no else None,
                  changes=changes)


def _origins(order, line) -> list[tuple[int, int | None, int]]:
    """Where the order line's units left from: (warehouse_id, batch_id, quantity) per issue ledger
    line, latest first. Without one (an order shipped before the ledger) a batch-less SKU goes back
    to the order's warehouse; a batch-tracked one cannot be placed."""
    issued = (StockMove.objects.filter(type=StockMove.Type.ISSUE, reservation__order_line_id=line.order_line_id)
              .values_list("stock_level__warehouse_id", "stock_level__batch_id", "on_hand_delta").order_by("-pk"))
    origins = [(warehouse_id, batch_id, -delta) for warehouse_id, batch_id, delta in issued if delta < 0]
    if origins:
        return origins
    sku = line.order_line.sku
    if sku.batch_tracked or order.warehouse_id is None:
        raise ReturnOriginUnknown(details={"order_line_id": line.order_line_id, "sku": sku.code})
    return [(order.warehouse_id, None, line.quantity)]


@transaction.atomic
def return_inspect(*, return_id: int, outcomes, actor) -> ReturnRequest:
    """Judge each returned line: `outcomes` [{return_line_id, outcome}] with outcome good (back to the
    batch it shipped from, sellable, ledger `return_in`), damaged (that batch's quarantine level) or
    scrap (taken in and written off, ledger `return_in` + `scrap`). Every line exactly once."""
    order, request = _lock(return_id)
    _check_transition(request, "inspect", actor)
    lines = {line.pk: line for line in request.lines.select_related("order_line__sku")}
    given, problems = {}, []
    for index, item in enumerate(outcomes or []):
        line_id = item.get("return_line_id") if isinstance(item, dict) else None
        outcome = item.get("outcome") if isinstance(item, dict) else None
        if line_id not in lines or line_id in given:
            problems.append({"index": index, "return_line_id": line_id, "code": "unknown_or_repeated_line"})
        elif outcome not in InspectionOutcome.values:
            problems.append({"index": index, "return_line_id": line_id, "code": "unknown_outcome",
                             "allowed": InspectionOutcome.values})
        else:
            given[line_id] = outcome
    missing = sorted(set(lines) - set(given))
    if missing:
        problems.append({"code": "missing_lines", "return_line_ids": missing})
    if problems:
        raise InspectionInvalid(details={"problems": problems})

    items = []
    for line_id, line in sorted(lines.items()):
        outcome = given[line_id]
        left = line.quantity
        for warehouse_id, batch_id, issued in _origins(order, line):
            take = min(left, issued)
            if take <= 0:
                break
            items.append({"warehouse_id": warehouse_id, "sku_id": line.order_line.sku_id, "batch_id": batch_id,
                          "quantity": take, "bucket": BUCKET_FOR_OUTCOME[outcome],
                          "scrap": outcome == InspectionOutcome.SCRAP})
            left -= take
        if left:  # more returned than the ledger issued: the rest goes where the last units left from
            items[-1]["quantity"] += left
    stock_return_in(items=items, actor=actor, order_id=order.pk, reference=f"return:{request.pk}",
                    note=request.reason.code)
    for line_id, outcome in given.items():
        lines[line_id].outcome = outcome
    ReturnLine.objects.bulk_update(lines.values(), ["outcome"])
    return _apply(request, "inspect", actor=actor, payload={"outcomes": {str(pk): o for pk, o in sorted(given.items())}})


# --- settling -----------------------------------------------------------------------------------

@transaction.atomic
def return_refund(*, return_id: int, actor) -> ReturnRequest:
    """Record the refund: per line, the paid line total divided by its quantity times the returned
    quantity, computed cumulatively per order line (what all refunded returns of the line come to,
    rounded half up to the cent, minus what earlier refunds already paid), so a line's refunds never
    exceed its total and add up to it exactly once all of it is returned. The request's total is
    capped at what the order's buyer paid minus earlier refunds."""
    order, request = _lock(return_id)
    _check_transition(request, "refund", actor)
    lines = list(request.lines.select_related("order_line").order_by("order_line__line_no"))
    already_refunded = ReturnRequest.objects.filter(order=order, refunded_at__isnull=False).exclude(
        pk=request.pk).aggregate(total=Sum("refund_amount"))["total"] or ZERO
    left_to_refund = max(_money(order.paid_amount) - _money(already_refunded), ZERO)
    total = ZERO
    for line in lines:
        order_line = line.order_line
        prior = ReturnLine.objects.filter(order_line=order_line, request__refunded_at__isnull=False).exclude(
            request=request).aggregate(quantity=Sum("quantity"), amount=Sum("refund_amount"))
        prior_quantity, prior_amount = prior["quantity"] or 0, _money(prior["amount"] or ZERO)
        cumulative = _money(Decimal(order_line.line_total) * (prior_quantity + line.quantity) / order_line.quantity)
        amount = min(max(cumulative - prior_amount, ZERO), left_to_refund - total)
        line.refund_amount = amount
        total += amount
    ReturnLine.objects.bulk_update(lines, ["refund_amount"])
    now = timezone.now()
    _apply(request, "refund", actor=actor, changes={"refund_amount": total, "refunded_at": now},
           payload={"amount": str(total), "lines": {str(line.pk): str(line.refund_amount) for line in lines}})
    record_order_event(order, name="return_refunded", actor=actor,
                       payload={"return_id": request.pk, "amount": str(total)})
    return request


def _linked_order_data(order, request, lines, *, suffix: str, priced: bool) -> dict:
    order_lines = []
    for line in lines:
        source = line.order_line
        if priced:  # what the buyer paid for the returned units
            value = _money(Decimal(source.line_total) * line.quantity / source.quantity)
            unit_price = source.unit_price
            discount = max(_money(Decimal(unit_price) * line.quantity) - value, ZERO)
        else:
            value = unit_price = discount = ZERO
        order_lines.append({"sku": source.sku, "quantity": line.quantity, "unit_price": unit_price,
                            "discount": discount, "line_total": value})
    # The original number with a suffix counting this order's linked orders: -EX1, -RS2 …
    sequence = ReturnRequest.objects.filter(order=order, linked_order__isnull=False).count() + 1
    tail = f"-{suffix}{sequence}"
    data = {
        "external_id": order.external_id[:64 - len(tail)] + tail,
        "customer": order.customer,
        "buyer": {"nickname": order.buyer_nickname},
        "address": {"receiver": order.receiver_name, "phone": order.receiver_phone, "province": order.province,
                    "city": order.city, "district": order.district, "detail": order.address_detail,
                    "postal_code": order.postal_code},
        "lines": order_lines,
        "shipping_fee": ZERO,
        "discount_total": ZERO,
        "seller_remark": f"return R{request.pk} of {order.external_id} ({request.kind})",
    }
    return data


def _create_linked_order(order, request, *, suffix: str, priced: bool, actor):
    """The outbound order through the normal intake service (reserved at once, reviewed like any
    other), entered by the system on the return's behalf: the person settling the return is named
    in the events, not as the order's creator (who could then not approve it). A zero-value order
    is confirmed so that it never expires unpaid. The new order is invisible to other transactions
    until commit, so taking it after the original order and its stock levels cannot deadlock."""
    lines = list(request.lines.select_related("order_line__sku").order_by("order_line__line_no"))
    data = _linked_order_data(order, request, lines, suffix=suffix, priced=priced)
    created = order_create(shop=order.shop, data=data, actor=None).order
    if created.grand_total > ZERO:  # settled by the returned goods: paid now, in full
        created = order_pay(order_id=created.pk, actor=None)
    else:
        created = transition_locked_order(lock_order(created.pk), name="confirm", actor=None,
                                          reason=f"return R{request.pk}")
    record_order_event(created, name="created_from_return", actor=actor,
                       payload={"return_id": request.pk, "original_order_id": order.pk, "kind": request.kind})
    return created


@transaction.atomic
def return_exchange(*, return_id: int, actor) -> ReturnRequest:
    """After inspection: a linked outbound order for the same SKUs and quantities, priced at what
    the buyer paid for the returned units and marked paid (the returned goods settle it)."""
    order, request = _lock(return_id)
    _check_transition(request, "exchange", actor)
    linked = _create_linked_order(order, request, suffix="EX", priced=True, actor=actor)
    _apply(request, "exchange", actor=actor, changes={"linked_order": linked},
           payload={"linked_order_id": linked.pk, "external_id": linked.external_id})
    record_order_event(order, name="return_exchanged", actor=actor,
                       payload={"return_id": request.pk, "linked_order_id": linked.pk})
    return request


@transaction.atomic
def return_reship(*, return_id: int, actor) -> ReturnRequest:
    """After approval: a linked zero-price order sending the lines again (nothing comes back)."""
    order, request = _lock(return_id)
    _check_transition(request, "reship", actor)
    linked = _create_linked_order(order, request, suffix="RS", priced=False, actor=actor)
    _apply(request, "reship", actor=actor, changes={"linked_order": linked},
           payload={"linked_order_id": linked.pk, "external_id": linked.external_id})
    record_order_event(order, name="return_reshipped", actor=actor,
                       payload={"return_id": request.pk, "linked_order_id": linked.pk})
    return request


@transaction.atomic
def return_close(*, return_id: int, actor, note: str = "") -> ReturnRequest:
    _order, request = _lock(return_id)
    return _apply(request, "close", actor=actor, payload={"note": note} if note else None)


# The steps by name with their form values (note, reason, tracking_no, outcomes): the API and the
# pages take the same steps the same way.
STEP_SERVICES = {
    "approve": lambda rid, actor, v: return_approve(return_id=rid, actor=actor, note=v["note"]),
    "reject": lambda rid, actor, v: return_reject(return_id=rid, actor=actor, reason=v["reason"]),
    "await_return": lambda rid, actor, v: return_await(return_id=rid, actor=actor, tracking_no=v["tracking_no"]),
    "receive": lambda rid, actor, v: return_receive(return_id=rid, actor=actor, tracking_no=v["tracking_no"]),
    "inspect": lambda rid, actor, v: return_inspect(
        return_id=rid, actor=actor, outcomes=[dict(item) for item in v.get("outcomes", [])]),
    "refund": lambda rid, actor, v: return_refund(return_id=rid, actor=actor),
    "exchange": lambda rid, actor, v: return_exchange(return_id=rid, actor=actor),
    "reship": lambda rid, actor, v: return_reship(return_id=rid, actor=actor),
    "close": lambda rid, actor, v: return_close(return_id=rid, actor=actor, note=v["note"]),
}
