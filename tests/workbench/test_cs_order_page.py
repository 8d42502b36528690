"""The agent's order page: scoped (another shop's order is a 404 on every URL), masked personal
data, private notes only for customer service and encrypted at rest, quick actions through the
services, sections loaded on demand, and a query count that does not grow with the history."""
import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils.translation import gettext as _

from apps.core.errors import ValidationFailed

from apps.orders.models import CsNote, OrderEvent, OrderTag
from apps.orders.services import order_add_note, order_record_complaint
from tests.factories import OrderFactory, ShopFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def order(shop):
    return OrderFactory(shop=shop, status="ready", receiver_phone="13912345678")


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def detail(order):
    return reverse("workbench:cs-order-detail", args=[order.pk])


def test_the_page_shows_lines_holds_and_the_latest_events_with_the_phone_masked(shop, order):
    order_record_complaint(order_id=order.pk, text="快递太慢了", actor=make_user("cs_agent", shops=[shop]))
    page = client_for(make_user("cs_agent", shops=[shop])).get(detail(order))
    assert page.status_code == 200
    html = page.content.decode()
    assert order.external_id in html and "139****5678" in html and "13912345678" not in html
    assert "文三路" not in html  # the street is personal data too
    assert "快递太慢了" in html and order.lines.get().sku.code in html
    lead_html = client_for(make_user("cs_lead", shops=[shop])).get(detail(order)).content.decode()
    assert "13912345678" in lead_html and "文三路" in lead_html


def test_another_shops_order_is_404_on_every_url_of_the_page(order):
    stranger = client_for(make_user("cs_agent", shops=[ShopFactory()]))
    for name in ("cs-order-detail", "cs-order-history", "cs-order-buyer-orders"):
        assert stranger.get(reverse(f"workbench:{name}", args=[order.pk])).status_code == 404
    for name in ("cs-order-note", "cs-order-urgent", "cs-order-intercept"):
        assert stranger.post(reverse(f"workbench:{name}", args=[order.pk]), {"body": "x", "reason": "x"}).status_code == 404
    assert not CsNote.objects.exists() and not OrderTag.objects.filter(order=order).exists()


def test_an_agent_adds_a_private_note_stored_encrypted_and_read_only_by_customer_service(shop, order):
    agent = make_user("cs_agent", shops=[shop])
    response = client_for(agent).post(reverse("workbench:cs-order-note", args=[order.pk]),
                                      {"body": "买家说周五前必须到，已答应加急"})
    assert response.status_code == 302
    note = CsNote.objects.get(order=order)
    assert note.author == agent and note.body == "买家说周五前必须到，已答应加急"
    with connection.cursor() as cursor:
        cursor.execute("SELECT body_encrypted FROM orders_csnote WHERE id = %s", [note.pk])
        stored = cursor.fetchone()[0]
    assert "周五" not in stored and stored.startswith("gAAAA")  # a Fernet token, not the text
    event = OrderEvent.objects.get(order=order, name="cs_note_added")
    assert event.payload == {"note_id": note.pk} and event.actor == agent  # the history holds no text
    assert "周五前必须到" in client_for(make_user("cs_lead", shops=[shop])).get(detail(order)).content.decode()
    for role in ("manager", "finance"):
        html = client_for(make_user(role, shops=[shop])).get(detail(order)).content.decode()
        assert "周五前必须到" not in html, role


def test_an_empty_note_is_refused_with_a_message_and_nothing_written(shop, order):
    client = client_for(make_user("cs_agent", shops=[shop]))
    response = client.post(reverse("workbench:cs-order-note", args=[order.pk]), {"body": "   "}, follow=True)
    shown = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert shown == [("error", str(ValidationFailed(_("Write the note first.")).message))]
    assert not CsNote.objects.exists() and not OrderEvent.objects.filter(name="cs_note_added").exists()


def test_roles_outside_customer_service_cannot_add_notes(shop, order):
    for role in ("finance", "manager", "warehouse_clerk"):
        user = make_user(role, shops=[shop], warehouses=[order.warehouse])
        assert client_for(user).post(reverse("workbench:cs-order-note", args=[order.pk]),
                                     {"body": "x"}).status_code == 403, role
    assert not CsNote.objects.exists()


def test_mark_urgent_from_the_worklist_tags_the_order_once(shop, order):
    agent = make_user("cs_agent", shops=[shop])
    client = client_for(agent)
    url = reverse("workbench:cs-order-urgent", args=[order.pk])
    assert client.post(url, {"back": "list"})["Location"] == reverse("workbench:cs-orders")
    client.post(url)
    assert list(OrderTag.objects.filter(order=order).values_list("tag", flat=True)) == ["urgent"]
    assert OrderEvent.objects.filter(order=order, name="marked_urgent").count() == 1
    assert "pill urgency-red" in client.get(detail(order)).content.decode()


def test_intercept_is_offered_only_once_shipped_and_a_refusal_is_a_message(shop, order):
    agent = make_user("cs_agent", shops=[shop])
    client = client_for(agent)
    assert 'id="request-intercept"' not in client.get(detail(order)).content.decode()
    response = client.post(reverse("workbench:cs-order-intercept", args=[order.pk]), {"reason": "买家拒收"},
                           follow=True)
    assert response.status_code == 200 and response.context["messages"]
    order.refresh_from_db()
    assert order.status == "ready"  # nothing changed


def test_sections_load_on_demand_scoped_to_the_agent(shop, order):
    agent = make_user("cs_agent", shops=[shop])
    sibling = OrderFactory(shop=shop, customer=order.customer)
    OrderFactory(shop=ShopFactory(), customer=order.customer)  # same buyer, a shop the agent does not serve
    client = client_for(agent)
    page = client.get(reverse("workbench:cs-order-buyer-orders", args=[order.pk]))
    assert [o.pk for o in page.context["orders"]] == [sibling.pk]
    for n in range(25):
        OrderEvent.objects.create(order=order, type="note", name="n", actor_label="x", created_at=order.placed_at)
    assert len(client.get(detail(order)).context["events"]) == 20
    assert len(client.get(reverse("workbench:cs-order-history", args=[order.pk])).context["events"]) == 25


def test_the_page_query_count_does_not_grow_with_events_notes_or_lines(shop, order, django_assert_max_num_queries):
    agent = make_user("cs_agent", shops=[shop])
    client = client_for(agent)
    client.get(detail(order))  # warm the session and permission caches
    with django_assert_max_num_queries(20) as few:
        assert client.get(detail(order)).status_code == 200
    for n in range(10):
        order_add_note(order_id=order.pk, body=f"第 {n} 条", actor=agent)
        order_record_complaint(order_id=order.pk, text=f"投诉 {n}", actor=agent)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(detail(order)).status_code == 200
