"""Reason analytics: distribution by category, reason and SKU over a date range, the share of "other"."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.returns import services
from apps.returns.models import ReturnRequest
from tests.factories import SKUFactory, make_user

pytestmark = pytest.mark.django_db


def open_return(ship_order, people, sku, reason, quantity=1, text=""):
    order = ship_order({sku: (2, Decimal("20.00"))})
    return services.return_create(order_id=order.pk, kind="refund_only", reason_code=reason, reason_text=text,
                                  lines=[{"order_line_id": order.lines.get().pk, "quantity": quantity}],
                                  actor=people["agent"])


def test_distribution_and_the_share_of_other(ship_order, sku, people):
    kettle = SKUFactory(code="KETTLE")
    open_return(ship_order, people, sku, "logistics.crushed", quantity=2)
    open_return(ship_order, people, sku, "logistics.crushed")
    open_return(ship_order, people, kettle, "product.functional_fault")
    open_return(ship_order, people, kettle, "product.other", text="壶盖颜色和图片不一样")
    old = open_return(ship_order, people, kettle, "buyer.changed_mind")
    ReturnRequest.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=40))

    client = APIClient()
    client.force_authenticate(people["lead"])
    today = timezone.localdate()
    body = client.get("/api/v1/returns/analytics/",
                      {"since": str(today - timedelta(days=30)), "until": str(today)}).json()

    assert (body["requests"], body["other_requests"], body["other_share"]) == (4, 1, 25.0)
    assert [(c["category"], c["requests"], c["units"]) for c in body["by_category"]] == [
        ("logistics", 2, 3), ("product", 2, 2)]
    assert [(r["reason"], r["requests"], r["is_other"]) for r in body["by_reason"]] == [
        ("logistics.crushed", 2, False), ("product.functional_fault", 1, False), ("product.other", 1, True)]
    assert [(s["sku"], s["reason"], s["units"]) for s in body["by_sku"]] == [
        ("KETTLE", "product.functional_fault", 1), ("KETTLE", "product.other", 1),
        (sku.code, "logistics.crushed", 3)]


def test_analytics_are_scoped_and_validated(ship_order, sku, people):
    open_return(ship_order, people, sku, "logistics.crushed")
    outsider = APIClient()
    outsider.force_authenticate(make_user("cs_lead"))  # serves no shop
    today = str(timezone.localdate())
    assert outsider.get("/api/v1/returns/analytics/", {"since": today, "until": today}).json()["requests"] == 0
    bad = outsider.get("/api/v1/returns/analytics/", {"since": today, "until": "2000-01-01"})
    assert bad.status_code == 400 and bad.json()["code"] == "validation_failed"
    clerk = APIClient()
    clerk.force_authenticate(make_user("warehouse_clerk"))  # works no warehouse, serves no shop
    assert clerk.get("/api/v1/returns/analytics/", {"since": today, "until": today}).json()["requests"] == 0
