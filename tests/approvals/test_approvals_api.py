"""The approval API: the same services as the pages, coded errors, scope."""
import pytest
from rest_framework.test import APIClient

from apps.approvals.models import ApprovalDecision, ApprovalRequest
from apps.orders.models import Order
from tests.approvals.test_approvals import Team
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def team():
    return Team()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_inbox_and_detail_with_the_approvers_context(team):
    order = team.order("8000.00")
    Order.objects.filter(customer=order.customer).exclude(pk=order.pk).delete()
    rows = client_for(team.wang).get("/api/v1/approvals/").json()["results"]
    assert [row["order"]["external_id"] for row in rows] == [order.external_id]
    assert rows[0]["current_step"]["name"] == "区域经理审批"
    detail = client_for(team.wang).get(f"/api/v1/approvals/{rows[0]['id']}/", HTTP_ACCEPT_LANGUAGE="en").json()
    context = detail["context"]
    assert context["credit"]["score"] == 60
    assert (context["credit"]["used"], context["credit"]["this_order"]) == ("0.00", "8000.00")
    assert context["history"]["orders"] == 0
    assert context["triggers"][0]["reasons"] == ["amount 8000.00 above 5000.00", "amount 8000.00 at most 50000.00",
                                                 "credit score 60 below 90"]
    assert [a["user"] for a in detail["steps"][0]["assignments"]] == ["wang", "li"]


def test_credit_used_by_other_orders_is_shown_apart_from_this_one(team):
    order = team.order("8000.00")
    customer = order.customer
    customer.credit_limit = "20000.00"
    customer.payment_terms_days = 30
    customer.save()
    OrderFactory(customer=customer, status="delivered", goods_total="5000.00", shipping_fee="0",
                 grand_total="5000.00", paid_amount="1000.00")
    request = ApprovalRequest.objects.get(order=order)
    credit = client_for(team.wang).get(f"/api/v1/approvals/{request.pk}/").json()["context"]["credit"]
    assert (credit["limit"], credit["used"], credit["this_order"], credit["available"]) == (
        "20000.00", "4000.00", "8000.00", "8000.00")


def test_margin_over_the_lines_with_a_known_cost(team):
    order = team.order("8000.00")
    line = order.lines.get()  # 3 × 19.90 = 59.70
    line.sku.unit_cost = "12.00"
    line.sku.save()
    request = ApprovalRequest.objects.get(order=order)
    margin = client_for(team.wang).get(f"/api/v1/approvals/{request.pk}/").json()["context"]["margin"]
    assert margin == {"revenue": "59.70", "cost": "36.00", "amount": "23.70", "rate": "39.7", "complete": True}


def test_decide_through_the_api(team):
    order = team.order("8000.00")
    request = ApprovalRequest.objects.get(order=order)
    response = client_for(team.wang).post(f"/api/v1/approvals/{request.pk}/decide/",
                                          {"outcome": "approve", "comment": "同意"}, format="json")
    assert response.status_code == 200 and response.json()["state"] == "approved"
    assert Order.objects.get(pk=order.pk).status == "ready"
    again = client_for(team.li).post(f"/api/v1/approvals/{request.pk}/decide/",
                                     {"outcome": "approve", "comment": "同意"}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "approval_not_pending"


def test_outsiders_get_404_and_nothing_changes(team):
    """Out of scope reads as not found on every endpoint: a refusal would confirm the request exists."""
    order = team.order("8000.00")
    request = ApprovalRequest.objects.get(order=order)
    response = client_for(team.outsider).post(f"/api/v1/approvals/{request.pk}/decide/",
                                              {"outcome": "approve", "comment": "ok"}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "approval_not_found"
    assert client_for(team.outsider).get(f"/api/v1/approvals/{request.pk}/").status_code == 404
    assert not ApprovalDecision.objects.exists()


def test_self_approval_is_403(team):
    order = team.order("80000.00", created_by=team.wang)
    request = ApprovalRequest.objects.get(order=order)
    response = client_for(team.wang).post(f"/api/v1/approvals/{request.pk}/decide/",
                                          {"outcome": "approve", "comment": "ok"}, format="json")
    assert response.status_code == 403 and response.json()["code"] == "self_approval"


def test_bad_input_is_a_coded_400(team):
    order = team.order("8000.00")
    request = ApprovalRequest.objects.get(order=order)
    response = client_for(team.wang).post(f"/api/v1/approvals/{request.pk}/decide/",
                                          {"outcome": "maybe"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "validation_failed"
    assert set(response.json()["details"]) == {"outcome", "comment"}
    response = client_for(team.wang).post(f"/api/v1/approvals/{request.pk}/delegate/",
                                          {"to_user": 999999, "comment": "x"}, format="json")
    assert response.status_code == 400 and response.json()["code"] == "ineligible_signer"
    assert not ApprovalDecision.objects.exists()
