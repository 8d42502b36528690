"""The stock API: scoped reads and coded writes."""
import pytest

from apps.inventory.models import StockLevel, StockMove
from tests.factories import SKUFactory, WarehouseFactory
from tests.inventory.conftest import days

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(warehouse, make_order):
    other = WarehouseFactory(code="FAR")
    formula = SKUFactory(code="FORMULA", batch_tracked=True, shelf_life_days=720, near_expiry_alert_days=60)
    from apps.inventory import services

    services.stock_receive(warehouse_id=warehouse.pk, sku_id=formula.pk, quantity=30, actor=None, lot_number="L1",
                           expires_on=days(40))
    services.stock_receive(warehouse_id=warehouse.pk, sku_id=formula.pk, quantity=20, actor=None, lot_number="L2",
                           expires_on=days(400))
    services.stock_receive(warehouse_id=other.pk, sku_id=formula.pk, quantity=99, actor=None, lot_number="L3",
                           expires_on=days(500))
    services.stock_reserve_order(order_id=make_order({formula: 5}).pk, actor=None)
    return {"other": other, "formula": formula}


def test_clerk_sees_availability_batches_and_ledger_of_worked_warehouses_only(setup, warehouse, user_client):
    clerk = user_client("warehouse_clerk", warehouses=[warehouse])

    rows = clerk.get("/api/v1/stock/availability/", {"sku": "FORMULA"}).json()
    assert rows == [{"warehouse": warehouse.code, "sku": "FORMULA", "name": setup["formula"].name_zh, "on_hand": 50,
                     "reserved": 5, "available": 45, "expired_or_blocked": 0, "quarantined": 0}]

    batches = clerk.get("/api/v1/stock/batches/", {"sku": "FORMULA"}).json()
    assert [(b["lot_number"], b["on_hand"], b["reserved"]) for b in batches] == [("L1", 30, 5), ("L2", 20, 0)]

    ledger = clerk.get("/api/v1/stock/ledger/", {"sku": "FORMULA"}).json()["results"]
    assert [m["type"] for m in ledger] == ["reserve", "receipt", "receipt"]
    assert all(m["warehouse"] == warehouse.code for m in ledger)


def test_agent_sees_the_warehouses_of_served_shops(setup, shop, warehouse, user_client):
    agent = user_client("cs_agent", shops=[shop])
    rows = agent.get("/api/v1/stock/availability/").json()
    assert {row["warehouse"] for row in rows} == {warehouse.code}
    assert agent.get("/api/v1/stock/ledger/", {"sku": "FORMULA"}).status_code == 403  # ledger is for the warehouse


def test_alerts_endpoint_lists_open_alerts(setup, warehouse, user_client):
    from apps.inventory.alerts import stock_alerts_refresh

    stock_alerts_refresh()
    alerts = user_client("warehouse_clerk", warehouses=[warehouse]).get("/api/v1/stock/alerts/").json()
    assert [(a["kind"], a["lot_number"]) for a in alerts] == [("near_expiry", "L1")]


def test_receipt_through_the_api(setup, warehouse, user_client):
    clerk = user_client("warehouse_clerk", warehouses=[warehouse])
    response = clerk.post("/api/v1/stock/receipts/", {"warehouse": warehouse.code, "sku": "FORMULA", "quantity": 12,
                                                      "lot_number": "L9", "expires_on": str(days(300))}, format="json")
    assert response.status_code == 201, response.content
    assert (response.json()["lot_number"], response.json()["on_hand"]) == ("L9", 12)


@pytest.mark.parametrize(("body", "code"), [
    ({"warehouse": "NOPE", "sku": "FORMULA", "quantity": 1, "lot_number": "X", "expires_on": "2030-01-01"},
     "unknown_warehouse"),
    ({"warehouse": "FAR", "sku": "FORMULA", "quantity": 1, "lot_number": "X", "expires_on": "2030-01-01"},
     "unknown_warehouse"),  # exists, but not this clerk's
    ({"warehouse": "HERE", "sku": "NOPE", "quantity": 1}, "unknown_sku"),
    ({"warehouse": "HERE", "sku": "FORMULA", "quantity": 0, "lot_number": "X"}, "validation_failed"),
    ({"warehouse": "HERE", "sku": "FORMULA", "quantity": 2, "lot_number": "L1", "expires_on": "2031-01-01"},
     "duplicate_lot"),
    ({"warehouse": "HERE", "sku": "FORMULA", "quantity": 2, "lot_number": "L7", "manufactured_on": "2030-01-01",
      "expires_on": "2029-01-01"}, "invalid_batch_dates"),
])
def test_bad_receipts_are_coded_and_write_nothing(setup, warehouse, user_client, body, code):
    clerk = user_client("warehouse_clerk", warehouses=[warehouse])
    body = {**body, "warehouse": warehouse.code if body["warehouse"] == "HERE" else body["warehouse"]}
    before = StockMove.objects.count()
    response = clerk.post("/api/v1/stock/receipts/", body, format="json")
    assert response.status_code in (400, 409), response.content
    assert response.json()["code"] == code
    assert StockMove.objects.count() == before


def test_count_adjustment_needs_a_lead(setup, warehouse, user_client):
    level = StockLevel.objects.get(batch__lot_number="L2")
    clerk = user_client("warehouse_clerk", warehouses=[warehouse])
    assert clerk.post(f"/api/v1/stock/{level.pk}/adjust/", {"counted": 18, "reason": "盘点"},
                      format="json").status_code == 403
    lead = user_client("warehouse_lead", warehouses=[warehouse])
    response = lead.post(f"/api/v1/stock/{level.pk}/adjust/", {"counted": 18, "reason": "盘点"}, format="json")
    assert response.status_code == 200 and response.json()["on_hand"] == 18

    far_level = StockLevel.objects.get(batch__lot_number="L3")
    assert lead.post(f"/api/v1/stock/{far_level.pk}/adjust/", {"counted": 1, "reason": "x"},
                     format="json").json()["code"] == "unknown_stock_level"


def test_quarantine_through_the_api(setup, warehouse, user_client):
    level = StockLevel.objects.get(batch__lot_number="L2")
    lead = user_client("warehouse_lead", warehouses=[warehouse])
    response = lead.post(f"/api/v1/stock/{level.pk}/quarantine/", {"reason": "质检不合格"}, format="json")
    assert response.status_code == 200 and response.json()["quarantined"] is True
    assert StockLevel.objects.get(batch__lot_number="L2", bucket="quarantine").on_hand == 20


def test_actions_without_a_permission_rule_are_refused_not_crashed(setup, warehouse, user_client):
    """The browsable API and OPTIONS ask about actions that have no rule (a KeyError once)."""
    clerk = user_client("warehouse_clerk", warehouses=[warehouse])
    assert clerk.options("/api/v1/stock/availability/").status_code == 403
