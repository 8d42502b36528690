"""The tracking webhook: signed carrier scans stored once, the order moved only forward (through every
skipped step), and stalled parcels put on hold by the sweep and released by the next scan."""
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.core.schedules import SCHEDULES
from apps.fulfillment.errors import TrackingEventInvalid
from apps.fulfillment.models import Carrier, Shipment, TrackingEvent
from apps.fulfillment.services import shipment_request_waybill, tracking_flag_stalled, tracking_ingest
from apps.fulfillment.errors import TrackingNumberUnknown
from apps.fulfillment.services.tracking import sign_webhook_body
from apps.fulfillment.tasks import flag_stalled_shipments
from apps.orders.models import Order, OrderEvent, OrderHold
from apps.orders.services import order_hold_release
from tests.fulfillment.factories import CARRIER_CODES, first_service, shippable_order

pytestmark = pytest.mark.django_db

SECRET = "s3cret-of-the-carrier"
# One code per meaning for each carrier (docs/carriers.md).
CODES = {
    "sf": {"transit": "50", "out": "44", "deliver": "80", "refuse": "70", "nothing": "33"},
    "zto": {"transit": "ACCEPT", "out": "DELIVERING", "deliver": "SIGN", "refuse": "REJECT", "nothing": "FAILED"},
    "yunda": {"transit": "ACCEPT", "out": "DELIVERING", "deliver": "SIGN", "refuse": "REJECT", "nothing": "FAILED"},
    "jt": {"transit": "ACCEPT", "out": "DELIVERING", "deliver": "SIGN", "refuse": "REJECT", "nothing": "FAILED"},
    "yto": {"transit": "GOT", "out": "SENT_SCAN", "deliver": "SIGNED", "refuse": "REJECTED", "nothing": "FAILED"},
    "deppon": {"transit": "GOT", "out": "SENT_SCAN", "deliver": "SIGNED", "refuse": "REJECTED", "nothing": "FAILED"},
    "ems": {"transit": "203", "out": "702", "deliver": "704", "refuse": "708", "nothing": "711"},
}
URL = "/api/v1/carriers/{code}/tracking/"


@pytest.fixture
def carriers(fake_carrier):
    """The fake carrier, with every carrier's webhook secret set on both sides."""
    Carrier.objects.update(webhook_secret=SECRET)
    for code in CARRIER_CODES:
        fake_carrier.app.webhook_secrets[code] = SECRET
    yield fake_carrier
    fake_carrier.app.webhook_secrets.clear()


def shipped_order(code="sf", status="shipped"):
    """An order whose waybill the fake issued (so the fake knows the parcel), then set to `status`
    directly: shipping's stock side is tested elsewhere, and these tests are about what follows."""
    order = shippable_order()
    carrier = Carrier.objects.get(code=code)
    shipment = shipment_request_waybill(order_id=order.pk, carrier_code=code, actor=None,
                                        service_type=first_service(carrier), weight=Decimal("1.2"),
                                        cargo_name="宠物食品")
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()
    return order, shipment


def scan(fake, shipment, meaning, *, at=None, location="上海转运中心"):
    """The signed webhook body the carrier would post for a scan of this parcel."""
    fields = {"code": CODES[shipment.carrier.code][meaning], "location": location}
    if at is not None:
        fields["occurred_at"] = at.isoformat()
    return fake.scan(shipment.carrier.code, shipment.tracking_number, **fields)


def post(raw: bytes, signature: str | None, code="sf"):
    headers = {"HTTP_X_ORDERHUB_SIGNATURE": signature} if signature is not None else {}
    return APIClient().post(URL.format(code=code), data=raw, content_type="application/json", **headers)


def transitions(order):
    return list(OrderEvent.objects.filter(order=order, type="transition").values_list("name", flat=True))


def status(order):
    return Order.objects.get(pk=order.pk).status


# --- the webhook ---------------------------------------------------------------------------------

