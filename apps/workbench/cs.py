"""The customer-service agent's worklist: open orders of the shops they serve, five columns, one
search box (phone tail, order number, tracking number), orders whose complaint has waited 24 hours
highlighted. Reads through apps.orders.selectors; personal data masked unless the role may see it."""
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import render

from apps.orders.selectors import agent_worklist, can_view_personal_data, receiver_shown
from apps.returns.services import RETURNABLE_STATUSES

from .views import pager_query

PAGE_SIZE = 50


@login_required
@permission_required("orders.view_order", raise_exception=True)
def order_worklist(request):
    query = request.GET.get("q", "").strip()
    page = Paginator(agent_worklist(actor=request.user, query=query), PAGE_SIZE).get_page(request.GET.get("page"))
    full = can_view_personal_data(request.user)
    for order in page:
        order.phone_shown = receiver_shown(order, full=full)["phone"]
        order.can_return = order.status in RETURNABLE_STATUSES
    return render(request, "workbench/cs/order_list.html",
                  {"page": page, "query": query, "pager_query": pager_query(request)})
