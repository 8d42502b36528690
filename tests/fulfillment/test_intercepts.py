"""Intercepts through the carrier adapter: accepted → intercepted; refused → back where the order was,
the carrier's words recorded; carrier down → left intercepting with a coded error, and asked again."""
import pytest
from rest_framework.test import APIClient

from apps.fulfillment.models import Shipment
from apps.fulfillment.services import order_request_intercept
from apps.fulfillment.errors import InterceptUnconfirmed
from apps.orders.errors import TransitionForbidden, TransitionNotAllowed
from apps.orders.models import Order, OrderEvent
from tests.factories import make_user
from tests.fulfillment.factories import point_at
from tests.fulfillment.test_tracking import carriers, post, scan, shipped_order, status  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


def intercept_calls(fake, code="sf"):
    return [entry for entry in fake.app.requests if entry == (code, "intercepts")]


def events(order):
    return list(OrderEvent.objects.filter(order=order).exclude(name="waybill_issued")
                .values_list("name", "from_status", "to_status"))


@pytest.mark.parametrize("start", ["shipped", "in_transit", "out_for_delivery"])
def test_an_accepted_intercept_ends_intercepted(fake_carrier, start):
    order, shipment = shipped_order(status=start)
    lead = make_user("warehouse_lead")

    result = order_request_intercept(order_id=order.pk, reason="买家拒收", actor=lead)

    assert result.status == "intercepted" and status(order) == "intercepted"
    assert Order.objects.get(pk=order.pk).status_before_intercept == ""
    assert events(order) == [("request_intercept", start, "intercepting"),
                             ("intercept_succeeded", "intercepting", "intercepted")]
    settled = OrderEvent.objects.get(order=order, name="intercept_succeeded")
    assert settled.payload["accepted"] is True and settled.payload["reference"].startswith("ICSF")
    assert settled.payload["carrier_message"] == "拦截已受理" and settled.actor == lead
    requested = OrderEvent.objects.get(order=order, name="request_intercept")
    assert requested.payload["reason"] == "买家拒收"
    assert requested.payload["tracking_number"] == shipment.tracking_number


def test_a_refusal_after_delivery_returns_the_order_with_the_failure_recorded(carriers):
    order, shipment = shipped_order(status="in_transit")
    scan(carriers, shipment, "deliver")  # the carrier delivered; its webhook has not reached us yet

    result = order_request_intercept(order_id=order.pk, reason="买家拒收", actor=None)

    assert result.status == "in_transit" and status(order) == "in_transit"
    failed = OrderEvent.objects.get(order=order, name="intercept_failed")
    assert (failed.from_status, failed.to_status) == ("intercepting", "in_transit")
    assert failed.payload["accepted"] is False and failed.payload["carrier_message"] == "快件已签收，无法拦截"
    assert failed.payload["reference"] == ""

    # ...and the delivery scan arriving afterwards still moves it on.
    post(*scan(carriers, shipment, "deliver"))
    assert status(order) == "delivered"


def test_a_number_the_carrier_never_issued_is_refused(fake_carrier):
    order, shipment = shipped_order()
    Shipment.objects.filter(pk=shipment.pk).update(tracking_number="SF999999999999")

    result = order_request_intercept(order_id=order.pk, reason="地址错误", actor=None)

    assert result.status == "shipped"
    assert OrderEvent.objects.get(order=order, name="intercept_failed").payload["carrier_message"] == "运单号不存在"


def test_carrier_down_leaves_the_order_intercepting_and_asking_again_settles_it(fake_carrier, closed_port_url):
    order, shipment = shipped_order(status="out_for_delivery")
    point_at("sf", closed_port_url + "/sf")

    with pytest.raises(InterceptUnconfirmed) as caught:
        order_request_intercept(order_id=order.pk, reason="买家拒收", actor=None)

    assert caught.value.code == "intercept_unconfirmed" and caught.value.http_status == 503
    assert caught.value.details["reason"] == "connection_refused"
    assert status(order) == "intercepting"
    note = OrderEvent.objects.get(order=order, name="intercept_unconfirmed")
    assert note.type == "note" and note.payload["error"] == "carrier_unavailable"

    point_at("sf", fake_carrier.base_url("sf"))
    before = len(intercept_calls(fake_carrier))
    result = order_request_intercept(order_id=order.pk, reason="买家拒收", actor=None)

    assert result.status == "intercepted" and len(intercept_calls(fake_carrier)) == before + 1
    assert [name for name, *_ in events(order)] == [
        "request_intercept", "intercept_unconfirmed", "intercept_asked_again", "intercept_succeeded"]


def test_a_refusal_after_an_unconfirmed_attempt_goes_back_to_the_status_before(fake_carrier, closed_port_url):
    order, shipment = shipped_order(status="in_transit")
    point_at("sf", closed_port_url + "/sf")
    with pytest.raises(InterceptUnconfirmed):
        order_request_intercept(order_id=order.pk, reason="买家拒收", actor=None)
    point_at("sf", fake_carrier.base_url("sf"))
    Shipment.objects.filter(pk=shipment.pk).update(tracking_number="SF999999999999")

    assert order_request_intercept(order_id=order.pk, reason="买家拒收", actor=None).status == "in_transit"


def test_who_may_intercept_and_from_where(fake_carrier):
    order, _shipment = shipped_order()
    calls = len(intercept_calls(fake_carrier))
    with pytest.raises(TransitionForbidden):
        order_request_intercept(order_id=order.pk, reason="买家拒收", actor=make_user("warehouse_clerk"))

    packed, _ = shipped_order(status="packed")
    with pytest.raises(TransitionNotAllowed) as caught:
        order_request_intercept(order_id=packed.pk, reason="买家拒收", actor=None)
    assert caught.value.details["status"] == "packed"
    assert events(order) == [] and events(packed) == []
    assert len(intercept_calls(fake_carrier)) == calls  # the carrier is never asked


def test_the_intercept_endpoint(fake_carrier, closed_port_url):
    order, _shipment = shipped_order()
    lead = make_user("warehouse_lead", warehouses=[order.warehouse])
    client = APIClient()
    client.force_authenticate(lead)
    url = f"/api/v1/warehouse-orders/{order.pk}/intercept/"

    assert client.post(url, {"reason": ""}, format="json").status_code == 400

    point_at("sf", closed_port_url + "/sf")
    down = client.post(url, {"reason": "买家拒收"}, format="json")
    assert down.status_code == 503 and down.json()["code"] == "intercept_unconfirmed"
    assert status(order) == "intercepting"

    point_at("sf", fake_carrier.base_url("sf"))
    done = client.post(url, {"reason": "买家拒收"}, format="json")
    assert done.status_code == 200 and done.json()["status"] == "intercepted"

    clerk = APIClient()
    clerk.force_authenticate(make_user("warehouse_clerk", warehouses=[order.warehouse]))
    assert clerk.post(url, {"reason": "买家拒收"}, format="json").status_code == 403


def test_an_intercepted_order_ignores_later_scans(carriers):
    order, shipment = shipped_order()
    order_request_intercept(order_id=order.pk, reason="买家拒收", actor=None)
    answer = post(*scan(carriers, shipment, "deliver")).json()
    assert answer["skipped"] == "intercept" and status(order) == "intercepted"
