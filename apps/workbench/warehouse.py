"""The warehouse clerk's pages: the wave list (with building a wave) and the scanner page of a wave.

The scanner page is made for a USB (keyboard-wedge) scanner on a 360-px handheld: the scanner types
the code into the focused input and presses Enter, which submits. With htmx the answer replaces
only the scan panel (the result, the next task, a fresh focused input); without it the form posts
and redirects back (the result waits in the session), so a reload never scans twice.
Views read through selectors and write through services; a coded error becomes the red message.
"""
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError, NotFound
from apps.fulfillment import documents, selectors, services
from apps.fulfillment.models import Carrier, Wave
from apps.fulfillment.models.picking import Urgency
from apps.orders.models import OrderStatus

PICK = "orders.pick_order"
UPCOMING = 5  # tasks listed after the next one, enough to walk ahead without scrolling


def _wave_or_404(user, wave_id) -> Wave:
    try:
        return selectors.wave_detail(actor=user, wave_id=wave_id)
    except DomainError:
        raise Http404 from None


def _result_key(wave_id) -> str:
    return f"scan-result:{wave_id}"


@login_required
@permission_required(PICK, raise_exception=True)
def wave_list(request):
    tab = request.GET.get("tab", Wave.State.PICKING)
    if tab not in Wave.State.values:
        tab = Wave.State.PICKING
    waves = list(selectors.wave_list(actor=request.user, state=tab)[:50])
    return render(request, "workbench/warehouse/wave_list.html", {
        "tab": tab, "waves": waves,
        "warehouses": selectors.warehouses_worked_by(request.user).order_by("code"),
        "carriers": Carrier.objects.filter(is_active=True).order_by("code"),
        "urgencies": Urgency.choices,
        "can_build": request.user.has_perm("fulfillment.add_wave"),
    })


@login_required
@permission_required(PICK, raise_exception=True)
@require_POST
def wave_build(request):
    post = request.POST
    cut_off = parse_datetime(post.get("cut_off", "")) if post.get("cut_off") else None
    if cut_off is not None and timezone.is_naive(cut_off):
        cut_off = timezone.make_aware(cut_off)  # a datetime-local field: the clerk's own time zone
    try:
        result = services.wave_create(warehouse_id=_int(post.get("warehouse")), actor=request.user,
                                      carrier_code=post.get("carrier") or None, urgency=post.get("urgency") or None,
                                      cut_off=cut_off, size_limit=_int(post.get("size_limit")))
    except DomainError as error:
        messages.error(request, error.message)
        return redirect("workbench:wave-list")
    wave = result.wave
    messages.success(request, _("Wave %(wave)s built with %(orders)d orders.") % {
        "wave": wave.code, "orders": wave.memberships.count()})
    for skipped in result.skipped:
        messages.warning(request, _("Order %(order)s skipped: %(why)s") % {"order": skipped["external_id"],
                                                                            "why": skipped["message"]})
    return redirect("workbench:wave-scan", wave_id=wave.pk)


def _visible_wave_id(user, wave_id) -> int:
    """The POST views' scope check: one indexed query, none of the detail page's counts."""
    try:
        return selectors.visible_wave_id(actor=user, wave_id=wave_id)
    except DomainError:
        raise Http404 from None


def _panel_context(request, wave, result=None) -> dict:
    # The next task and the few after it, in one read of the open tasks on the pick path.
    open_tasks = list(selectors.wave_tasks(wave).filter(state="open")[:UPCOMING + 1])
    task, upcoming = (open_tasks[0], open_tasks[1:]) if open_tasks else (None, [])
    units = selectors.wave_units(wave_id=wave.pk)
    return {"wave": wave, "task": task, "upcoming": upcoming, "units": units, "result": result,
            "percent": round(100 * units["picked"] / units["wanted"]) if units["wanted"] else 100}


@login_required
@permission_required(PICK, raise_exception=True)
def wave_scan(request, wave_id):
    wave = _wave_or_404(request.user, wave_id)
    result = request.session.pop(_result_key(wave.pk), None)
    return render(request, "workbench/warehouse/wave_scan.html", _panel_context(request, wave, result))


@login_required
@permission_required(PICK, raise_exception=True)
@require_POST
def wave_scan_submit(request, wave_id):
    wave_id = _visible_wave_id(request.user, wave_id)
    post = request.POST
    try:
        outcome = services.pick_scan(wave_id=wave_id, barcode=post.get("barcode", ""),
                                     lot_number=post.get("lot_number", ""), quantity=_int(post.get("quantity")) or 1,
                                     task_id=_int(post.get("task")), actor=request.user)
    except DomainError as error:
        result = {"ok": False, "code": error.code, "message": error.message}
    else:
        task = outcome.task
        result = {"ok": True, "code": "ok", "message": _("%(sku)s %(name)s × %(quantity)d confirmed (%(picked)d of %(wanted)d).") % {
            "sku": task.sku.code, "name": task.sku.name_zh, "quantity": outcome.quantity,
            "picked": task.picked_quantity, "wanted": task.quantity}}
        if outcome.order_finished:
            result["note"] = _("Order %(order)s is fully picked.") % {"order": task.order.external_id}
        elif outcome.order_waiting:
            result["note"] = _("Order %(order)s is picked but on hold: leave it for a warehouse lead.") % {
                "order": task.order.external_id}
        if outcome.wave_done:
            result["note"] = _("The wave is done.")
    return _answer(request, wave_id, result)