def test_a_signed_scan_moves_the_order_and_is_stored(carriers):
    order, shipment = shipped_order()
    raw, signature = scan(carriers, shipment, "transit")
    assert signature == sign_webhook_body(SECRET, raw)

    response = post(raw, signature)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["from_status"], body["status"], body["applied"], body["skipped"]) == (
        "shipped", "in_transit", ["transit"], None)
    assert "X-Orderhub-Replay" not in response
    event = TrackingEvent.objects.get(shipment=shipment)
    sent = json.loads(raw)
    assert (event.event_id, event.code, event.transition, event.location) == (
        sent["event_id"], "50", "transit", "上海转运中心")
    assert event.raw == sent and event.carrier.code == "sf"
    moved = OrderEvent.objects.get(order=order, name="transit")
    assert (moved.from_status, moved.to_status, moved.actor, moved.actor_label) == (
        "shipped", "in_transit", None, "system")
    assert moved.payload["tracking_event_id"] == event.pk and moved.payload["code"] == "50"


def test_a_replayed_webhook_changes_nothing_and_answers_the_same(carriers):
    order, shipment = shipped_order()
    raw, signature = scan(carriers, shipment, "deliver")
    first = post(raw, signature)
    history = list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True))

    again = post(raw, signature)

    assert again.status_code == 200 and again.json() == first.json()
    assert again["X-Orderhub-Replay"] == "true"
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1
    assert list(OrderEvent.objects.filter(order=order).values_list("pk", flat=True)) == history
    assert status(order) == "delivered"


def test_skipped_scans_walk_every_step_in_between(carriers):
    order, shipment = shipped_order()
    body = post(*scan(carriers, shipment, "deliver")).json()

    assert body["applied"] == ["transit", "deliver"] and body["status"] == "delivered"
    assert transitions(order) == ["transit", "deliver"]

    order2, shipment2 = shipped_order()
    post(*scan(carriers, shipment2, "out"))
    assert transitions(order2) == ["transit", "out_for_delivery"]
    assert status(order2) == "out_for_delivery"


def test_a_late_older_event_is_stored_but_never_moves_the_order_back(carriers):
    order, shipment = shipped_order()
    now = timezone.now()
    delivered = scan(carriers, shipment, "deliver", at=now)
    late_out = scan(carriers, shipment, "out", at=now - timedelta(hours=3))
    late_transit = scan(carriers, shipment, "transit", at=now - timedelta(hours=20))

    post(*delivered)
    out_answer = post(*late_out).json()
    transit_answer = post(*late_transit).json()

    assert status(order) == "delivered"
    assert out_answer["applied"] == [] and out_answer["skipped"] == "not_forward"
    assert transit_answer["status"] == "delivered"
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 3
    assert transitions(order) == ["transit", "deliver"]


def test_refusal_and_scans_without_meaning(carriers):
    order, shipment = shipped_order("ems", status="out_for_delivery")
    nothing = post(*scan(carriers, shipment, "nothing"), code="ems").json()
    assert nothing["applied"] == [] and nothing["skipped"] == "no_meaning" and status(order) == "out_for_delivery"

    refused = post(*scan(carriers, shipment, "refuse"), code="ems").json()
    assert refused["applied"] == ["refuse"] and status(order) == "refused"


@pytest.mark.parametrize("code", CARRIER_CODES)
def test_every_carrier_delivers_through_the_webhook(carriers, code):
    order, shipment = shipped_order(code, status="in_transit")
    response = post(*scan(carriers, shipment, "deliver"), code=code)
    assert response.status_code == 200, response.json()
    assert response.json()["applied"] == ["deliver"] and status(order) == "delivered"


def test_an_order_being_intercepted_is_not_moved_by_ordinary_scans(carriers):
    order, shipment = shipped_order(status="intercepting")
    answer = post(*scan(carriers, shipment, "deliver")).json()
    assert answer["skipped"] == "intercept" and status(order) == "intercepting"
    assert TrackingEvent.objects.filter(shipment=shipment).count() == 1


def test_a_scan_before_the_order_is_shipped_is_recorded_only(carriers):
    order, shipment = shipped_order(status="packed")
    answer = post(*scan(carriers, shipment, "transit")).json()
    assert answer["skipped"] == "order_not_shipped" and status(order) == "packed"


