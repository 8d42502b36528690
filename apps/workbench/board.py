"""The manager's board: open holds by type and age, and orders past their promised ship-by, over
the shops and warehouses the manager covers (apps.orders.selectors)."""
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from apps.orders.models import HoldType
from apps.orders.selectors import HOLD_AGES, open_holds, open_holds_by_type_and_age, orders_past_ship_by

from .views import pager_query

BOARD = "orders.view_operations_board"
PAGE_SIZE = 50


@login_required
@permission_required(BOARD, raise_exception=True)
@require_GET
def holds(request):
    now = timezone.now()
    hold_type = request.GET.get("type") if request.GET.get("type") in HoldType.values else None
    age = request.GET.get("age") if request.GET.get("age") in HOLD_AGES else None
    page = Paginator(open_holds(actor=request.user, type=hold_type, age=age, now=now), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "workbench/manager/holds.html", {
        "summary": open_holds_by_type_and_age(actor=request.user, now=now), "page": page, "now": now,
        "hold_type": hold_type, "age": age, "pager_query": pager_query(request)})


@login_required
@permission_required(BOARD, raise_exception=True)
@require_GET
def late_orders(request):
    now = timezone.now()
    page = Paginator(orders_past_ship_by(actor=request.user, now=now), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "workbench/manager/late_orders.html",
                  {"page": page, "now": now, "pager_query": pager_query(request)})