@login_required
@permission_required(PICK, raise_exception=True)
@require_POST
def task_short(request, wave_id, task_id):
    wave_id = _visible_wave_id(request.user, wave_id)
    if not selectors.wave_tasks(wave_id).filter(pk=_int(task_id)).exists():
        raise Http404
    found = _int(request.POST.get("found"))
    try:
        task = services.pick_short(task_id=int(task_id), found=found if found is not None else -1,
                                   reason=request.POST.get("reason", ""), actor=request.user)
    except DomainError as error:
        result = {"ok": False, "code": error.code, "message": error.message}
    else:
        result = {"ok": True, "code": "short", "message": _("Short pick of %(sku)s recorded (%(found)d of %(wanted)d); "
                                                            "the order is on hold for a warehouse lead.") % {
            "sku": task.sku.code, "found": task.found_quantity, "wanted": task.quantity}}
    return _answer(request, wave_id, result)


def _answer(request, wave_id, result):
    if request.htmx:
        wave = _wave_or_404(request.user, wave_id)  # progress after the scan
        return render(request, "workbench/warehouse/_scan_panel.html", _panel_context(request, wave, result))
    request.session[_result_key(wave_id)] = result
    return redirect(reverse("workbench:wave-scan", kwargs={"wave_id": wave_id}))


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# --- orders on the floor -------------------------------------------------------------------------

FLOOR_PAGE_SIZE = 50


def _floor_row(order) -> dict:
    """The clerk's columns for one order, from what warehouse_order_board fetched."""
    events = {event.name: event for event in order.floor_events}
    package = getattr(order, "package", None)
    shipment = order.live_shipments[0] if order.live_shipments else None
    lots = {(task.batch.lot_number, task.batch.expires_on) for task in order.live_tasks if task.batch_id}
    if order.status == "packed":
        lock = _("unlocked for one change") if order.address_unlocked_at else _("locked")
    elif order.status == "shipped":
        lock = _("with the carrier")
    else:
        lock = _("open")
    return {
        "order": order, "wave": order.memberships[0].wave if order.memberships else None,
        "picker": events["finish_picking"].actor_label if "finish_picking" in events else "",
        "packer": package.actor_label if package else "", "weight_grams": package.weight_grams if package else None,
        "lots": sorted(lots, key=lambda lot: (lot[1] is None, lot[1], lot[0])),
        "shipped_at": events["ship"].created_at if "ship" in events else None,
        "shipment": shipment, "label_printed_at": shipment.label_printed_at if shipment else None, "address_lock": lock,
    }


@login_required
@permission_required(PICK, raise_exception=True)
def floor_orders(request):
    """Orders being picked, picked, packed or shipped in the clerk's warehouses, with the columns
    a clerk works by: warehouse, wave, picker, packer, batch and expiry, package weight, outbound
    time, carrier, tracking number, label printed, address lock."""
    status = request.GET.get("status") or "packed"
    if status not in selectors.WAREHOUSE_BOARD_STATUSES:
        raise Http404
    page = Paginator(selectors.warehouse_order_board(actor=request.user, status=status),
                     FLOOR_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "workbench/warehouse/floor_orders.html", {
        "rows": [_floor_row(order) for order in page], "page": page, "status": status,
        "tabs": [(value, OrderStatus(value).label) for value in selectors.WAREHOUSE_BOARD_STATUSES],
        "pager_query": f"status={status}"})


# --- printed documents (apps.fulfillment.documents) --------------------------------------------------

WAVE_DOCUMENTS = {"wave": documents.WAVE_PARTS, "pick-list": ("pick_list",),
                  "packing-lists": ("packing_lists",), "labels": ("labels",)}
ORDER_DOCUMENTS = {"packing-list", "label", "commercial-invoice", "export-packing-list", "declaration-sheet"}


def _pdf(render, filename: str) -> HttpResponse:
    """The PDF inline; out of scope is 404, anything else coded (no waybill yet …) a 409 with its message."""
    try:
        pdf = render()
    except NotFound:
        raise Http404 from None
    except DomainError as exc:
        return HttpResponse(exc.message, status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{filename}.pdf"'
    return response


@login_required
@permission_required(PICK, raise_exception=True)
def wave_pdf(request, wave_id, part):
    if part not in WAVE_DOCUMENTS:
        raise Http404
    return _pdf(lambda: documents.wave_pdf(actor=request.user, wave_id=wave_id, parts=WAVE_DOCUMENTS[part]),
                f"W{wave_id:06d}-{part}")


@login_required
@permission_required(PICK, raise_exception=True)
def order_pdf(request, order_id, kind):
    if kind not in ORDER_DOCUMENTS:
        raise Http404
    if kind == "packing-list":
        render = lambda: documents.packing_list_pdf(actor=request.user, order_id=order_id)  # noqa: E731
    elif kind == "label":
        render = lambda: documents.shipping_label_pdf(actor=request.user, order_id=order_id)  # noqa: E731
    else:
        render = lambda: documents.customs_document_pdf(  # noqa: E731
            actor=request.user, order_id=order_id, kind=kind.replace("-", "_"))
    return _pdf(render, f"{order_id}-{kind}")
