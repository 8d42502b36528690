"""The agent's worklist: only the shops they serve, masked phones, one search box, complaints
waiting 24 hours highlighted, and a query count that does not grow with the rows."""
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.fulfillment.models import Carrier, Shipment
from apps.orders.models import OrderEvent
from apps.orders.services import order_record_complaint
from tests.factories import OrderFactory, ShopFactory, make_user

pytestmark = pytest.mark.django_db
URL = reverse("workbench:cs-orders")


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def agent(shop):
    return make_user("cs_agent", shops=[shop])


def rows(client, **params):
    page = client.get(URL, params)
    assert page.status_code == 200
    return page, list(page.context["page"].object_list)


def test_only_open_orders_of_served_shops_with_masked_phones(shop, agent):
    mine = OrderFactory(shop=shop, status="ready", receiver_phone="13912345678")
    OrderFactory(shop=shop, status="completed")
    OrderFactory(shop=ShopFactory(), status="ready")
    client = Client()
    client.force_login(agent)
    page, found = rows(client)
    assert found == [mine]
    html = page.content.decode()
    assert "139****5678" in html and "13912345678" not in html
    lead = make_user("cs_lead", shops=[shop])
    client.force_login(lead)
    assert "13912345678" in client.get(URL).content.decode()  # leads may see full numbers


def test_one_box_finds_phone_tail_order_number_and_tracking_number(shop, agent):
    by_phone = OrderFactory(shop=shop, status="ready", receiver_phone="13700004321")
    by_number = OrderFactory(shop=shop, status="ready", external_id="dy_7777000011112222")
    shipped = OrderFactory(shop=shop, status="in_transit")
    now = timezone.now()
    Shipment.objects.create(requested_at=now, order=shipped, carrier=Carrier.objects.get(code="zto"), request_id=uuid.uuid4(),
                            service_type="1", request_payload={}, weight=Decimal("1"), actor_label="system",
                            state="issued", tracking_number="ZT123456789", issued_at=now)
    client = Client()
    client.force_login(agent)
    assert rows(client, q="4321")[1] == [by_phone]
    assert rows(client, q="dy_7777")[1] == [by_number]
    assert rows(client, q="ZT123456789")[1] == [shipped]
    assert rows(client, q="nothing-like-this")[1] == []


def test_a_complaint_unanswered_for_a_day_is_highlighted(shop, agent):
    waiting, answered, fresh = (OrderFactory(shop=shop, status="in_transit") for _ in range(3))
    for order in (waiting, answered, fresh):
        event = order_record_complaint(order_id=order.pk, text="还没到", actor=agent)
        if order is not fresh:
            OrderEvent.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(hours=30))
    OrderEvent.objects.create(order=answered, type="note", name="hold_opened", actor=agent, actor_label="a",
                              created_at=timezone.now() - timedelta(hours=2))
    client = Client()
    client.force_login(agent)
    page, found = rows(client)
    flags = {order.pk: order.awaiting_reply for order in found}
    assert flags == {waiting.pk: True, answered.pk: False, fresh.pk: False}
    assert {order.pk: order.last_complaint for order in found}[waiting.pk] == "还没到"
    assert page.content.decode().count('class="overdue-row"') == 1


def test_the_query_count_does_not_grow_with_the_rows(shop, agent, django_assert_max_num_queries):
    client = Client()
    client.force_login(agent)
    OrderFactory(shop=shop, status="ready")
    with django_assert_max_num_queries(12) as few:
        client.get(URL)
    for _ in range(20):
        OrderFactory(shop=shop, status="ready")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(URL)


def test_roles_without_orders_are_refused(shop):
    client = Client()
    client.force_login(make_user(None))
    assert client.get(URL).status_code == 403
    assert Client().get(URL).status_code == 302


def test_the_worklist_pages_without_counting_every_open_order(shop, agent, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    orders = [OrderFactory(shop=shop, status="ready") for _ in range(52)]
    client = Client()
    client.force_login(agent)
    with CaptureQueriesContext(connection) as captured:
        first = client.get(URL)
    assert not any("COUNT(" in q["sql"].upper() for q in captured.captured_queries)
    assert len(first.context["page"]) == 50 and first.context["page"].has_next()
    second = client.get(URL, {"page": 2})
    shown = {o.pk for o in first.context["page"]} | {o.pk for o in second.context["page"]}
    assert shown == {o.pk for o in orders} and not second.context["page"].has_next()
    assert client.get(URL, {"page": "nonsense"}).context["page"].number == 1
