"""The stock alert list: what the hourly refresh (apps.inventory.alerts) found open in the user's
warehouses, the most urgent first — lots to scrap, lots about to expire, places below safety stock,
replenishment requests with the quantity to order."""
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from apps.inventory import selectors
from apps.inventory.models import StockAlert

PAGE_SIZE = 50


def _note(alert: StockAlert, today) -> str:
    """The alert's figure in words; days counted from today, not from the last refresh."""
    if alert.kind in (StockAlert.Kind.EXPIRED, StockAlert.Kind.NEAR_EXPIRY) and alert.batch and alert.batch.expires_on:
        days = (alert.batch.expires_on - today).days
        if days < 0:
            return ngettext("expired %(days)d day ago", "expired %(days)d days ago", -days) % {"days": -days}
        if days == 0:
            return _("expires today")
        return ngettext("%(days)d day left", "%(days)d days left", days) % {"days": days}
    if alert.kind == StockAlert.Kind.REPLENISHMENT:
        return _("cover %(cover)s weeks, %(daily)s a day") % {"cover": alert.details.get("cover", "—"),
                                                              "daily": alert.details.get("daily_demand", "—")}
    return _("safety stock %(safety)s") % {"safety": alert.details.get("safety_stock", "—")}


@login_required
@permission_required("inventory.view_stockalert", raise_exception=True)
@require_GET
def stock_alerts(request):
    kind = request.GET.get("kind") if request.GET.get("kind") in StockAlert.Kind.values else None
    page = Paginator(selectors.stock_alerts_by_urgency(actor=request.user, kind=kind), PAGE_SIZE).get_page(
        request.GET.get("page"))
    counts = selectors.stock_alert_counts(actor=request.user)
    today = timezone.localdate()
    return render(request, "workbench/stock/alerts.html", {
        "rows": [(alert, _note(alert, today)) for alert in page], "page": page, "kind": kind,
        "tabs": [(value, StockAlert.Kind(value).label, counts.get(value, 0)) for value in selectors.ALERT_URGENCY],
        "total": sum(counts.values()), "pager_query": f"kind={kind}" if kind else ""})