@pytest.mark.parametrize("signature", [None, "", "sha256=" + "0" * 64, "not-even-a-format"])
def test_a_bad_signature_is_401_and_nothing_is_stored(carriers, signature):
    order, shipment = shipped_order()
    raw, _good = scan(carriers, shipment, "transit")

    response = post(raw, signature)

    assert response.status_code == 401
    assert response.json()["code"] == "webhook_signature_invalid"
    assert not TrackingEvent.objects.exists() and status(order) == "shipped"


def test_a_body_signed_with_another_secret_or_altered_is_refused(carriers):
    order, shipment = shipped_order()
    raw, signature = scan(carriers, shipment, "deliver")
    assert post(raw, sign_webhook_body("someone-else", raw)).status_code == 401
    tampered = raw.replace(b'"80"', b'"70"')
    assert post(tampered, signature).status_code == 401
    # Posted to another carrier's address: its own secret fails it; with the same secret, the body
    # still names another carrier.
    assert post(raw, signature, code="zto").json()["details"]["carrier"][0]["code"] == "invalid_choice"
    Carrier.objects.filter(code="zto").update(webhook_secret="zto-own-secret")
    assert post(raw, signature, code="zto").status_code == 401
    assert status(order) == "shipped"


def test_a_carrier_without_a_secret_and_an_unknown_carrier_are_refused(carriers):
    order, shipment = shipped_order()
    raw, signature = scan(carriers, shipment, "transit")
    Carrier.objects.filter(code="sf").update(webhook_secret="")
    assert post(raw, signature).json()["code"] == "webhook_signature_invalid"
    assert post(raw, signature, code="nosuch").status_code == 401
    assert not TrackingEvent.objects.exists()


def test_a_malformed_body_is_400_with_details(carriers):
    not_json = b"{not json"
    response = post(not_json, sign_webhook_body(SECRET, not_json))
    assert response.status_code == 400 and response.json()["code"] == "tracking_event_invalid"

    incomplete = json.dumps({"carrier": "sf", "tracking_number": "SF100000000001", "code": "80",
                             "occurred_at": "2026-05-01T10:15:00"}).encode()
    response = post(incomplete, sign_webhook_body(SECRET, incomplete))
    assert response.status_code == 400
    assert set(response.json()["details"]) == {"event_id", "occurred_at"}


def test_an_unknown_tracking_number_is_404(carriers):
    shipped_order()
    body = json.dumps({"carrier": "sf", "tracking_number": "SF999999999999", "event_id": "x-1", "code": "80",
                       "occurred_at": "2026-05-01T10:15:00+08:00"}).encode()
    response = post(body, sign_webhook_body(SECRET, body))
    assert response.status_code == 404 and response.json()["code"] == "tracking_number_unknown"
    assert not TrackingEvent.objects.exists()

    with pytest.raises(TrackingNumberUnknown):
        tracking_ingest(carrier_code="sf", body=json.loads(body))


def test_the_service_reports_malformed_events_without_http(carriers):
    with pytest.raises(TrackingEventInvalid) as caught:
        tracking_ingest(carrier_code="sf", body={"carrier": "zto"})
    assert "event_id" in caught.value.details
    order, shipment = shipped_order()
    body = json.loads(scan(carriers, shipment, "transit")[0])
    with pytest.raises(TrackingEventInvalid) as caught:
        tracking_ingest(carrier_code="sf", body={**body, "event_id": "x" * 65})
    assert caught.value.details["event_id"][0]["code"] == "too_long"
    assert not TrackingEvent.objects.exists() and status(order) == "shipped"


def test_an_event_on_a_cancelled_waybill_is_recorded_only(carriers):
    order, shipment = shipped_order()
    raw, signature = scan(carriers, shipment, "transit")
    Shipment.objects.filter(pk=shipment.pk).update(state="cancelled")
    assert post(raw, signature).json()["skipped"] == "shipment_not_live" and status(order) == "shipped"


# --- stalled parcels -----------------------------------------------------------------------------

