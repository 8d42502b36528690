"""POST /api/v1/orders/: validation, exact totals, idempotent replay, tokens."""
import copy
import json
from decimal import Decimal

import pytest
from django.test import override_settings

from apps.customers.models import Customer
from apps.orders.models import Order, OrderEvent, OrderLine
from tests.factories import CustomerFactory, ShopFactory, SKUFactory, make_token, stock_up

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"


@pytest.fixture
def shop():
    return ShopFactory(platform="douyin")


@pytest.fixture
def skus(shop):
    skus = [SKUFactory(code="CAT-FOOD-2KG"), SKUFactory(code="CAT-LITTER")]
    stock_up(shop.default_warehouse, *skus)
    return skus


@pytest.fixture
def client(shop, token_client):
    return token_client(shop)


def payload(**overrides):
    body = {
        "external_id": "dy_4829301177",
        "placed_at": "2026-11-20T09:15:00+08:00",
        "buyer": {"id": "u88231", "nickname": "喵星人"},
        "address": {"receiver": "王小明", "phone": "+86 138 1234 5678", "province": "浙江省", "city": "杭州市",
                    "district": "西湖区", "detail": "文三路 90 号 2 幢 301", "postal_code": "310012"},
        "lines": [
            {"sku": "CAT-FOOD-2KG", "quantity": 3, "unit_price": "19.90"},
            {"sku": "CAT-LITTER", "quantity": 1, "unit_price": "0.10", "discount": "0.05"},
        ],
        "shipping_fee": "0.20",
        "discount_total": "0.30",
        "grand_total": "59.65",
        "buyer_remark": "要发票，加急",
    }
    body.update(overrides)
    return body


def counts():
    return (Order.objects.count(), OrderLine.objects.count(), OrderEvent.objects.count(), Customer.objects.count())


