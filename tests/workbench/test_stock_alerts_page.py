"""The stock alert list: the open alerts of the person's warehouses, the most urgent first, with the
figure that matters in words (days past or left, safety stock, cover), in Chinese and English."""
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.inventory.alerts import stock_alerts_refresh
from apps.inventory.models import StockAlert
from tests.factories import SKUFactory, WarehouseFactory, make_user, stock_up
from tests.inventory.conftest import days

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor():
    """One open alert of each kind in the clerk's warehouse, and an expired lot in another one."""
    mine, theirs = WarehouseFactory(code="HZ1"), WarehouseFactory(code="GZ2")
    milk = SKUFactory(code="MILK", name_zh="婴儿奶粉", batch_tracked=True, shelf_life_days=720, near_expiry_alert_days=30)
    stock_up(mine, milk, quantity=6, lot="OLD", expires_on=days(-4))
    stock_up(mine, milk, quantity=9, lot="SOON", expires_on=days(12))
    stock_up(mine, milk, quantity=3, lot="TODAY", expires_on=days(0))
    stock_up(mine, SKUFactory(code="BOWL", safety_stock=50), quantity=7)
    stock_up(theirs, milk, quantity=5, lot="THEIRS", expires_on=days(-1))
    stock_alerts_refresh()
    return make_user("warehouse_clerk", warehouses=[mine])


def rows(page: str) -> list[tuple[str, str]]:
    """(SKU code, the alert's note) of each row, in page order."""
    row = r'<tr class="alert-[a-z_]+">.*?<small class="note(?: overdue)?">([^<]+)</small></td>\s*<td>(\w+)<small>'
    return [(sku, note) for note, sku in re.findall(row, page, flags=re.S)]


def test_the_list_shows_the_most_urgent_first_and_only_the_clerks_warehouses(floor):
    client = Client()
    client.force_login(floor)

    page = client.get(reverse("workbench:stock-alerts")).content.decode()

    assert rows(page) == [("MILK", "已过期 4 天"), ("MILK", "今天到期"), ("MILK", "还剩 12 天"),
                          ("BOWL", "安全库存 50")]
    assert "THEIRS" not in page and "GZ2" not in page
    assert "批次已过期 <b>1</b>" in page and "批次临期 <b>2</b>" in page and "全部 <b>4</b>" in page


def test_a_kind_tab_lists_that_kind_only_and_english_reads_as_english(floor):
    client = Client()
    client.force_login(floor)

    near = client.get(reverse("workbench:stock-alerts"), {"kind": "near_expiry"}).content.decode()
    english = client.get(reverse("workbench:stock-alerts"), {"kind": "expired"},
                         HTTP_ACCEPT_LANGUAGE="en").content.decode()

    assert [note for _sku, note in rows(near)] == ["今天到期", "还剩 12 天"]
    assert rows(english) == [("MILK", "expired 4 days ago")] and "Stock alerts" in english


def test_a_replenishment_request_shows_its_cover_and_the_quantity_to_order(floor):
    alert = StockAlert.objects.filter(sku__code="BOWL").first()
    StockAlert.objects.create(kind="replenishment", warehouse=alert.warehouse, sku=alert.sku, available=7,
                              suggested_quantity=93, raised_at=timezone.now(),
                              details={"cover": "0.50", "daily_demand": "2.00"})
    client = Client()
    client.force_login(floor)

    page = client.get(reverse("workbench:stock-alerts"), {"kind": "replenishment"}).content.decode()

    assert rows(page) == [("BOWL", "可售 0.50 周，日均 2.00")] and '<td class="num">93</td>' in page
