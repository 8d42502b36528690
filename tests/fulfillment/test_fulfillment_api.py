"""The warehouse API: waves scoped to the warehouses a clerk works, scans with coded refusals,
short picks, packing, the e-waybill and shipping; a role matrix for building waves."""
import pytest
from rest_framework.test import APIClient

from apps.fulfillment.models import PickTask, Wave
from apps.inventory.services import ledger_matches_levels
from apps.orders.models import Order
from tests.factories import make_user
from tests.fulfillment.test_waves import Floor

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor():
    return Floor()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def build(client, floor, **body):
    return client.post("/api/v1/waves/", {"warehouse": floor.warehouse.code, **body}, format="json")


def test_a_wave_through_the_api_from_building_to_shipping(floor, fake_carrier):
    order = floor.order({floor.food: 1, floor.litter: 2})
    clerk = client_for(floor.clerk)

    created = build(clerk, floor, urgency="green", size_limit=20)
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["order_count"] == 1 and body["skipped"] == [] and body["open_count"] == 2
    first, second = body["tasks"]
    assert (first["location_code"], first["sku"], first["quantity"]) == ("A-01-3", floor.litter.code, 2)
    assert (second["lot_number"], second["batch_tracked"]) == ("L2405A", True)

    wrong = clerk.post(f"/api/v1/waves/{body['id']}/scan/", {"barcode": floor.food.barcode}, format="json")
    assert wrong.status_code == 409 and wrong.json()["code"] == "wrong_item"
    assert wrong.json()["details"]["expected"]["sku"] == floor.litter.code

    ok = clerk.post(f"/api/v1/waves/{body['id']}/scan/", {"barcode": floor.litter.barcode, "quantity": 2}, format="json")
    assert ok.status_code == 200
    assert ok.json()["task"]["state"] == "picked" and ok.json()["next_task"]["id"] == second["id"]
    last = clerk.post(f"/api/v1/waves/{body['id']}/scan/",
                      {"barcode": floor.food.barcode, "lot_number": "L2405A", "task": second["id"]}, format="json")
    assert last.json()["order_finished"] and last.json()["wave_done"] and last.json()["next_task"] is None

    base = f"/api/v1/warehouse-orders/{order.pk}"
    packed = clerk.post(f"{base}/pack/", {"weight_grams": 1800, "length_mm": 350, "width_mm": 250, "height_mm": 150},
                        format="json")
    assert packed.status_code == 201 and packed.json()["weight_grams"] == 1800
    waybill = clerk.post(f"{base}/waybill/", {"carrier": "yto", "service_type": "standard"}, format="json")
    assert waybill.status_code == 200 and waybill.json()["weight"] == "1.800"
    assert waybill.json()["tracking_number"].startswith("YT")
    shipped = clerk.post(f"{base}/ship/", format="json")
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    assert ledger_matches_levels() == []
    detail = clerk.get(f"/api/v1/waves/{body['id']}/").json()
    assert detail["state"] == "done" and [t["state"] for t in detail["tasks"]] == ["picked", "picked"]


def test_waves_are_scoped_to_the_warehouses_a_clerk_works(floor):
    floor.order()
    wave = floor.wave().wave
    stranger = client_for(make_user("warehouse_clerk"))

    assert stranger.get("/api/v1/waves/").json()["results"] == []
    assert stranger.get(f"/api/v1/waves/{wave.pk}/").status_code == 404
    scan = stranger.post(f"/api/v1/waves/{wave.pk}/scan/", {"barcode": floor.litter.barcode}, format="json")
    assert scan.status_code == 404 and scan.json()["code"] == "wave_not_found"
    task = PickTask.objects.filter(wave=wave).first()
    assert stranger.post(f"/api/v1/pick-tasks/{task.pk}/short/", {"found": 0, "reason": "x"},
                         format="json").status_code == 404
    assert stranger.post(f"/api/v1/warehouse-orders/{task.order_id}/ship/").status_code == 404
    assert build(stranger, floor).json()["code"] == "warehouse_not_found"
    assert [w["id"] for w in client_for(floor.clerk).get("/api/v1/waves/").json()["results"]] == [wave.pk]


def test_a_short_pick_through_the_api(floor):
    floor.order({floor.bowl: 2})
    wave = floor.wave().wave
    task = PickTask.objects.get(wave=wave)
    answer = client_for(floor.clerk).post(f"/api/v1/pick-tasks/{task.pk}/short/", {"found": 1, "reason": "破损一只"},
                                          format="json")
    assert answer.status_code == 200 and answer.json()["state"] == "short" and answer.json()["found_quantity"] == 1
    assert Order.objects.get(pk=task.order_id).holds.filter(type="short_pick").exists()
    release = client_for(floor.lead).post(f"/api/v1/warehouse-orders/{task.order_id}/release/",
                                          {"reason": "盘点后重新拣"}, format="json")
    assert release.status_code == 200 and release.json()["status"] == "ready"


@pytest.mark.parametrize("role, allowed", [
    ("warehouse_clerk", True), ("warehouse_lead", True), ("manager", True),
    ("cs_agent", False), ("cs_lead", False), ("finance", False),
])
def test_who_may_build_a_wave(floor, role, allowed):
    floor.order()
    user = make_user(role, warehouses=[floor.warehouse], shops=[floor.shop])
    answer = build(client_for(user), floor)
    assert answer.status_code == (201 if allowed else 403), answer.json()
    assert Wave.objects.exists() is allowed


ENDPOINTS = [  # (method, path with a pk that does not exist, the permission it needs)
    ("get", "/api/v1/waves/", "fulfillment.view_wave"),
    ("get", "/api/v1/waves/0/", "fulfillment.view_wave"),
    ("post", "/api/v1/waves/", "fulfillment.add_wave"),
    ("post", "/api/v1/waves/0/scan/", "orders.pick_order"),
    ("post", "/api/v1/pick-tasks/0/short/", "orders.pick_order"),
    ("post", "/api/v1/warehouse-orders/0/release/", "orders.pick_order"),
    ("post", "/api/v1/warehouse-orders/0/pack/", "orders.pack_order"),
    ("post", "/api/v1/warehouse-orders/0/waybill/", "orders.ship_order"),
    ("post", "/api/v1/warehouse-orders/0/waybill/cancel/", "fulfillment.change_shipment"),
    ("post", "/api/v1/warehouse-orders/0/ship/", "orders.ship_order"),
]
ROLES = ["cs_agent", "cs_lead", "warehouse_clerk", "warehouse_lead", "finance", "manager", "admin"]


@pytest.mark.parametrize("role", ROLES)
def test_role_by_action_matrix(role):
    """Each endpoint answers 403 to a role without its permission; with it, the request gets as
    far as the lookup (404 for the unknown id, 400 for the empty wave request, 200 for a list)."""
    from apps.accounts.roles import ROLE_PERMISSIONS

    user = make_user(role)
    granted = ROLE_PERMISSIONS.get(role, set()) if role != "admin" else {perm for _m, _p, perm in ENDPOINTS}
    client = client_for(user)
    for method, path, perm in ENDPOINTS:
        status = getattr(client, method)(path, {}, format="json").status_code
        if perm in granted:
            assert status in (200, 400, 404), (role, path, status)
        else:
            assert status == 403, (role, path, status)
