"""The HTTP adapter against the fake carrier, over real sockets: waybills, intercepts, failures,
and tracking events."""
import json
import re
import threading
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from wsgiref.simple_server import make_server

import pytest

from apps.fulfillment.carriers import HttpCarrierAdapter, adapter_for
from apps.fulfillment.errors import CarrierNotConfigured, CarrierRefused, CarrierUnavailable, TrackingEventInvalid
from apps.fulfillment.fake_carrier import _QuietHandler
from apps.fulfillment.models import Carrier
from apps.fulfillment.waybills import validate_waybill
from tests.fulfillment.factories import CARRIER_CODES, point_at, valid_payload

pytestmark = pytest.mark.django_db

# Each carrier's real number shapes, written out here rather than read from the fixtures.
NUMBER_SHAPES = {
    "sf": r"SF\d{12}",
    "zto": r"7\d{11}",
    "yto": r"YT\d{13}",
    "jt": r"JT\d{13}",
    "yunda": r"\d{13}",
    "deppon": r"DPK\d{12}",
    "ems": r"E[A-Z]\d{9}CN",
}

# The codes of docs/carriers.md and the order transition each one means.
EXPECTED_TRANSITIONS = {
    "sf": {"50": "transit", "30": "transit", "31": "transit", "44": "out_for_delivery", "80": "deliver",
           "70": "refuse", "33": None},
    "ems": {"203": "transit", "306": "transit", "389": "transit", "702": "out_for_delivery", "704": "deliver",
            "708": "refuse", "711": None},
    **{code: {"ACCEPT": "transit", "TRANSPORT": "transit", "DELIVERING": "out_for_delivery", "SIGN": "deliver",
              "REJECT": "refuse", "FAILED": None} for code in ("zto", "yunda", "jt")},
    **{code: {"GOT": "transit", "DEPARTURE": "transit", "ARRIVAL": "transit", "SENT_SCAN": "out_for_delivery",
              "SIGNED": "deliver", "REJECTED": "refuse", "FAILED": None} for code in ("yto", "deppon")},
}
EVENT_CASES = [(carrier, code, transition) for carrier, codes in EXPECTED_TRANSITIONS.items()
               for code, transition in codes.items()]


def wire_payload(carrier, request_id=None, **overrides):
    cleaned = validate_waybill(carrier, valid_payload(carrier, **overrides))
    return {"request_id": request_id or str(uuid.uuid4()), "order_ref": "dy_0000000001", **cleaned}


def issue(carrier, **overrides):
    return adapter_for(carrier).request_waybill(wire_payload(carrier, **overrides))