def test_intake_creates_order_with_exact_decimal_totals(client, skus, shop):
    response = client.post(URL, payload(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["replayed"] is False
    order = Order.objects.get(pk=body["id"])
    # 3 × 19.90 = 59.70 and 0.10 − 0.05 = 0.05; floats would give 59.699999…
    assert order.goods_total == Decimal("59.75")
    assert order.grand_total == Decimal("59.65") == order.goods_total + order.shipping_fee - order.discount_total
    assert [(line.line_no, line.quantity, line.line_total) for line in order.lines.all()] == [
        (1, 3, Decimal("59.70")), (2, 1, Decimal("0.05"))]
    assert (order.shop, order.platform, order.status, order.payment_status) == (
        shop, "douyin", "pending_payment", "unpaid")
    assert (order.receiver_phone, order.phone_tail) == ("13812345678", "5678")
    assert order.warehouse == shop.default_warehouse
    assert order.customer.code == "douyin:u88231"
    assert list(order.events.values_list("type", "to_status", "actor_label")) == [
        ("created", "pending_payment", f"token:{shop.code}:{order.events.get().actor_label.rsplit(':', 1)[1]}")]


def test_money_sent_as_json_numbers_stays_exact(client, skus):
    raw = json.dumps(payload(lines=[{"sku": "CAT-FOOD-2KG", "quantity": 3, "unit_price": 19.9}],
                             shipping_fee=0, discount_total=0, grand_total=59.7))
    response = client.post(URL, raw, content_type="application/json")
    assert response.status_code == 201, response.content
    assert Order.objects.get().grand_total == Decimal("59.70")


def test_paid_order_goes_straight_to_review(client, skus):
    response = client.post(URL, payload(paid_at="2026-11-20T09:16:00+08:00"), format="json")
    assert response.status_code == 201
    order = Order.objects.get()
    assert (order.status, order.payment_status, order.paid_amount) == ("pending_review", "paid", Decimal("59.65"))
    assert list(order.events.values_list("type", "name")) == [("created", ""), ("transition", "pay")]


def test_replay_returns_the_existing_order_and_changes_nothing(client, skus):
    first = client.post(URL, payload(), format="json")
    before = counts()
    snapshot = Order.objects.values().get()

    again = client.post(URL, payload(), format="json")

    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"] and again.json()["replayed"] is True
    assert counts() == before
    assert Order.objects.values().get() == snapshot
    assert "X-Orderhub-Replay-Differs" not in again


def test_replay_with_a_different_body_still_changes_nothing_but_says_so(client, skus):
    client.post(URL, payload(), format="json")
    before = counts()
    response = client.post(URL, payload(buyer_remark="改成不要发票"), format="json")
    assert response.status_code == 200
    assert response["X-Orderhub-Replay-Differs"] == "true"
    assert counts() == before
    assert Order.objects.get().buyer_remark == "要发票，加急"


def test_same_number_in_another_shop_is_another_order(skus, token_client):
    first, second = ShopFactory(), ShopFactory()
    assert token_client(first).post(URL, payload(), format="json").status_code == 201
    assert token_client(second).post(URL, payload(), format="json").status_code == 201
    assert Order.objects.count() == 2


def test_b2b_order_uses_the_customer_code(token_client, skus):
    shop = ShopFactory(platform="b2b")
    customer = CustomerFactory(code="DIST-0042", kind="b2b")
    response = token_client(shop).post(URL, payload(external_id="B2B-20261120-0042", customer_code="DIST-0042"),
                                       format="json")
    assert response.status_code == 201, response.content
    assert Order.objects.get().customer == customer


def _without(path):
    body = payload()
    *parents, leaf = path.split(".")
    target = body
    for key in parents:
        target = target[key]
    del target[leaf]
    return body


BAD_INPUT = {
    "unknown sku": (payload(lines=[{"sku": "NO-SUCH", "quantity": 1, "unit_price": "1.00"}], shipping_fee="0",
                            discount_total="0", grand_total="1.00"), "lines[0].sku", "unknown_sku"),
    "zero quantity": (payload(lines=[{"sku": "CAT-LITTER", "quantity": 0, "unit_price": "1.00"}]),
                      "lines[0].quantity", "min_value"),
    "negative quantity": (payload(lines=[{"sku": "CAT-LITTER", "quantity": -2, "unit_price": "1.00"}]),
                          "lines[0].quantity", "min_value"),
    "negative price": (payload(lines=[{"sku": "CAT-LITTER", "quantity": 1, "unit_price": "-1.00"}]),
                       "lines[0].unit_price", "min_value"),
    "fractional cents": (payload(shipping_fee="0.201"), "shipping_fee", "max_decimal_places"),
    "malformed phone": (payload(address={**payload()["address"], "phone": "12345"}), "address.phone", "invalid_phone"),
    "grand total wrong": (payload(grand_total="59.66"), "grand_total", "totals_mismatch"),
    "goods total wrong": (payload(goods_total="60.00"), "goods_total", "totals_mismatch"),
    "line total wrong": (payload(lines=[{"sku": "CAT-LITTER", "quantity": 2, "unit_price": "1.00",
                                         "line_total": "3.00"}]), "lines[0].line_total", "totals_mismatch"),
    "no lines": (payload(lines=[]), "lines", "min_length"),
    "missing province": (_without("address.province"), "address.province", "required"),
    "missing city": (_without("address.city"), "address.city", "required"),
    "missing district": (_without("address.district"), "address.district", "required"),
    "missing detail": (_without("address.detail"), "address.detail", "required"),
    "missing receiver": (_without("address.receiver"), "address.receiver", "required"),
    "missing address": (_without("address"), "address", "required"),
    "missing grand total": (_without("grand_total"), "grand_total", "required"),
    "wrong number shape": (payload(external_id="yz_88888888"), "external_id", "order_number_mismatch"),
    "unknown customer": (payload(customer_code="NOPE"), "customer_code", "unknown_customer"),
    "paid amount over total": (payload(paid_at="2026-11-20T10:00:00+08:00", paid_amount="99.00"),
                               "paid_amount", "invalid_payment"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUT))
def test_bad_input_is_a_coded_400_naming_the_field_and_writes_nothing(client, skus, case):
    body, field, code = BAD_INPUT[case]
    response = client.post(URL, copy.deepcopy(body), format="json")

    assert response.status_code == 400, response.content
    error = response.json()
    assert error["code"] == "validation_failed" and error["message"]
    assert field in error["details"], error["details"]
    assert code in [item["code"] for item in error["details"][field]]
    assert counts() == (0, 0, 0, 0)


def test_several_bad_fields_are_reported_together(client, skus):
    body = payload(address={**payload()["address"], "phone": "999"}, grand_total="1.00")
    del body["address"]["city"]
    details = client.post(URL, body, format="json").json()["details"]
    assert {"address.phone", "address.city"} <= set(details)


def test_malformed_json_is_coded(client, skus):
    response = client.post(URL, '{"external_id": "dy_1', content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_request"
    assert counts() == (0, 0, 0, 0)


def test_a_json_array_is_refused(client, skus):
    response = client.post(URL, [payload()], format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_failed"


@override_settings(ORDERHUB_MAX_INTAKE_BYTES=2048)
def test_oversized_payload_is_refused_before_parsing(client, skus):
    response = client.post(URL, payload(buyer_remark="备" * 2000), format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "payload_too_large"
    assert counts() == (0, 0, 0, 0)


def test_too_many_lines_are_refused(client, skus):
    lines = [{"sku": "CAT-LITTER", "quantity": 1, "unit_price": "1.00"}] * 201
    response = client.post(URL, payload(lines=lines, shipping_fee="0", discount_total="0", grand_total="201.00"),
                           format="json")
    assert response.status_code == 400
    assert "max_length" in [e["code"] for e in response.json()["details"]["lines"]]


# --- authentication and scope -------------------------------------------------------------------

def test_no_token_is_401(api, skus):
    response = api.post(URL, payload(), format="json")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert counts() == (0, 0, 0, 0)


def test_unknown_token_is_401(api, skus):
    api.credentials(HTTP_AUTHORIZATION="Bearer oh_deadbeef_not-a-real-token")
    response = api.post(URL, payload(), format="json")
    assert response.status_code == 401 and response.json()["code"] == "authentication_failed"


def test_revoked_token_is_401(api, shop, skus):
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(shop, revoked=True)}")
    assert api.post(URL, payload(), format="json").status_code == 401


def test_token_cannot_write_into_another_shop(client, skus):
    other = ShopFactory()
    response = client.post(URL, payload(shop=other.code), format="json")
    assert response.status_code == 403 and response.json()["code"] == "shop_not_served"
    assert counts() == (0, 0, 0, 0)


def test_staff_intake_needs_a_served_shop(user_client, shop, skus):
    agent = user_client("cs_agent", shops=[shop])
    assert agent.post(URL, payload(shop=shop.code), format="json").status_code == 201

    stranger = user_client("cs_agent")
    response = stranger.post(URL, payload(shop=shop.code, external_id="dy_0000000002"), format="json")
    assert response.status_code == 403 and response.json()["code"] == "shop_not_served"

    clerk = user_client("warehouse_clerk", warehouses=[shop.default_warehouse])
    assert clerk.post(URL, payload(shop=shop.code, external_id="dy_0000000003"), format="json").status_code == 403
    assert Order.objects.count() == 1


def test_error_messages_follow_the_language(client, skus):
    chinese = client.post(URL, payload(grand_total="1.00"), format="json").json()
    english = client.post(URL, payload(grand_total="1.00"), format="json", HTTP_ACCEPT_LANGUAGE="en").json()
    assert chinese["code"] == english["code"] == "validation_failed"
    assert chinese["details"]["grand_total"][0]["message"].startswith("应付金额")
    assert english["details"]["grand_total"][0]["message"].startswith("Amount payable")


def test_intake_answers_with_a_compact_acknowledgement(client, skus, shop):
    body = client.post(URL, payload(paid_at="2026-11-20T09:16:00+08:00"), format="json").json()
    assert body == {"id": Order.objects.get().pk, "external_id": "dy_4829301177", "shop": shop.code,
                    "status": "pending_review", "payment_status": "paid", "grand_total": "59.65",
                    "placed_at": "2026-11-20T09:15:00+08:00", "replayed": False}


def test_staff_without_payment_permission_cannot_post_a_paid_order(user_client, shop, skus):
    agent = user_client("cs_agent", shops=[shop])
    response = agent.post(URL, payload(shop=shop.code, paid_at="2026-11-20T09:16:00+08:00"), format="json")
    assert response.status_code == 403 and response.json()["code"] == "transition_forbidden"
    assert counts() == (0, 0, 0, 0)


def test_intake_query_count_is_fixed(client, skus):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.post(URL, payload(external_id="dy_0000000001"), format="json")  # the buyer now exists
    with CaptureQueriesContext(connection) as queries:
        response = client.post(URL, payload(external_id="dy_0000000002", paid_at="2026-11-20T09:16:00+08:00"),
                               format="json")
    assert response.status_code == 201
    sql = [" ".join(q["sql"].split()) for q in queries]
    if connection.vendor == "postgresql":
        # token, SKUs, savepoint, remark keywords; every row in one statement, the reservation in the
        # same round trip (apps.core.db.run_together); savepoint released
        assert len(sql) == 7, "\n".join(q[:90] for q in sql)
        assert sql[4].startswith('WITH g0 AS (INSERT INTO "customers_customer"')
        assert all(f'INSERT INTO "{table}"' in sql[4] for table in (
            "orders_order", "orders_orderline", "orders_orderevent", "orders_ordertag", "django_q_ormq"))
        assert "inventory_reserve_order(" in sql[5]
    else:
        # token, SKUs, customer upsert, order, lines, events, tags, review job; reservation: the
        # shop's warehouse list, the locked levels, the customer's shelf-life rule, one update per
        # level, reservations, ledger lines; remark keywords; savepoint bookkeeping
        assert len(sql) <= 17, "\n".join(q[:90] for q in sql)


def test_a_returning_buyer_is_the_same_customer_and_keeps_their_record(client, skus):
    client.post(URL, payload(external_id="dy_0000000011"), format="json")
    renamed = payload(external_id="dy_0000000012", buyer={"id": "u88231", "nickname": "改名了"})
    client.post(URL, renamed, format="json")

    first, second = Order.objects.order_by("id")
    assert first.customer_id == second.customer_id
    assert Customer.objects.get().name == "喵星人"


def test_remark_keywords_tag_the_order_and_the_promise_sets_ship_by(client, skus, shop):
    from datetime import datetime, timedelta
    from zoneinfo import ZoneInfo

    body = client.post(URL, payload(buyer_remark="麻烦开发票，加急！", seller_remark="送赠品"), format="json").json()
    order = Order.objects.get(pk=body["id"])
    assert dict(order.tags.values_list("tag", "source")) == {"invoice": "发票", "urgent": "加急", "gift": "赠品"}
    placed = datetime(2026, 11, 20, 9, 15, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert order.promised_ship_by == placed + timedelta(hours=48)  # Douyin promises 48 h
