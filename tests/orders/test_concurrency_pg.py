"""Races that only a real PostgreSQL can show: simultaneous intake of one order, racing transitions."""
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from apps.orders import services
from apps.orders.errors import TransitionNotAllowed
from apps.orders.models import Order, OrderEvent, OrderLine
from apps.inventory.models import StockLevel
from tests.factories import OrderFactory, ShopFactory, SKUFactory, make_token, stock_up
from tests.orders.test_intake_api import payload

# Committed data; serialized_rollback: see tests/conftest.py.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def run_together(count, work):
    """Start `count` threads that call work(i) at the same instant; return their results."""
    barrier = threading.Barrier(count)
    results = [None] * count

    def runner(index):
        try:
            barrier.wait(timeout=10)
            results[index] = work(index)
        except Exception as exc:  # the assertion below reports it
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=runner, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


@pytest.mark.parametrize("copies", [2, 8])
def test_identical_concurrent_intake_creates_exactly_one_order(copies):
    shop = ShopFactory()
    stock_up(shop.default_warehouse, SKUFactory(code="CAT-FOOD-2KG"), SKUFactory(code="CAT-LITTER"))
    token = make_token(shop)

    def post(_index):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        response = client.post("/api/v1/orders/", payload(), format="json")
        return response.status_code, response.json()["id"]

    results = run_together(copies, post)

    assert all(isinstance(r, tuple) for r in results), results
    statuses = sorted(status for status, _id in results)
    assert statuses == [200] * (copies - 1) + [201]
    assert len({order_id for _status, order_id in results}) == 1
    assert Order.objects.count() == 1
    assert OrderLine.objects.count() == 2
    assert OrderEvent.objects.count() == 1
    # the stock was reserved once, by the order that won: 3 + 1 units
    assert sum(StockLevel.objects.values_list("reserved", flat=True)) == 4


def test_racing_transitions_on_one_order_let_exactly_one_win():
    order = OrderFactory(status="ready")
    names = ["start_picking", "cancel"] * 4

    def act(index):
        return services.order_transition(order_id=order.pk, name=names[index], actor=None).status

    results = run_together(len(names), act)

    winners = [r for r in results if isinstance(r, str)]
    losers = [r for r in results if isinstance(r, TransitionNotAllowed)]
    assert len(winners) + len(losers) == len(names), results
    order.refresh_from_db()
    # Every later attempt saw the winner's committed status: cancel and start_picking both leave
    # "ready", so at most one of each pair can succeed and the history stays a valid chain.
    events = list(order.events.order_by("id").values_list("from_status", "to_status"))
    assert events[0][0] == "ready"
    assert all(prev[1] == nxt[0] for prev, nxt in zip(events, events[1:]))
    assert events[-1][1] == order.status
    assert len(events) == len(winners)
