"""Carrier records and their e-waybill schemas: loaded from fixtures, enforced field by field."""
import copy
from decimal import Decimal

import pytest

from apps.fulfillment.carrier_data import load_carriers, read_carrier_fixtures
from apps.fulfillment.errors import WaybillInvalid
from apps.fulfillment.models import Carrier
from apps.fulfillment.waybills import check_schema, required_paths, validate_waybill
from tests.fulfillment.factories import ACCOUNTS, CARRIER_CODES, valid_payload

pytestmark = pytest.mark.django_db

FIXTURES = {entry["code"]: entry for entry in read_carrier_fixtures()}
REQUIRED = [(code, path) for code in CARRIER_CODES for path in required_paths(FIXTURES[code]["waybill_schema"])]


def errors_of(carrier, payload) -> dict:
    with pytest.raises(WaybillInvalid) as caught:
        validate_waybill(carrier, payload)
    assert caught.value.code == "waybill_invalid"
    return {path: [entry["code"] for entry in entries] for path, entries in caught.value.details.items()}


def without(payload, path):
    payload = copy.deepcopy(payload)
    *parents, leaf = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    del target[leaf]
    return payload


def with_value(payload, path, value):
    payload = copy.deepcopy(payload)
    *parents, leaf = path.split(".")
    target = payload
    for part in parents:
        target = target[part]
    target[leaf] = value
    return payload


# --- the carrier records ------------------------------------------------------------------------

def test_the_seven_carriers_are_loaded_with_their_schemas():
    carriers = {c.code: c for c in Carrier.objects.all()}
    assert set(carriers) == {"sf", "zto", "jt", "yto", "yunda", "deppon", "ems"}
    for code, carrier in carriers.items():
        assert carrier.waybill_schema == FIXTURES[code]["waybill_schema"]
        assert carrier.tracking_number_pattern == FIXTURES[code]["tracking_number_pattern"]
        assert carrier.name_zh and carrier.name_en and carrier.is_active
        check_schema(carrier.waybill_schema)


def test_reloading_restores_reference_data_and_keeps_the_companys_settings():
    Carrier.objects.filter(code="sf").update(monthly_account="0210012345", api_base_url="https://gw.example.com/sf",
                                             waybill_schema={"fields": []}, name_zh="改过的名字")
    assert load_carriers() == sorted(CARRIER_CODES)
    assert Carrier.objects.count() == 7
    sf = Carrier.objects.get(code="sf")
    assert sf.waybill_schema == FIXTURES["sf"]["waybill_schema"] and sf.name_zh == "顺丰速运"
    assert (sf.monthly_account, sf.api_base_url) == ("0210012345", "https://gw.example.com/sf")


def test_schemas_differ_where_the_carriers_do():
    def spec(code, path):
        return next((s for s in FIXTURES[code]["waybill_schema"]["fields"] if s["path"] == path), None)

    assert spec("sf", "monthly_account")["pattern"] == r"^\d{10}$"
    assert spec("sf", "service_type")["choices"]["1"] == "标准快递"
    assert spec("sf", "service_type")["choices"]["2"] == "顺丰特惠"
    assert spec("sf", "cod_account")["required_if"] == "cod_amount"
    assert spec("deppon", "cargo.packages")["required"] and spec("deppon", "cargo.name")["required"]
    assert spec("zto", "monthly_account") is None and spec("zto", "receiver.district")["required"]
    assert spec("yunda", "cod_amount") is None  # no cash on delivery with Yunda
    choices = {code: set(spec(code, "service_type")["choices"]) for code in CARRIER_CODES}
    assert choices["jt"] != choices["deppon"] != choices["sf"]


@pytest.mark.parametrize("schema, problem", [
    ({"fields": [{"path": "weight", "type": "float"}]}, "type must be one of"),
    ({"fields": [{"path": "weight", "type": "decimal", "maximum": 3}]}, "unknown keys"),
    ({"fields": [{"path": "a", "type": "str", "required_if": "b"}]}, "required_if names an unknown path"),
    ({"fields": [{"path": "a", "type": "choice"}]}, "needs a non-empty choices"),
    ({"fields": [{"path": "a", "type": "str", "pattern": "("}]}, "bad pattern"),
    ({"fields": [{"path": "Receiver Name", "type": "str"}]}, "path must be"),
    ({"fields": []}, "at least one field"),
])
def test_a_broken_schema_is_refused_at_load_time(schema, problem):
    with pytest.raises(ValueError, match=problem):
        check_schema(schema)


# --- validation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("code", CARRIER_CODES)
def test_a_complete_payload_is_cleaned(code):
    carrier = Carrier.objects.get(code=code)
    cleaned = validate_waybill(carrier, valid_payload(carrier))
    assert cleaned["receiver"]["phone"] == "13812345678"  # normalised
    assert cleaned["weight"] == Decimal("1.250") and str(cleaned["weight"]) == "1.250"
    assert cleaned["insured_value"] == Decimal("300.00")
    known = {spec["path"].split(".")[0] for spec in carrier.waybill_schema["fields"]}
    assert set(cleaned) <= known  # only the carrier's own fields go out
    assert ("monthly_account" in cleaned) == (code in ACCOUNTS)


