"""E-waybill payloads: the per-carrier field schema, validation against it, and building the payload
from an order.

A schema is data (fixtures/carriers/<code>.json, stored on Carrier.waybill_schema):

    {"fields": [{"path": "receiver.phone", "type": "phone", "required": true}, ...]}

Each field has a dotted `path` into the payload and a `type` (str, phone, decimal, int, choice,
bool); optional keys are `label` (the carrier's own word, for people), `required`, `required_if`
(another path: required when that field is given), `max_length` (str), `pattern` (str, a regular
expression the whole value must match), `min`/`max` (decimal, int; decimals written as strings),
`places` (decimal, default 2) and `choices` (choice: {code: label}). docs/carriers.md has the
full description. Only fields the schema names reach the carrier.
"""
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.utils.translation import gettext as _

from apps.core.phones import InvalidPhone, normalise_phone

from .errors import SenderProfileMissing, WaybillInvalid

TYPES = {"str", "phone", "decimal", "int", "choice", "bool"}
FIELD_KEYS = {"path", "type", "label", "required", "required_if", "max_length", "pattern", "min", "max", "places",
              "choices"}
_PATH_RE = re.compile(r"^[a-z_]+(\.[a-z_]+)*$")


class _Invalid(Exception):
    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- the schema itself --------------------------------------------------------------------------

def check_schema(schema) -> None:
    """Raise ValueError naming every problem of a schema, so a typo in a fixture fails at load
    time instead of letting bad payloads through."""
    problems = []
    fields = schema.get("fields") if isinstance(schema, dict) else None
    if not isinstance(fields, list) or not fields:
        raise ValueError("a schema is {\"fields\": [...]} with at least one field")
    paths = [spec.get("path") for spec in fields if isinstance(spec, dict)]
    for index, spec in enumerate(fields):
        where = f"field {index} ({spec.get('path') if isinstance(spec, dict) else spec!r})"
        if not isinstance(spec, dict):
            problems.append(f"{where}: not an object")
            continue
        if unknown := set(spec) - FIELD_KEYS:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        if not isinstance(spec.get("path"), str) or not _PATH_RE.match(spec["path"]):
            problems.append(f"{where}: path must be dotted lower-case names")
        if paths.count(spec.get("path")) > 1:
            problems.append(f"{where}: path given twice")
        if spec.get("type") not in TYPES:
            problems.append(f"{where}: type must be one of {sorted(TYPES)}")
        if spec.get("type") == "choice" and not (isinstance(spec.get("choices"), dict) and spec["choices"]):
            problems.append(f"{where}: a choice needs a non-empty choices object")
        if "required_if" in spec and spec["required_if"] not in paths:
            problems.append(f"{where}: required_if names an unknown path")
        if "pattern" in spec:
            try:
                re.compile(spec["pattern"])
            except (re.error, TypeError) as exc:
                problems.append(f"{where}: bad pattern ({exc})")
        for bound in ("min", "max"):
            if bound in spec:
                try:
                    Decimal(str(spec[bound]))
                except InvalidOperation:
                    problems.append(f"{where}: {bound} is not a number")
    if problems:
        raise ValueError("; ".join(problems))


def required_paths(schema) -> list[str]:
    return [spec["path"] for spec in schema["fields"] if spec.get("required")]


# --- validation ---------------------------------------------------------------------------------

_MISSING = object()


def _get(payload, path):
    value = payload
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _is_given(value) -> bool:
    return value is not _MISSING and value is not None and not (isinstance(value, str) and not value.strip())


def _set(target: dict, path: str, value):
    *parents, leaf = path.split(".")
    for part in parents:
        target = target.setdefault(part, {})
    target[leaf] = value


def _text(value) -> str:
    # Account numbers and postcodes arrive as JSON numbers often enough; booleans never mean text.
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise _Invalid("invalid_format", _("Expected text."))
    return value.strip()


def _check_range(value, spec):
    low = Decimal(str(spec["min"])) if "min" in spec else None
    high = Decimal(str(spec["max"])) if "max" in spec else None
    if (low is not None and value < low) or (high is not None and value > high):
        if low is not None and high is not None:
            message = _("Must be between %(min)s and %(max)s.") % {"min": spec["min"], "max": spec["max"]}
        elif low is not None:
            message = _("Must be at least %(min)s.") % {"min": spec["min"]}
        else:
            message = _("Must be at most %(max)s.") % {"max": spec["max"]}
        raise _Invalid("out_of_range", message)


