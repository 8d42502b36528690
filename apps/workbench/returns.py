"""After-sales pages: agents start and follow returns from the order, clerks receive and inspect the
goods, leads approve and settle. One detail page serves them all and shows each person only the
steps their permissions allow. Views read through selectors and write through services; a coded
error becomes the red message and the form keeps what was typed.
"""
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.core.errors import DomainError
from apps.orders.selectors import can_view_personal_data, orders_visible_to, receiver_shown
from apps.returns import selectors, services
from apps.returns.models import InspectionOutcome, ReturnKind, ReturnState
from apps.returns.services import MAX_PHOTOS, RETURNABLE_STATUSES, STEP_SERVICES
from apps.returns.suggestions import suggest_reasons

from .views import pager_query

VIEW = "returns.view_returnrequest"
CREATE = "returns.add_returnrequest"
PAGE_SIZE = 25
WAREHOUSE_STATES = (ReturnState.AWAITING_RETURN, ReturnState.RECEIVED)
STEP_LABELS = {
    "approve": gettext_lazy("Approve"), "reject": gettext_lazy("Reject"),
    "await_return": gettext_lazy("Tell the buyer where to send it"), "receive": gettext_lazy("Receive the parcel"),
    "inspect": gettext_lazy("Record the inspection"), "refund": gettext_lazy("Refund"),
    "exchange": gettext_lazy("Send the exchange"), "reship": gettext_lazy("Reship"), "close": gettext_lazy("Close"),
}
EVENT_LABELS = {**STEP_LABELS, "create": gettext_lazy("Started"), "await_return": gettext_lazy("Waiting for the parcel"),
                "receive": gettext_lazy("Parcel received"), "inspect": gettext_lazy("Inspected"),
                "exchange": gettext_lazy("Exchange sent"), "approve": gettext_lazy("Approved"),
                "reject": gettext_lazy("Rejected"), "refund": gettext_lazy("Refunded"), "close": gettext_lazy("Closed")}
LIST_TABS = {"open": [s for s in ReturnState.values if s not in (ReturnState.REJECTED, ReturnState.CLOSED)],
             "warehouse": list(WAREHOUSE_STATES), "finished": [ReturnState.REJECTED, ReturnState.CLOSED]}


def _order_or_404(user, order_id):
    order = orders_visible_to(user).select_related("shop", "customer").filter(pk=order_id).first()
    if order is None:
        raise Http404
    return order


def _receiver(user, order) -> dict:
    return receiver_shown(order, full=can_view_personal_data(user))


def _reason_groups() -> list[dict]:
    """Active leaves under their categories, for the reason picker."""
    groups = {}
    for leaf in selectors.active_leaves():
        groups.setdefault(leaf.category.pk, {"category": leaf.category, "leaves": []})["leaves"].append(leaf)
    return list(groups.values())


@login_required
@permission_required(VIEW, raise_exception=True)
def return_list(request):
    tab = request.GET.get("tab", "warehouse" if not request.user.has_perm(CREATE) else "open")
    if tab not in LIST_TABS:
        tab = "open"
    query = request.GET.get("q", "").strip()
    returns = selectors.return_list(actor=request.user, states=LIST_TABS[tab], query=query)
    if query and tab == "warehouse":  # a scanned parcel that names one return opens it
        found = list(returns.values_list("pk", flat=True)[:2])
        if len(found) == 1:
            return redirect("workbench:return-detail", return_id=found[0])
    page = Paginator(returns.select_related("order__shop"), PAGE_SIZE).get_page(request.GET.get("page"))
    # An order number leads to the order's returns page, where a return is started.
    order_hit = orders_visible_to(request.user).filter(external_id=query).first() if query else None
    return render(request, "workbench/returns/return_list.html", {"tab": tab, "page": page, "query": query,
                                                                   "order_hit": order_hit,
                                                                   "pager_query": pager_query(request)})