def scan(fake, carrier_code, tracking_number, code) -> dict:
    """Make the fake carrier scan a parcel; returns the webhook body it would post to us."""
    request = urllib.request.Request(f"{fake.base_url(carrier_code)}/parcels/{tracking_number}/scans",
                                     data=json.dumps({"code": code, "location": "上海浦东"}).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def s10_valid(number: str) -> bool:
    digits = [int(d) for d in number[2:10]]
    check = 11 - sum(d * w for d, w in zip(digits, (8, 6, 4, 2, 3, 5, 9, 7))) % 11
    return int(number[10]) == {10: 0, 11: 5}.get(check, check)


# --- waybills -----------------------------------------------------------------------------------

@pytest.mark.parametrize("code", CARRIER_CODES)
def test_waybill_over_http_in_the_carriers_format(fake_carrier, code):
    carrier = Carrier.objects.get(code=code)
    answer = issue(carrier)
    assert re.fullmatch(NUMBER_SHAPES[code], answer.tracking_number)
    assert re.fullmatch(r"\d{3}-[A-Z]\d{2}-\d{2}", answer.sort_code)
    assert answer.sort_code.startswith("021-")  # Shanghai's code leads the 三段码
    assert answer.package_centre == "上海转运中心"
    assert answer.short_address == "上海 浦东"
    if code == "ems":
        assert s10_valid(answer.tracking_number)


def test_the_same_request_id_gets_the_same_waybill(fake_carrier):
    sf = Carrier.objects.get(code="sf")
    payload = wire_payload(sf)
    first = adapter_for(sf).request_waybill(payload)
    again = adapter_for(sf).request_waybill(payload)
    other = adapter_for(sf).request_waybill(wire_payload(sf))
    assert again == first
    assert other.tracking_number != first.tracking_number


def test_the_sort_code_follows_the_address(fake_carrier):
    zto = Carrier.objects.get(code="zto")
    hangzhou = {"name": "李四", "phone": "13900001111", "province": "浙江省", "city": "杭州市", "district": "西湖区",
                "detail": "文三路 90 号"}
    first, second = issue(zto, receiver=hangzhou), issue(zto, receiver=hangzhou)
    assert first.sort_code == second.sort_code and first.sort_code.startswith("571-")
    assert first.tracking_number != second.tracking_number
    assert (first.package_centre, first.short_address) == ("杭州转运中心", "浙江 杭州 西湖")


def test_the_carrier_refuses_a_payload_missing_its_own_required_field(fake_carrier):
    deppon = Carrier.objects.get(code="deppon")
    payload = wire_payload(deppon)
    del payload["cargo"]["packages"]
    with pytest.raises(CarrierRefused) as caught:
        adapter_for(deppon).request_waybill(payload)
    assert caught.value.code == "carrier_refused"
    assert caught.value.details == {"carrier": "deppon", "status": 400, "carrier_code": "missing_field",
                                    "field": "cargo.packages", "carrier_message": "cargo.packages is required"}


def test_an_unreachable_carrier_is_a_coded_error_that_says_nothing_arrived(closed_port_url):
    sf = point_at("sf", f"{closed_port_url}/sf")
    with pytest.raises(CarrierUnavailable) as caught:
        adapter_for(sf).request_waybill(wire_payload(sf))
    assert caught.value.code == "carrier_unavailable" and caught.value.http_status == 503
    assert caught.value.details == {"carrier": "sf", "reason": "connection_refused"}
    assert caught.value.may_have_arrived is False


def test_a_carrier_that_does_not_answer_in_time_may_have_acted(silent_server_url):
    sf = point_at("sf", f"{silent_server_url}/sf")
    with pytest.raises(CarrierUnavailable) as caught:
        HttpCarrierAdapter(sf, timeout=0.3).request_waybill(wire_payload(sf))
    assert caught.value.details["reason"] == "timeout"
    assert caught.value.may_have_arrived is True


@pytest.fixture
def scripted_carrier():
    """A carrier answering whatever the test sets: (status, body)."""
    script = {"status": "200 OK", "body": b"{}"}

    def app(environ, start_response):
        start_response(script["status"], [("Content-Type", "application/json")])
        return [script["body"]]

    httpd = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    script["url"] = f"http://127.0.0.1:{httpd.server_port}"
    yield script
    httpd.shutdown()
    httpd.server_close()


@pytest.mark.parametrize("status, body, reason", [
    ("502 Bad Gateway", b"<html>nginx</html>", "http_502"),
    ("200 OK", b"not json", "malformed_answer"),
    ("200 OK", json.dumps({"tracking_number": "SF1"}).encode(), "malformed_answer"),
])
def test_a_server_error_or_a_garbled_answer_may_have_acted(scripted_carrier, status, body, reason):
    scripted_carrier.update(status=status, body=body)
    sf = point_at("sf", scripted_carrier["url"])
    with pytest.raises(CarrierUnavailable) as caught:
        adapter_for(sf).request_waybill(wire_payload(sf))
    assert caught.value.details["reason"] == reason
    assert caught.value.may_have_arrived is True


def test_a_tracking_number_in_the_wrong_shape_is_not_accepted(scripted_carrier):
    sf = point_at("sf", scripted_carrier["url"])
    payload = wire_payload(sf)
    scripted_carrier["body"] = json.dumps({"request_id": payload["request_id"], "tracking_number": "1234567890",
                                           "sort_code": "021-A01-01", "package_centre": "上海转运中心",
                                           "short_address": "上海 浦东"}).encode()
    with pytest.raises(CarrierUnavailable) as caught:
        adapter_for(sf).request_waybill(payload)
    assert caught.value.details["problem"] == "tracking number not in the carrier's format"


def test_a_carrier_without_an_address_is_not_configured():
    with pytest.raises(CarrierNotConfigured):
        adapter_for(point_at("zto", ""))


# --- intercepts ---------------------------------------------------------------------------------

def test_an_intercept_of_a_parcel_on_its_way_is_accepted(fake_carrier):
    yto = Carrier.objects.get(code="yto")
    number = issue(yto).tracking_number
    scan(fake_carrier, "yto", number, "DEPARTURE")
    answer = adapter_for(yto).request_intercept(number, "买家拒收")
    assert answer.accepted is True and answer.reference and answer.message
    assert adapter_for(yto).request_intercept(number, "买家拒收") == answer  # asked twice, one intercept


def test_an_intercept_of_a_delivered_parcel_is_refused(fake_carrier):
    sf = Carrier.objects.get(code="sf")
    number = issue(sf).tracking_number
    scan(fake_carrier, "sf", number, "80")
    answer = adapter_for(sf).request_intercept(number, "买家拒收")
    assert answer.accepted is False and answer.reference == "" and "签收" in answer.message


def test_an_intercept_of_a_number_the_carrier_never_issued_is_refused(fake_carrier):
    jt = Carrier.objects.get(code="jt")
    answer = adapter_for(jt).request_intercept("JT5999999999999", "买家拒收")
    assert answer.accepted is False and answer.reference == ""


# --- tracking events ----------------------------------------------------------------------------

@pytest.mark.parametrize("carrier_code, code, transition", EVENT_CASES,
                         ids=[f"{c}:{e}" for c, e, _t in EVENT_CASES])
def test_each_tracking_code_maps_to_its_order_transition(carrier_code, code, transition):
    carrier = Carrier.objects.get(code=carrier_code)
    number = {"sf": "SF100000000001", "zto": "700000000001", "yto": "YT8000000000001", "yunda": "4300000000001",
              "jt": "JT5000000000001", "deppon": "DPK360000000001", "ems": "EA123456785CN"}[carrier_code]
    event = adapter_for(carrier).parse_tracking_event({
        "carrier": carrier_code, "tracking_number": number, "event_id": "e-1", "code": code,
        "occurred_at": "2026-05-01T10:15:00+08:00", "location": "上海浦东", "description": "scan"})
    assert event.transition == transition
    assert (event.carrier, event.tracking_number, event.code, event.event_id) == (carrier_code, number, code, "e-1")
    assert event.occurred_at == datetime(2026, 5, 1, 2, 15, tzinfo=timezone.utc)


def test_a_scan_at_the_fake_gives_a_webhook_body_the_adapter_reads(fake_carrier):
    ems = Carrier.objects.get(code="ems")
    number = issue(ems).tracking_number
    body = scan(fake_carrier, "ems", number, "702")
    event = adapter_for(ems).parse_tracking_event(body)
    assert (event.tracking_number, event.transition, event.description) == (number, "out_for_delivery", "投递员正在投递")
    assert event.occurred_at.utcoffset() == timedelta(hours=8)
    assert event.event_id == f"{number}-1"


def test_an_unknown_code_moves_nothing():
    zto = Carrier.objects.get(code="zto")
    event = adapter_for(zto).parse_tracking_event({"carrier": "zto", "tracking_number": "700000000001",
                                                  "event_id": "x", "code": "CUSTOMS_HOLD",
                                                  "occurred_at": "2026-05-01T10:15:00+08:00"})
    assert event.transition is None and event.location == ""


@pytest.mark.parametrize("change, field, error", [
    ({"tracking_number": None}, "tracking_number", "required"),
    ({"tracking_number": "SF1"}, "tracking_number", "invalid_format"),
    ({"occurred_at": "2026-05-01T10:15:00"}, "occurred_at", "invalid_format"),
    ({"occurred_at": "yesterday"}, "occurred_at", "invalid_format"),
    ({"carrier": "zto"}, "carrier", "invalid_choice"),
    ({"code": ""}, "code", "required"),
])
def test_a_malformed_tracking_event_is_a_coded_error(change, field, error):
    sf = Carrier.objects.get(code="sf")
    raw = {"carrier": "sf", "tracking_number": "SF100000000001", "event_id": "e-1", "code": "80",
           "occurred_at": "2026-05-01T10:15:00+08:00", **change}
    with pytest.raises(TrackingEventInvalid) as caught:
        adapter_for(sf).parse_tracking_event(raw)
    assert caught.value.code == "tracking_event_invalid"
    assert [e["code"] for e in caught.value.details[field]] == [error]
