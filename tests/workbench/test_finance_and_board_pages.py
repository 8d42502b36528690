"""Finance pages (payments by state, refunds waiting, receivables by customer) and the manager's
board (open holds by type and age, orders past ship-by): scoped to the person's shops, figures
right to the cent, customers and orders of other shops invisible."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from apps.orders.models import OrderHold
from apps.orders.selectors import receivables
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop():
    return ShopFactory()


def amounts(total: str) -> dict:
    """Order totals that add up (the database checks): goods + 5.00 shipping."""
    return {"goods_total": Decimal(total) - 5, "shipping_fee": Decimal("5.00"), "grand_total": Decimal(total)}


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def test_receivables_sum_what_credit_customers_owe_and_what_is_overdue(shop):
    now = timezone.now()
    dealer = CustomerFactory(code="B2B-1", name="杭州宠物批发", credit_limit=Decimal("50000"), payment_terms_days=30)
    OrderFactory(shop=shop, customer=dealer, status="shipped", **amounts("1000.10"),
                 paid_amount=Decimal("0"), placed_at=now - timedelta(days=40))  # overdue
    OrderFactory(shop=shop, customer=dealer, status="ready", **amounts("200.05"),
                 paid_amount=Decimal("100.00"), placed_at=now - timedelta(days=3))  # part paid, not due
    OrderFactory(shop=shop, customer=dealer, status="cancelled", **amounts("999"), paid_amount=0)
    OrderFactory(shop=shop, customer=dealer, status="completed", **amounts("80"),
                 paid_amount=Decimal("80"))  # settled
    OrderFactory(shop=ShopFactory(), customer=dealer, status="ready", **amounts("5000"), paid_amount=0)
    OrderFactory(shop=shop, status="ready", paid_amount=0)  # a consumer: no credit terms, not a receivable
    finance = make_user("finance", shops=[shop])

    rows = receivables(actor=finance, now=now)

    assert [(r["code"], r["owed"], r["overdue"], r["orders"]) for r in rows] == [
        ("B2B-1", Decimal("1100.15"), Decimal("1000.10"), 2)]
    client = client_for(finance)
    page = client.get(reverse("workbench:finance-receivables"))
    assert page.status_code == 200 and "杭州宠物批发" in page.content.decode() and 'id="receivables"' in page.content.decode()
    detail = client.get(reverse("workbench:finance-receivable", args=[dealer.pk]))
    assert detail.status_code == 200
    assert detail.context["owed"] == Decimal("1100.15") and detail.context["overdue"] == Decimal("1000.10")
    assert [o.is_overdue for o in detail.context["orders"]] == [True, False]


def test_a_customer_with_nothing_owed_in_my_shops_is_404(shop):
    dealer = CustomerFactory(credit_limit=Decimal("1000"), payment_terms_days=15)
    OrderFactory(shop=ShopFactory(), customer=dealer, status="ready", paid_amount=0)
    client = client_for(make_user("finance", shops=[shop]))
    assert client.get(reverse("workbench:finance-receivable", args=[dealer.pk])).status_code == 404
    assert client.get(reverse("workbench:finance-receivable", args=[999999])).status_code == 404


def test_payments_by_state_count_and_list_only_my_shops(shop):
    unpaid = OrderFactory(shop=shop, payment_status="unpaid")
    OrderFactory(shop=shop, payment_status="paid")
    OrderFactory(shop=ShopFactory(), payment_status="unpaid")
    client = client_for(make_user("finance", shops=[shop]))
    page = client.get(reverse("workbench:finance-payments"), {"state": "unpaid"})
    assert page.status_code == 200 and list(page.context["page"]) == [unpaid]
    counts = {tab["state"]: tab["count"] for tab in page.context["tabs"]}
    assert counts["unpaid"] == 1 and counts["paid"] == 1 and counts["refunded"] == 0
    assert client.get(reverse("workbench:finance-payments"), {"state": "stolen"}).status_code == 404


def test_finance_and_board_pages_are_refused_to_other_roles(shop):
    for role in ("cs_agent", "warehouse_clerk"):
        client = client_for(make_user(role, shops=[shop]))
        for name in ("finance-payments", "finance-refunds", "finance-receivables", "board-holds", "board-late"):
            assert client.get(reverse(f"workbench:{name}")).status_code == 403, (role, name)
    finance = client_for(make_user("finance", shops=[shop]))
    assert finance.get(reverse("workbench:board-holds")).status_code == 403


def test_the_board_counts_open_holds_by_type_and_age_and_lists_late_orders(shop):
    now = timezone.now()
    orders = [OrderFactory(shop=shop, status="pending_review") for _ in range(3)]
    for order, age in zip(orders, (timedelta(minutes=10), timedelta(hours=5), timedelta(hours=30))):
        OrderHold.objects.create(order=order, type="out_of_stock", reason="缺货", opened_at=now - age)
    OrderHold.objects.create(order=orders[0], type="blacklisted", reason="黑名单", opened_at=now - timedelta(hours=2))
    OrderHold.objects.create(order=orders[1], type="manual", reason="已处理", opened_at=now - timedelta(hours=50),
                             released_at=now - timedelta(hours=1))
    foreign = OrderFactory(shop=ShopFactory(), status="pending_review")
    OrderHold.objects.create(order=foreign, type="out_of_stock", reason="缺货", opened_at=now - timedelta(hours=30))
    late = OrderFactory(shop=shop, status="ready", promised_ship_by=now - timedelta(hours=3))
    OrderFactory(shop=shop, status="ready", promised_ship_by=now + timedelta(hours=3))
    OrderFactory(shop=shop, status="shipped", promised_ship_by=now - timedelta(hours=3))
    client = client_for(make_user("manager", shops=[shop]))

    page = client.get(reverse("workbench:board-holds"))
    summary = {row["type"]: (row["lt_1h"], row["h1_24h"], row["gt_24h"], row["total"]) for row in page.context["summary"]}
    assert summary == {"out_of_stock": (1, 1, 1, 3), "blacklisted": (0, 1, 0, 1)}
    filtered = client.get(reverse("workbench:board-holds"), {"type": "out_of_stock", "age": "gt_24h"})
    assert [h.order_id for h in filtered.context["page"]] == [orders[2].pk]
    assert list(client.get(reverse("workbench:board-late")).context["page"]) == [late]


@pytest.mark.parametrize("name,role", [
    ("workbench:finance-payments", "finance"), ("workbench:finance-refunds", "finance"),
    ("workbench:finance-receivables", "finance"), ("workbench:board-holds", "manager"),
    ("workbench:board-late", "manager"),
])
def test_list_query_counts_do_not_grow_with_the_rows(shop, name, role, django_assert_max_num_queries):
    now = timezone.now()

    def add_rows(n):
        for _ in range(n):
            dealer = CustomerFactory(credit_limit=Decimal("1000"), payment_terms_days=30)
            order = OrderFactory(shop=shop, customer=dealer, status="ready", paid_amount=0,
                                 promised_ship_by=now - timedelta(hours=2))
            OrderHold.objects.create(order=order, type="manual", reason="核对", opened_at=now - timedelta(hours=3))

    add_rows(1)
    client = client_for(make_user(role, shops=[shop]))
    client.get(reverse(name))  # warm the session and permission caches
    with django_assert_max_num_queries(20) as few:
        assert client.get(reverse(name)).status_code == 200
    add_rows(6)
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert client.get(reverse(name)).status_code == 200
