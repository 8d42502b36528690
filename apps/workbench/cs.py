"""The customer-service agent's pages: the worklist (open orders of the shops they serve, five
columns, one search box for phone tail, order number or tracking number, complaints waiting 24 hours
highlighted) and the order page (lines, holds, the latest events, private notes, quick actions;
the full history and the buyer's other orders load on demand). Reads through apps.orders.selectors,
writes through services; personal data masked unless the role may see it; an order of a shop the
agent does not serve is a 404."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from apps.core.errors import DomainError
from apps.fulfillment.selectors import live_shipment
from apps.fulfillment.services import order_request_intercept
from apps.orders import services
from apps.orders.models import INTERCEPTABLE_STATUSES, TERMINAL_STATUSES, TRANSITION_LABELS, OrderEvent, hold_type_label
from apps.orders.selectors import (
    agent_order,
    agent_worklist,
    buyer_other_orders,
    can_read_cs_notes,
    can_view_personal_data,
    cs_notes,
    ensure_agent_order,
    order_timeline,
    receiver_shown,
)
from apps.returns.services import RETURNABLE_STATUSES

from .views import UncountedPage, pager_query

PAGE_SIZE = 50
VIEW = "orders.view_order"
EVENT_LABELS = {"cs_note_added": gettext_lazy("Private note added"), "marked_urgent": gettext_lazy("Marked urgent"),
                "complaint": gettext_lazy("Buyer complaint"), "warehouse_reassigned": gettext_lazy("Warehouse changed")}


def _labelled(events):
    """Each event with the words the timeline shows for it."""
    for event in events:
        if event.type in (OrderEvent.Type.HOLD_OPENED, OrderEvent.Type.HOLD_RELEASED):
            event.label = f"{event.get_type_display()}: {hold_type_label(event.name)}"
        else:
            event.label = (TRANSITION_LABELS.get(event.name) or EVENT_LABELS.get(event.name)
                           or event.get_type_display())
    return events


@login_required
@permission_required(VIEW, raise_exception=True)
def order_worklist(request):
    query = request.GET.get("q", "").strip()
    page = UncountedPage(agent_worklist(actor=request.user, query=query), request.GET.get("page"), PAGE_SIZE)
    full = can_view_personal_data(request.user)
    for order in page:
        order.phone_shown = receiver_shown(order, full=full)["phone"]
        order.can_return = order.status in RETURNABLE_STATUSES
    return render(request, "workbench/cs/order_list.html",
                  {"page": page, "query": query, "pager_query": pager_query(request)})


def _order_or_404(request, order_id):
    try:
        return agent_order(actor=request.user, order_id=order_id)
    except DomainError:
        raise Http404 from None


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def order_detail(request, order_id):
    order = _order_or_404(request, order_id)
    user = request.user
    full = can_view_personal_data(user)
    return render(request, "workbench/cs/order_detail.html", {
        "order": order,
        "receiver": receiver_shown(order, full=full),
        "address_detail": order.address_detail if full else None,
        "events": _labelled(order_timeline(order)),
        "notes": cs_notes(actor=user, order=order),
        "can_note": user.has_perm("orders.add_csnote"),
        "can_read_notes": can_read_cs_notes(user),
        "is_urgent": any(tag.tag == services.URGENT_TAG for tag in order.tags.all()),
        "can_mark_urgent": user.has_perm("orders.mark_urgent") and order.status not in TERMINAL_STATUSES,
        "can_intercept": user.has_perm("orders.intercept_order") and order.status in INTERCEPTABLE_STATUSES,
        "can_return": user.has_perm("returns.add_returnrequest") and order.status in RETURNABLE_STATUSES,
        "shipment": live_shipment(order),
    })


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def order_history(request, order_id):
    """Every event of the order (the page shows the latest few), loaded when asked for."""
    order = _order_or_404(request, order_id)
    return render(request, "workbench/cs/_timeline.html", {"events": _labelled(order_timeline(order, limit=None))})


@login_required
@permission_required(VIEW, raise_exception=True)
@require_GET
def order_buyer_orders(request, order_id):
    order = _order_or_404(request, order_id)
    others = buyer_other_orders(actor=request.user, order=order)
    return render(request, "workbench/cs/_buyer_orders.html", {"orders": others})


def _act(request, order_id, action, done_message):
    try:
        ensure_agent_order(actor=request.user, order_id=order_id)  # scope first: another shop's order is a 404
    except DomainError:
        raise Http404 from None
    try:
        action(order_id)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, done_message)
    if request.POST.get("back") == "list":  # a quick action from the worklist row
        return redirect("workbench:cs-orders")
    return redirect("workbench:cs-order-detail", order_id=order_id)


@login_required
@permission_required("orders.add_csnote", raise_exception=True)
@require_POST
def order_add_note(request, order_id):
    return _act(request, order_id, lambda pk: services.order_add_note(
        order_id=pk, body=request.POST.get("body", ""), actor=request.user), _("Note added."))


@login_required
@permission_required("orders.mark_urgent", raise_exception=True)
@require_POST
def order_mark_urgent(request, order_id):
    return _act(request, order_id, lambda pk: services.order_mark_urgent(
        order_id=pk, reason=request.POST.get("reason", ""), actor=request.user), _("Marked urgent."))


@login_required
@permission_required("orders.intercept_order", raise_exception=True)
@require_POST
def order_intercept(request, order_id):
    return _act(request, order_id, lambda pk: order_request_intercept(
        order_id=pk, reason=request.POST.get("reason", ""), actor=request.user),
        _("Intercept requested from the carrier."))
