import json
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from apps.inventory.services import ledger_matches_levels
from apps.returns.models import ReturnPhoto, ReturnRequest
from tests.factories import ShopFactory, make_user

from .conftest import photo

pytestmark = pytest.mark.django_db


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_create_with_photos_by_multipart_then_walk_the_steps(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("20.00"))})
    line = order.lines.get()
    agent = client_for(people["agent"])
    response = agent.post("/api/v1/returns/", {
        "order_id": order.pk, "kind": "return_and_refund", "reason_code": "logistics.crushed",
        "lines": json.dumps([{"order_line_id": line.pk, "quantity": 2}]), "photos": [photo(), photo("b.png")],
    }, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    return_id = body["id"]
    assert body["state"] == "requested" and len(body["photos"]) == 2 and body["allowed"] == ["approve", "reject"]

    lead, clerk = client_for(people["lead"]), client_for(people["clerk"])
    assert agent.post(f"/api/v1/returns/{return_id}/approve/", {}, format="json").status_code == 403
    assert lead.post(f"/api/v1/returns/{return_id}/approve/", {}, format="json").status_code == 200
    assert agent.post(f"/api/v1/returns/{return_id}/await_return/", {"tracking_no": "SF1"},
                      format="json").status_code == 200
    assert clerk.post(f"/api/v1/returns/{return_id}/receive/", {}, format="json").status_code == 200
    return_line_id = body["lines"][0]["id"]
    response = clerk.post(f"/api/v1/returns/{return_id}/inspect/",
                          {"outcomes": [{"return_line_id": return_line_id, "outcome": "good"}]}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "inspected"
    response = lead.post(f"/api/v1/returns/{return_id}/refund/", {}, format="json")
    assert response.json()["refund_amount"] == "20.00"
    assert lead.post(f"/api/v1/returns/{return_id}/close/", {}, format="json").json()["state"] == "closed"
    finance = client_for(people["finance"])
    assert finance.get(f"/api/v1/returns/{return_id}/").json()["refund_amount"] == "20.00"
    assert finance.post(f"/api/v1/returns/{return_id}/refund/", {}, format="json").status_code == 403
    assert ledger_matches_levels() == []


def test_json_create_and_a_coded_error(ship_order, sku, people):
    order = ship_order({sku: (1, Decimal("10.00"))})
    agent = client_for(people["agent"])
    payload = {"order_id": order.pk, "kind": "refund_only", "reason_code": "product",
               "lines": [{"order_line_id": order.lines.get().pk, "quantity": 1}]}
    response = agent.post("/api/v1/returns/", payload, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "reason_not_leaf")
    response = agent.post("/api/v1/returns/", {**payload, "reason_code": "buyer.changed_mind"}, format="json")
    assert response.status_code == 201


def test_a_non_image_upload_is_refused_with_nothing_written(ship_order, sku, people):
    order = ship_order({sku: (1, Decimal("10.00"))})
    response = client_for(people["agent"]).post("/api/v1/returns/", {
        "order_id": order.pk, "kind": "refund_only", "reason_code": "buyer.changed_mind",
        "lines": json.dumps([{"order_line_id": order.lines.get().pk, "quantity": 1}]),
        "photos": [photo("evil.png", content=b"<script>alert(1)</script>")],
    }, format="multipart")
    assert (response.status_code, response.json()["code"]) == (400, "photo_not_image")
    assert (ReturnRequest.objects.count(), ReturnPhoto.objects.count()) == (0, 0)


def test_out_of_scope_is_404_and_lists_are_scoped(ship_order, sku, people):
    order = ship_order({sku: (1, Decimal("10.00"))})
    agent = client_for(people["agent"])
    return_id = agent.post("/api/v1/returns/", {
        "order_id": order.pk, "kind": "refund_only", "reason_code": "buyer.changed_mind",
        "lines": [{"order_line_id": order.lines.get().pk, "quantity": 1}]}, format="json").json()["id"]
    stranger_agent = make_user("cs_agent", shops=[ShopFactory()])
    stranger_lead = make_user("cs_lead", shops=[ShopFactory()])
    outsider = client_for(stranger_agent)
    assert outsider.get(f"/api/v1/returns/{return_id}/").status_code == 404
    assert outsider.get("/api/v1/returns/").json()["count"] == 0
    assert agent.get("/api/v1/returns/").json()["count"] == 1
    assert client_for(stranger_lead).post(f"/api/v1/returns/{return_id}/approve/", {},
                                          format="json").status_code == 404
    response = outsider.post("/api/v1/returns/", {
        "order_id": order.pk, "kind": "refund_only", "reason_code": "buyer.changed_mind",
        "lines": [{"order_line_id": order.lines.get().pk, "quantity": 1}]}, format="json")
    assert response.status_code == 404
    assert ReturnRequest.objects.get(pk=return_id).state == "requested"


def test_the_reason_tree_marks_leaves(people):
    nodes = client_for(people["agent"]).get("/api/v1/returns/reasons/").json()
    by_code = {node["code"]: node for node in nodes}
    assert not by_code["product"]["is_leaf"] and by_code["product.other"]["is_leaf"]
    assert by_code["product.other"]["requires_text"]