@login_required
@permission_required(VIEW, raise_exception=True)
def order_returns(request, order_id):
    """The order's returns and, for agents, the form that starts one, with three suggested reasons."""
    order = _order_or_404(request.user, order_id)
    context = {"order": order, "receiver": _receiver(request.user, order),
               "returns": selectors.return_list(actor=request.user, order_id=order.pk),
               "can_start": request.user.has_perm(CREATE) and order.status in RETURNABLE_STATUSES,
               "shipped": order.status in RETURNABLE_STATUSES, "form": {}, "max_photos": MAX_PHOTOS}
    if context["can_start"]:
        lines = selectors.returnable_lines(order)
        context.update(lines=lines, kinds=ReturnKind.choices, reason_groups=_reason_groups(),
                       suggestions=suggest_reasons(order=order))
    if request.method == "POST" and context["can_start"]:
        post = request.POST
        # A suggestion's radio and the full list share the name: whichever was picked.
        reason = next((code for code in post.getlist("reason") if code), "")
        wanted = []
        for row in context["lines"]:
            quantity = post.get(f"qty-{row['line'].pk}", "").strip()
            if quantity and quantity != "0":
                wanted.append({"order_line_id": row["line"].pk,
                               "quantity": int(quantity) if quantity.isdigit() else -1})
        try:
            created = services.return_create(order_id=order.pk, kind=post.get("kind", ""), lines=wanted,
                                             reason_code=reason, reason_text=post.get("reason_text", ""),
                                             photos=request.FILES.getlist("photos"), actor=request.user)
        except DomainError as error:
            messages.error(request, error.message)
            context["form"] = {"kind": post.get("kind", ""), "reason": reason,
                               "reason_text": post.get("reason_text", ""),
                               "quantities": {str(w["order_line_id"]): post.get(f"qty-{w['order_line_id']}")
                                              for w in wanted}}
            return render(request, "workbench/returns/order_returns.html", context, status=400)
        messages.success(request, _("Return R%(id)s started.") % {"id": created.pk})
        return redirect("workbench:return-detail", return_id=created.pk)
    return render(request, "workbench/returns/order_returns.html", context)


@login_required
@permission_required(VIEW, raise_exception=True)
def return_detail(request, return_id):
    try:
        return_request = selectors.return_detail(actor=request.user, return_id=return_id)
    except DomainError:
        raise Http404 from None
    order = return_request.order
    for event in return_request.events.all():
        event.label = EVENT_LABELS.get(event.name, event.name)
    return render(request, "workbench/returns/return_detail.html", {
        "r": return_request, "order": order, "receiver": _receiver(request.user, order),
        "steps": [(step, STEP_LABELS[step]) for step in selectors.steps_for(request.user, return_request)],
        "outcomes": InspectionOutcome.choices,
    })


@login_required
@permission_required(VIEW, raise_exception=True)
@require_POST
def return_step(request, return_id, step):
    try:
        return_request = selectors.return_detail(actor=request.user, return_id=return_id)
    except DomainError:
        raise Http404 from None
    if step not in STEP_SERVICES:
        raise Http404
    post = request.POST
    values = {"note": post.get("note", ""), "reason": post.get("reason", ""),
              "tracking_no": post.get("tracking_no", "").strip(),
              "outcomes": [{"return_line_id": line.pk, "outcome": post.get(f"outcome-{line.pk}", "")}
                           for line in return_request.lines.all()]}
    try:
        STEP_SERVICES[step](return_request.pk, request.user, values)
    except DomainError as error:
        messages.error(request, error.message)
    else:
        messages.success(request, _("Done: %(step)s.") % {"step": STEP_LABELS.get(step, step)})
    return redirect("workbench:return-detail", return_id=return_request.pk)


@login_required
@permission_required(VIEW, raise_exception=True)
def return_photo(request, return_id, photo_id):
    """A photo, only for whoever may see the return (never a public media URL)."""
    try:
        photo = selectors.return_photo(actor=request.user, return_id=return_id, photo_id=photo_id)
    except DomainError:
        raise Http404 from None
    return FileResponse(photo.image.open("rb"), content_type=photo.content_type)
