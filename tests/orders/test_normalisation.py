from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from apps.orders.models import RemarkKeyword
from apps.orders.normalisation import promised_ship_by, tags_for_remarks, urgency
from tests.factories import OrderFactory, ShopFactory

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def test_default_keywords_come_from_the_seeds():
    assert tags_for_remarks("要发票", "开箱验货后签收", "顺丰发") == {
        "invoice": "发票", "inspect_on_delivery": "开箱验货", "carrier_sf": "顺丰"}


def test_admins_can_add_and_switch_off_keywords():
    RemarkKeyword.objects.create(keyword="周末送", tag="weekend_delivery", label="周末送货")
    RemarkKeyword.objects.filter(keyword="发票").update(is_active=False)
    assert tags_for_remarks("周末送，要发票") == {"weekend_delivery": "周末送"}


@pytest.mark.parametrize(("platform", "hours"), [("douyin", 48), ("wechat", 72), ("phone", 24), ("jd", 24)])
def test_each_channel_has_its_promise(platform, hours):
    assert promised_ship_by(ShopFactory(platform=platform), NOW) == NOW + timedelta(hours=hours)


def test_a_shop_can_promise_its_own_time():
    assert promised_ship_by(ShopFactory(platform="douyin", ship_promise_hours=12), NOW) == NOW + timedelta(hours=12)


@pytest.mark.parametrize(("left", "status", "colour"), [
    (timedelta(hours=-1), "ready", "red"),
    (timedelta(hours=5), "pending_review", "red"),
    (timedelta(hours=20), "picking", "amber"),
    (timedelta(hours=30), "ready", "green"),
    (timedelta(hours=-5), "shipped", None),
])
def test_urgency_colours(left, status, colour):
    assert urgency(OrderFactory(status=status, promised_ship_by=NOW + left), NOW) == colour


def test_list_filters_and_sorts_by_urgency(token_client):
    from django.utils import timezone

    shop = ShopFactory()
    now = timezone.now()
    late = OrderFactory(shop=shop, status="ready", promised_ship_by=now - timedelta(hours=1))
    soon = OrderFactory(shop=shop, status="ready", promised_ship_by=now + timedelta(hours=12))
    later = OrderFactory(shop=shop, status="ready", promised_ship_by=now + timedelta(hours=40))
    OrderFactory(shop=shop, status="shipped", promised_ship_by=now - timedelta(hours=9))
    client = token_client(shop)

    def ids(params):
        return [row["id"] for row in client.get("/api/v1/orders/", params).json()["results"]]

    assert ids({"urgency": "red"}) == [late.pk]
    assert ids({"urgency": "amber"}) == [soon.pk]
    assert ids({"urgency": "green"}) == [later.pk]
    assert ids({"status": "ready", "ordering": "promised_ship_by"}) == [late.pk, soon.pk, later.pk]
    row = client.get("/api/v1/orders/", {"urgency": "red"}).json()["results"][0]
    assert row["urgency"] == "red"


def test_intake_reads_the_active_keywords_as_the_orm_does():
    from apps.orders.normalisation import _active_keywords

    RemarkKeyword.objects.create(keyword="周末送", tag="weekend_delivery", label="周末送货")
    RemarkKeyword.objects.create(keyword="暂停", tag="weekend_delivery", label="暂停", is_active=False)
    assert _active_keywords() == list(RemarkKeyword.objects.filter(is_active=True).values_list("keyword", "tag"))
    assert ("周末送", "weekend_delivery") in _active_keywords()
    assert ("暂停", "weekend_delivery") not in _active_keywords()
