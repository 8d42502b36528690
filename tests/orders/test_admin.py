"""The admin is the back office until the workbenches land: every model's pages open, orders are scoped."""
import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from apps.orders.models import Order
from tests.factories import OrderFactory, ShopFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_client():
    client = Client()
    client.force_login(make_user(superuser=True, username="root"))
    return client


def test_every_registered_model_has_working_list_and_add_or_view_pages(superuser_client):
    order = OrderFactory()
    ours = [m for m in admin.site._registry if m._meta.app_label in {"accounts", "customers", "catalog",
                                                                       "inventory", "orders"}]
    assert len(ours) >= 11
    for model in ours:
        opts = model._meta
        changelist = superuser_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"))
        assert changelist.status_code == 200, opts.label
    detail = superuser_client.get(reverse("admin:orders_order_change", args=[order.pk]))
    assert detail.status_code == 200
    assert order.external_id.encode() in detail.content


def test_staff_see_only_orders_of_their_shops_in_the_admin():
    mine, theirs = ShopFactory(), ShopFactory()
    own, foreign = OrderFactory(shop=mine), OrderFactory(shop=theirs)
    manager = make_user("manager", shops=[mine])
    manager.is_staff = True
    manager.save()
    client = Client()
    client.force_login(manager)

    page = client.get(reverse("admin:orders_order_changelist"))
    assert page.status_code == 200
    assert own.external_id.encode() in page.content and foreign.external_id.encode() not in page.content
    assert client.get(reverse("admin:orders_order_change", args=[foreign.pk])).status_code in (302, 404)


def test_admin_cancel_action_goes_through_the_service(superuser_client):
    ready, shipped = OrderFactory(status="ready"), OrderFactory(status="shipped")
    superuser_client.post(reverse("admin:orders_order_changelist"),
                          {"action": "cancel_orders", "_selected_action": [ready.pk, shipped.pk]})
    assert Order.objects.get(pk=ready.pk).status == "cancelled"
    assert Order.objects.get(pk=shipped.pk).status == "shipped"
    assert ready.events.get().name == "cancel"


def test_admin_speaks_chinese_by_default_and_english_on_request(superuser_client):
    OrderFactory()
    url = reverse("admin:orders_order_changelist")
    chinese = superuser_client.get(url).content.decode()
    assert "订单中枢" in chinese and "收货人" in chinese and "待付款" in chinese
    english = superuser_client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Order hub" in english and "Pending payment" in english