def _clean_value(value, spec):
    kind = spec["type"]
    if kind in ("str", "choice"):
        text = _text(value)
        if kind == "choice":
            if text not in spec["choices"]:
                raise _Invalid("invalid_choice", _("“%(value)s” is not one of: %(choices)s.")
                               % {"value": text, "choices": ", ".join(spec["choices"])})
            return text
        if "max_length" in spec and len(text) > spec["max_length"]:
            raise _Invalid("too_long", _("At most %(max)d characters (%(length)d given).")
                           % {"max": spec["max_length"], "length": len(text)})
        if "pattern" in spec and not re.fullmatch(spec["pattern"], text):
            raise _Invalid("invalid_format", _("Not in the expected format."))
        return text
    if kind == "phone":
        try:
            return normalise_phone(_text(value))
        except InvalidPhone:
            raise _Invalid("invalid_phone", str(InvalidPhone.message)) from None
    if kind == "decimal":
        if isinstance(value, bool):
            raise _Invalid("not_a_number", _("Enter a number."))
        try:
            number = Decimal(str(value).strip())
        except InvalidOperation:
            raise _Invalid("not_a_number", _("Enter a number.")) from None
        if not number.is_finite():
            raise _Invalid("not_a_number", _("Enter a number."))
        number = number.quantize(Decimal(1).scaleb(-spec.get("places", 2)), rounding=ROUND_HALF_UP)
        _check_range(number, spec)
        return number
    if kind == "int":
        if isinstance(value, bool) or not (isinstance(value, int) or re.fullmatch(r"-?\d+", str(value).strip())):
            raise _Invalid("not_a_number", _("Enter a whole number."))
        number = int(str(value).strip())
        _check_range(number, spec)
        return number
    if kind == "bool":
        if not isinstance(value, bool):
            raise _Invalid("invalid_format", _("Expected true or false."))
        return value
    raise ValueError(f"unknown field type {kind!r}")  # check_schema keeps these out of stored schemas


def validate_waybill(carrier, payload: dict) -> dict:
    """The payload cleaned by the carrier's schema (phones normalised, numbers as int/Decimal,
    only the schema's fields), or WaybillInvalid with every field's problem:
    details = {"receiver.phone": [{"code": "invalid_phone", "message": "…"}], …}."""
    errors: dict[str, list[dict]] = {}
    cleaned: dict = {}
    for spec in carrier.waybill_schema["fields"]:
        path = spec["path"]
        value = _get(payload, path)
        if not _is_given(value):
            needed = spec.get("required") or ("required_if" in spec and _is_given(_get(payload, spec["required_if"])))
            if needed:
                errors[path] = [{"code": "required", "message": _("This field is required.")}]
            continue
        try:
            _set(cleaned, path, _clean_value(value, spec))
        except _Invalid as problem:
            errors[path] = [{"code": problem.code, "message": problem.message}]
    if errors:
        raise WaybillInvalid(details=errors)
    return cleaned


# --- from an order ------------------------------------------------------------------------------

def build_waybill_payload(order, carrier, *, service_type, weight, cod_amount=None, insured_value=None,
                          cargo_name=None, packages=1) -> dict:
    """The e-waybill content for an order, before validation: receiver from the order, sender from
    its warehouse's SenderProfile, accounts from the carrier's settings. Fields a carrier's schema
    does not name are dropped by validate_waybill."""
    from .models import SenderProfile

    sender = SenderProfile.objects.filter(warehouse_id=order.warehouse_id).first() if order.warehouse_id else None
    if sender is None:
        raise SenderProfileMissing(details={"warehouse_id": order.warehouse_id})
    if cargo_name is None:
        first_line = order.lines.order_by("line_no").first()
        cargo_name = first_line.name if first_line else ""
    payload = {
        "service_type": service_type,
        "monthly_account": carrier.monthly_account,
        "sender": {"name": sender.name, "phone": sender.phone, "company": sender.company,
                   "province": sender.province, "city": sender.city, "district": sender.district,
                   "detail": sender.address_detail},
        "receiver": {"name": order.receiver_name, "phone": order.receiver_phone, "province": order.province,
                     "city": order.city, "district": order.district, "detail": order.address_detail,
                     "postal_code": order.postal_code},
        "cargo": {"name": cargo_name, "packages": packages},
        "weight": weight,
        "cod_amount": cod_amount,
        "insured_value": insured_value,
    }
    if cod_amount is not None:
        # Only a cash-on-delivery waybill carries the account the collected money goes to.
        payload["cod_account"] = carrier.cod_account
    return payload


OPTIONAL_SERVICES = ("cod_amount", "insured_value")


def waybill_for_order(order, carrier, **options) -> dict:
    """The order's e-waybill, built and cleaned by the carrier's schema. Asking for cash on
    delivery or insurance from a carrier whose schema has no such field is an error rather than
    a field quietly dropped: the parcel would leave without the money being collected."""
    payload = build_waybill_payload(order, carrier, **options)
    known = {spec["path"] for spec in carrier.waybill_schema["fields"]}
    errors = {path: [{"code": "not_supported", "message": _("This carrier does not offer this service.")}]
              for path in OPTIONAL_SERVICES if payload.get(path) is not None and path not in known}
    try:
        cleaned = validate_waybill(carrier, payload)
    except WaybillInvalid as exc:
        raise WaybillInvalid(details={**exc.details, **errors}) from None
    if errors:
        raise WaybillInvalid(details=errors)
    return cleaned
