"""Scoped reads, filters, masking, and transitions/holds through the API."""
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.orders.models import Order
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, WarehouseFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/orders/"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def two_shops():
    return ShopFactory(code="mine"), ShopFactory(code="theirs")


def ids(response):
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_token_reads_only_its_own_shop(two_shops, token_client):
    mine, theirs = two_shops
    own, foreign = OrderFactory(shop=mine), OrderFactory(shop=theirs)
    client = token_client(mine)

    assert ids(client.get(URL)) == {own.pk}
    assert client.get(f"{URL}{own.pk}/").status_code == 200
    response = client.get(f"{URL}{foreign.pk}/")
    assert response.status_code == 404 and response.json()["code"] == "order_not_found"


def test_token_cannot_transition_another_shops_order(two_shops, token_client):
    mine, theirs = two_shops
    foreign = OrderFactory(shop=theirs)
    response = token_client(mine).post(f"{URL}{foreign.pk}/transitions/cancel/", {}, format="json")
    assert response.status_code == 404
    assert Order.objects.get(pk=foreign.pk).status == "pending_payment"


def test_token_can_pay_and_cancel_its_orders_but_not_pick(two_shops, token_client):
    mine, _theirs = two_shops
    order = OrderFactory(shop=mine)
    client = token_client(mine)
    assert client.post(f"{URL}{order.pk}/transitions/pay/", {}, format="json").json()["status"] == "pending_review"
    response = client.post(f"{URL}{order.pk}/transitions/pass_review/", {}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "transition_forbidden"
    assert client.post(f"{URL}{order.pk}/transitions/cancel/", {"reason": "买家取消"}, format="json").json()[
        "status"] == "cancelled"


def test_agent_sees_served_shops_only_and_other_orders_are_404(two_shops, user_client):
    mine, theirs = two_shops
    own, foreign = OrderFactory(shop=mine), OrderFactory(shop=theirs)
    agent = user_client("cs_agent", shops=[mine])

    assert ids(agent.get(URL)) == {own.pk}
    assert agent.get(f"{URL}{foreign.pk}/").status_code == 404
    assert agent.post(f"{URL}{foreign.pk}/transitions/cancel/", {}, format="json").status_code == 404
    assert agent.post(f"{URL}{foreign.pk}/holds/", {"type": "manual", "reason": "x"}, format="json").status_code == 404


def test_clerk_sees_the_orders_of_worked_warehouses(user_client):
    east, west = WarehouseFactory(), WarehouseFactory()
    here = OrderFactory(shop=ShopFactory(default_warehouse=east))
    OrderFactory(shop=ShopFactory(default_warehouse=west))
    clerk = user_client("warehouse_clerk", warehouses=[east])
    assert ids(clerk.get(URL)) == {here.pk}


def test_user_without_scope_sees_nothing(two_shops, user_client):
    OrderFactory(shop=two_shops[0])
    assert ids(user_client("manager").get(URL)) == set()


def test_anonymous_is_401(api):
    assert api.get(URL).status_code == 401


def test_agent_sees_masked_personal_data_and_lead_sees_it_in_full(two_shops, user_client):
    order = OrderFactory(shop=two_shops[0], receiver_name="王小明", receiver_phone="13812345678")
    agent = user_client("cs_agent", shops=[two_shops[0]]).get(f"{URL}{order.pk}/").json()
    lead = user_client("cs_lead", shops=[two_shops[0]]).get(f"{URL}{order.pk}/").json()

    assert (agent["receiver_phone"], agent["receiver_name"]) == ("138****5678", "王**")
    assert agent["address_detail"].endswith("****") and "90" not in agent["address_detail"]
    assert (lead["receiver_phone"], lead["receiver_name"]) == ("13812345678", "王小明")
    assert lead["address_detail"] == order.address_detail


def test_filters(two_shops, token_client):
    shop = two_shops[0]
    customer = CustomerFactory(code="VIP-1")
    early = OrderFactory(shop=shop, placed_at=datetime(2026, 11, 1, 10, tzinfo=SHANGHAI), external_id="dy_1000000001")
    late = OrderFactory(shop=shop, placed_at=datetime(2026, 11, 20, 10, tzinfo=SHANGHAI), external_id="dy_2000000001",
                        status="ready", customer=customer, receiver_phone="13900004321")
    client = token_client(shop)

    assert ids(client.get(URL, {"status": "ready"})) == {late.pk}
    assert ids(client.get(URL, {"status": ["ready", "pending_payment"]})) == {early.pk, late.pk}
    assert ids(client.get(URL, {"placed_after": "2026-11-10T00:00:00+08:00"})) == {late.pk}
    assert ids(client.get(URL, {"placed_before": "2026-11-10T00:00:00+08:00"})) == {early.pk}
    assert ids(client.get(URL, {"customer": "VIP-1"})) == {late.pk}
    assert ids(client.get(URL, {"number": "dy_1000"})) == {early.pk}
    assert ids(client.get(URL, {"phone_tail": "4321"})) == {late.pk}
    assert ids(client.get(URL, {"phone_tail": "43"})) == set()
    assert ids(client.get(URL, {"shop": shop.code})) == {early.pk, late.pk}
    assert client.get(URL, {"status": "nonsense"}).status_code == 400


def test_list_and_detail_query_counts_do_not_grow_with_rows(two_shops, token_client):
    shop = two_shops[0]
    client = token_client(shop)
    OrderFactory(shop=shop)
    client.get(URL)  # the first request also stamps the token's last use
    with CaptureQueriesContext(connection) as small:
        client.get(URL)
    for _ in range(10):
        OrderFactory(shop=shop)
    with CaptureQueriesContext(connection) as large:
        client.get(URL)
    assert len(large) == len(small)

    order = Order.objects.first()
    with CaptureQueriesContext(connection) as detail:
        assert client.get(f"{URL}{order.pk}/").status_code == 200
    assert len(detail) <= 8, [q["sql"] for q in detail]


def test_detail_has_lines_events_and_holds(two_shops, user_client):
    order = OrderFactory(shop=two_shops[0], status="pending_review")
    lead = user_client("cs_lead", shops=[two_shops[0]])

    hold = lead.post(f"{URL}{order.pk}/holds/", {"type": "manual", "reason": "买家要求晚点发"}, format="json")
    assert hold.status_code == 201, hold.content
    blocked = lead.post(f"{URL}{order.pk}/transitions/pass_review/", {}, format="json")
    assert blocked.status_code == 409 and blocked.json()["code"] == "order_on_hold"

    released = lead.post(f"{URL}{order.pk}/holds/{hold.json()['id']}/release/", {"resolution": "已确认"}, format="json")
    assert released.status_code == 200 and released.json()["is_open"] is False
    passed = lead.post(f"{URL}{order.pk}/transitions/pass_review/", {"reason": "ok"}, format="json")
    assert passed.status_code == 200 and passed.json()["status"] == "ready"

    detail = lead.get(f"{URL}{order.pk}/").json()
    assert [line["quantity"] for line in detail["lines"]] == [3]
    assert [e["type"] for e in detail["events"]] == ["hold_opened", "hold_released", "transition"]
    assert detail["holds"][0]["resolution"] == "已确认"


def test_forbidden_transition_through_the_api_is_409_with_allowed_list(two_shops, token_client):
    order = OrderFactory(shop=two_shops[0], status="shipped")
    response = token_client(two_shops[0]).post(f"{URL}{order.pk}/transitions/cancel/", {}, format="json")
    assert response.status_code == 409
    assert response.json()["details"]["allowed"] == ["request_intercept", "transit"]


def test_openapi_schema_and_docs_are_served(api):
    schema = api.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/v1/orders/" in schema.content
    assert api.get("/api/docs/").status_code == 200


@pytest.mark.parametrize("name", ["approve", "reject", "require_approval", "start_picking", "finish_picking",
                                  "return_to_ready", "pack", "ship"])
def test_steps_with_their_own_flow_cannot_be_forced_through_the_bare_transition(user_client, name):
    order = OrderFactory(status="pending_approval")
    client = user_client("manager", shops=[order.shop])
    response = client.post(f"{URL}{order.pk}/transitions/{name}/", {"reason": "x"}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "transition_has_own_flow"
    assert Order.objects.get(pk=order.pk).status == "pending_approval"


def test_a_person_passing_review_is_routed_to_approval_when_a_policy_applies(user_client):
    from apps.approvals.models import ApprovalLevel, ApprovalPolicy, ApprovalRequest

    policy = ApprovalPolicy.objects.create(name="all orders", priority=1)
    ApprovalLevel.objects.create(policy=policy, name="manager", time_limit_hours=4)
    order = OrderFactory(status="pending_review")
    lead = user_client("cs_lead", shops=[order.shop])
    response = lead.post(f"{URL}{order.pk}/transitions/pass_review/", {"reason": "看过了"}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "pending_approval"
    assert ApprovalRequest.objects.get(order=order).state == "pending"


@pytest.mark.parametrize("ordering", ["promised_ship_by", "-promised_ship_by", "placed_at", None])
def test_cursor_pages_hold_every_order_once_whatever_the_ordering(two_shops, token_client, ordering):
    """Ties and orders without a promised ship-by (null) must neither repeat nor vanish across pages."""
    from datetime import timedelta

    shop = two_shops[0]
    same = datetime(2026, 11, 20, 18, tzinfo=SHANGHAI)
    orders = [OrderFactory(shop=shop, promised_ship_by=same if n % 3 else None,
                           placed_at=same - timedelta(hours=n % 2)) for n in range(9)]
    orders.append(OrderFactory(shop=shop, promised_ship_by=same - timedelta(hours=5)))
    client = token_client(shop)
    params = {"page_size": 2, **({"ordering": ordering} if ordering else {})}
    seen, url = [], URL
    for _page in range(20):
        response = client.get(url, params)
        assert response.status_code == 200, response.content
        seen += [row["id"] for row in response.json()["results"]]
        url, params = response.json()["next"], None
        if not url:
            break
    assert sorted(seen) == sorted(order.pk for order in orders)
    if ordering == "promised_ship_by":
        assert seen[0] == orders[-1].pk  # the most urgent first
