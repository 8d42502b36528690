"""Finance pages: orders by payment state, refunds waiting to be paid, receivables by credit
customer. Scoped to the shops the person serves (apps.orders.selectors); an unknown or
out-of-scope customer is a 404."""
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from apps.core.errors import DomainError
from apps.orders.models import PaymentStatus
from apps.orders.selectors import customer_receivable, orders_by_payment_state, payment_state_counts, receivables
from apps.returns.selectors import refunds_waiting

from .views import pager_query

FINANCE = "orders.view_finance"
PAGE_SIZE = 50


@login_required
@permission_required(FINANCE, raise_exception=True)
@require_GET
def payments(request):
    state = request.GET.get("state") or PaymentStatus.UNPAID
    if state not in PaymentStatus.values:
        raise Http404
    counts = payment_state_counts(actor=request.user)
    tabs = [{"state": value, "label": label, "count": counts.get(value, 0)} for value, label in PaymentStatus.choices]
    page = Paginator(orders_by_payment_state(actor=request.user, state=state), PAGE_SIZE).get_page(
        request.GET.get("page"))
    return render(request, "workbench/finance/payments.html",
                  {"tabs": tabs, "state": state, "page": page, "pager_query": pager_query(request)})


@login_required
@permission_required(FINANCE, raise_exception=True)
@require_GET
def refunds(request):
    page = Paginator(refunds_waiting(actor=request.user), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "workbench/finance/refunds.html", {"page": page, "pager_query": pager_query(request)})


@login_required
@permission_required(FINANCE, raise_exception=True)
@require_GET
def receivable_list(request):
    return render(request, "workbench/finance/receivables.html", {"rows": receivables(actor=request.user)})


@login_required
@permission_required(FINANCE, raise_exception=True)
@require_GET
def receivable_detail(request, customer_id):
    try:
        receivable = customer_receivable(actor=request.user, customer_id=customer_id)
    except DomainError:
        raise Http404 from None
    return render(request, "workbench/finance/receivable_detail.html", receivable)
