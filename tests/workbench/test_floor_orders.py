"""The clerk's orders on the floor: the operational columns from the real flow (wave, picker,
packer, batch and expiry, weight, carrier, tracking number, label printed, address lock), scope,
and a query count that does not grow with the rows."""
import uuid

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.fulfillment import services
from apps.fulfillment.models import Carrier, Shipment
from apps.fulfillment.selectors import next_task
from tests.factories import ShopFactory, make_user
from tests.fulfillment.factories import SenderProfileFactory, ready_order, stocked_sku

pytestmark = pytest.mark.django_db
URL = reverse("workbench:warehouse-orders")


@pytest.fixture
def floor():
    shop = ShopFactory()
    warehouse = shop.default_warehouse
    SenderProfileFactory(warehouse=warehouse)
    clerk = make_user("warehouse_clerk", username="clerk-a", warehouses=[warehouse])
    food = stocked_sku(warehouse, location="B-02-1", lot="L2405A", expires_in_days=300, barcode="6901234567892")
    return shop, warehouse, clerk, food


def picked_and_packed(shop, warehouse, clerk, food, n=1):
    orders = [ready_order(shop, {food: 1}) for _ in range(n)]
    wave = services.wave_create(warehouse_id=warehouse.pk, actor=clerk).wave
    while (task := next_task(wave_id=wave.pk)) is not None:
        services.pick_scan(wave_id=wave.pk, barcode=food.barcode, lot_number="L2405A", quantity=task.quantity,
                           task_id=task.pk, actor=clerk)
    for order in orders:
        services.order_pack(order_id=order.pk, actor=clerk, weight_grams=1250, length_mm=300, width_mm=200,
                            height_mm=100)
    return wave, orders


def test_the_columns_come_from_the_real_flow(floor):
    shop, warehouse, clerk, food = floor
    wave, (order,) = picked_and_packed(shop, warehouse, clerk, food)
    client = Client()
    client.force_login(clerk)
    page = client.get(URL, {"status": "packed"})
    (row,) = page.context["rows"]
    assert row["order"] == order and row["wave"] == wave
    assert row["picker"] == "clerk-a" and row["packer"] == "clerk-a" and row["weight_grams"] == 1250
    assert [lot for lot, _expires in row["lots"]] == ["L2405A"]
    assert str(row["address_lock"]) in ("locked", "已锁定")
    assert row["shipment"] is None and row["label_printed_at"] is None
    html = page.content.decode()
    assert wave.code in html and "L2405A" in html and "1250 g" in html


def test_a_label_print_is_recorded_once(floor):
    shop, warehouse, clerk, food = floor
    _wave, (order,) = picked_and_packed(shop, warehouse, clerk, food)
    now = timezone.now()
    shipment = Shipment.objects.create(order=order, carrier=Carrier.objects.first(), state="issued", request_id=uuid.uuid4(), request_payload={}, requested_at=now, issued_at=now,
                                       service_type="standard",
                                       tracking_number="SF1000000001", weight="1.250", actor_label="x")
    assert services.shipments_mark_label_printed([shipment.pk]) == 1
    first = Shipment.objects.get(pk=shipment.pk).label_printed_at
    assert first is not None and services.shipments_mark_label_printed([shipment.pk]) == 0
    client = Client()
    client.force_login(clerk)
    (row,) = client.get(URL, {"status": "packed"}).context["rows"]
    assert row["shipment"].tracking_number == "SF1000000001" and row["label_printed_at"] == first


def test_other_warehouses_orders_are_not_listed_and_bad_tabs_are_404(floor):
    shop, warehouse, clerk, food = floor
    picked_and_packed(shop, warehouse, clerk, food)
    other = make_user("warehouse_clerk", warehouses=[ShopFactory().default_warehouse])
    client = Client()
    client.force_login(other)
    assert client.get(URL, {"status": "packed"}).context["rows"] == []
    assert client.get(URL, {"status": "cancelled"}).status_code == 404
    client.force_login(make_user("cs_agent", shops=[shop]))
    assert client.get(URL).status_code == 403


def test_the_query_count_does_not_grow_with_the_rows(floor, django_assert_max_num_queries):
    shop, warehouse, clerk, food = floor
    picked_and_packed(shop, warehouse, clerk, food, n=1)
    client = Client()
    client.force_login(clerk)
    client.get(URL, {"status": "packed"})
    with django_assert_max_num_queries(15) as few:
        client.get(URL, {"status": "packed"})
    picked_and_packed(shop, warehouse, clerk, food, n=4)
    with django_assert_max_num_queries(len(few.captured_queries)):
        page = client.get(URL, {"status": "packed"})
    assert len(page.context["rows"]) == 5