@pytest.mark.parametrize("code, path", REQUIRED, ids=[f"{c}:{p}" for c, p in REQUIRED])
def test_each_required_field_is_enforced(code, path):
    carrier = Carrier.objects.get(code=code)
    assert errors_of(carrier, without(valid_payload(carrier), path)) == {path: ["required"]}
    assert errors_of(carrier, with_value(valid_payload(carrier), path, "  ")) == {path: ["required"]}


def test_every_carrier_requires_the_receiver_and_a_weight():
    for code in CARRIER_CODES:
        paths = {path for c, path in REQUIRED if c == code}
        assert {"receiver.name", "receiver.phone", "receiver.province", "receiver.city", "receiver.detail",
                "sender.name", "sender.phone", "service_type", "weight"} <= paths, code


def test_all_problems_are_reported_at_once_with_translatable_messages():
    sf = Carrier.objects.get(code="sf")
    payload = valid_payload(sf, monthly_account="12345", service_type="9", weight="heavy")
    payload["receiver"]["phone"] = "12345"
    with pytest.raises(WaybillInvalid) as caught:
        validate_waybill(sf, payload)
    details = caught.value.details
    assert {path: [e["code"] for e in entries] for path, entries in details.items()} == {
        "monthly_account": ["invalid_format"], "service_type": ["invalid_choice"], "weight": ["not_a_number"],
        "receiver.phone": ["invalid_phone"]}
    assert all(entry["message"] for entries in details.values() for entry in entries)


@pytest.mark.parametrize("code, path, value, error", [
    ("sf", "receiver.phone", "1381234567", "invalid_phone"),
    ("zto", "sender.phone", "88886666", "invalid_phone"),  # a landline needs its area code
    ("sf", "receiver.name", "张" * 21, "too_long"),
    ("jt", "receiver.detail", "路" * 201, "too_long"),
    ("sf", "cargo.name", "猫" * 21, "too_long"),
    ("deppon", "cargo.name", "猫" * 31, "too_long"),
    ("sf", "service_type", "EZ", "invalid_choice"),
    ("jt", "service_type", "1", "invalid_choice"),
    ("deppon", "service_type", "standard", "invalid_choice"),
    ("zto", "weight", "0", "out_of_range"),
    ("zto", "weight", "-1", "out_of_range"),
    ("zto", "weight", "50.001", "out_of_range"),
    ("ems", "weight", "41", "out_of_range"),
    ("deppon", "weight", "999.5", None),
    ("sf", "insured_value", "50000.01", "out_of_range"),
    ("yto", "insured_value", "20000.01", "out_of_range"),
    ("deppon", "cargo.packages", 0, "out_of_range"),
    ("deppon", "cargo.packages", "two", "not_a_number"),
    ("deppon", "cargo.packages", 1.5, "not_a_number"),
    ("sf", "weight", "1,5", "not_a_number"),
    ("sf", "weight", "NaN", "not_a_number"),
    ("sf", "weight", True, "not_a_number"),
    ("sf", "monthly_account", "021001234X", "invalid_format"),
    ("ems", "receiver.postal_code", "20012", "invalid_format"),
    ("sf", "receiver.name", {"first": "三"}, "invalid_format"),
])
def test_malformed_values_give_coded_errors(code, path, value, error):
    carrier = Carrier.objects.get(code=code)
    payload = with_value(valid_payload(carrier), path, value)
    if error is None:
        validate_waybill(carrier, payload)
    else:
        assert errors_of(carrier, payload) == {path: [error]}


def test_cash_on_delivery_needs_the_cod_account_where_the_carrier_asks_for_one():
    for code in ("sf", "deppon"):
        carrier = Carrier.objects.get(code=code)
        assert errors_of(carrier, valid_payload(carrier, cod_amount="199.00")) == {"cod_account": ["required"]}
        cleaned = validate_waybill(carrier, valid_payload(carrier, cod_amount="199", cod_account=ACCOUNTS[code]
                                                         ["cod_account"]))
        assert cleaned["cod_amount"] == Decimal("199.00")
    sf = Carrier.objects.get(code="sf")
    assert errors_of(sf, valid_payload(sf, cod_amount="20000.01", cod_account="0210098765")) == {
        "cod_amount": ["out_of_range"]}
    zto = Carrier.objects.get(code="zto")
    assert validate_waybill(zto, valid_payload(zto, cod_amount="99"))["cod_amount"] == Decimal("99.00")
    # Without cash on delivery the COD account is not asked for.
    assert "cod_account" not in validate_waybill(sf, valid_payload(sf))