def age(order, hours):
    """Move the order's past back by `hours`: its events, its scans and its ship time."""
    delta = timedelta(hours=hours)
    for event in TrackingEvent.objects.filter(shipment__order=order):
        TrackingEvent.objects.filter(pk=event.pk).update(occurred_at=event.occurred_at - delta)
    for event in OrderEvent.objects.filter(order=order):
        OrderEvent.objects.filter(pk=event.pk).update(created_at=event.created_at - delta)
    Order.objects.filter(pk=order.pk).update(status_changed_at=Order.objects.get(pk=order.pk).status_changed_at - delta)


def stall_holds(order):
    return OrderHold.objects.filter(order=order, type="stalled_in_transit")


def test_a_parcel_without_a_scan_for_48_hours_gets_one_hold_naming_the_last_event(carriers):
    order, shipment = shipped_order()
    post(*scan(carriers, shipment, "transit", location="杭州转运中心"))
    fresh, _ = shipped_order()
    age(order, 47)
    assert tracking_flag_stalled() == 0

    age(order, 2)
    assert flag_stalled_shipments() == 1
    hold = stall_holds(order).get()
    assert hold.is_open and hold.is_automatic and hold.owner_role == "cs_lead"
    assert "杭州转运中心" in hold.reason and "50" in hold.reason
    assert hold.details["last_event"]["code"] == "50" and hold.details["status"] == "in_transit"
    assert not stall_holds(fresh).exists()

    assert tracking_flag_stalled() == 0  # a second run opens nothing new
    assert stall_holds(order).count() == 1
    assert OrderEvent.objects.filter(order=order, type="hold_opened").count() == 1


def test_without_any_scan_the_ship_time_counts(carriers):
    order, _shipment = shipped_order()
    OrderEvent.objects.create(order=order, type="transition", name="ship", from_status="packed",
                              to_status="shipped", actor_label="clerk", created_at=timezone.now())
    Order.objects.filter(pk=order.pk).update(status_changed_at=timezone.now() - timedelta(hours=60))
    assert tracking_flag_stalled() == 0  # shipped just now, by its ship event

    age(order, 49)
    assert tracking_flag_stalled() == 1
    assert stall_holds(order).get().details["last_event"] is None


def test_delivered_and_intercepted_orders_are_never_stalled(carriers):
    for final in ("delivered", "intercepting", "refused"):
        order, _shipment = shipped_order(status=final)
        age(order, 100)
    assert tracking_flag_stalled() == 0


def test_a_new_scan_closes_the_stall_hold(carriers):
    order, shipment = shipped_order()
    post(*scan(carriers, shipment, "transit"))
    age(order, 50)
    tracking_flag_stalled()
    hold = stall_holds(order).get()

    answer = post(*scan(carriers, shipment, "out")).json()

    hold.refresh_from_db()
    assert not hold.is_open and answer["closed_hold_id"] == hold.pk
    assert "44" in hold.resolution
    assert status(order) == "out_for_delivery"
    assert tracking_flag_stalled() == 0


def test_a_late_old_scan_does_not_close_the_stall_hold(carriers):
    order, shipment = shipped_order()
    age(order, 50)
    tracking_flag_stalled()
    post(*scan(carriers, shipment, "transit", at=timezone.now() - timedelta(hours=72)))
    assert stall_holds(order).get().is_open  # the parcel's last sign of life is still old


def test_a_hold_a_person_released_restarts_the_clock(carriers):
    order, _shipment = shipped_order()
    age(order, 50)
    tracking_flag_stalled()
    hold = stall_holds(order).get()
    order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=None, resolution="Carrier says it is on its way")

    assert tracking_flag_stalled() == 0
    OrderHold.objects.filter(pk=hold.pk).update(opened_at=hold.opened_at - timedelta(hours=49),
                                                released_at=timezone.now() - timedelta(hours=49))
    assert tracking_flag_stalled() == 1


def test_the_stall_sweep_is_installed_as_a_schedule():
    from django_q.models import Schedule

    assert ("flag-stalled-shipments", "apps.fulfillment.tasks.flag_stalled_shipments", 30) in SCHEDULES
    schedule = Schedule.objects.get(name="flag-stalled-shipments")
    assert (schedule.func, schedule.minutes, schedule.repeats) == (
        "apps.fulfillment.tasks.flag_stalled_shipments", 30, -1)
