"""Every write to customs declarations. Each public service is one transaction that locks the
order first (apps.orders.lock_objects.lock_order) — a declaration and its lines change only under
their order's lock and are never locked themselves — writes what happened on the order's event
timeline, and ends by bringing the order's `customs_incomplete` hold in line with the declaration:
open while something is missing, released automatically once nothing is.

The hold is owned by the customer-service lead (HOLD_OWNER): what is usually missing comes from the
buyer (consignee tax number, phone) or from product data (English and local names, certificates),
not from the warehouse floor, and the hold typically opens at review, while the order is still
customer service's. It blocks every forward transition, pack and ship included, through
apps.orders.services.order_transition like any other hold.
"""
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from apps.accounts import roles
from apps.core.actors import actor_has_perm
from apps.orders.lock_objects import lock_hold, lock_order
from apps.orders.models import PRE_SHIPMENT_STATUSES, HoldType
from apps.orders.services import open_automatic_hold, order_hold_release, record_order_event

from . import rules
from .errors import (
    DeclarationClosed,
    DeclarationCountryMismatch,
    DeclarationForbidden,
    DeclarationInvalid,
    DeclarationNotFound,
    UnknownCountry,
)
from .models import HS_CODE_PATTERN, CountryProfile, Declaration, DeclarationLine
from .profiles import LANGUAGES, LINE_EXTRAS

HOLD_TYPE = HoldType.CUSTOMS_INCOMPLETE
HOLD_OWNER = roles.CS_LEAD
PREPARE_PERMISSION = "customs.add_declaration"
CHANGE_PERMISSION = "customs.change_declaration"
HOLD_REASON_LENGTH = 500

HEADER_TEXT_FIELDS = ("exporter_name", "exporter_address", "exporter_phone", "exporter_tax_id", "consignee_name",
                      "consignee_address", "consignee_phone", "consignee_tax_id")
# The currency is not among them: it is the order's, and values are what the buyer paid in it.
HEADER_FIELDS = ("country", "incoterm", *HEADER_TEXT_FIELDS)
LINE_TEXT_FIELDS = ("name_zh", "name_en", "unit", "legal_unit")
# Places and the largest value each decimal column holds.
LINE_DECIMALS = {
    "legal_quantity": (Decimal("0.001"), Decimal("1e11")),
    "net_weight_kg": (Decimal("0.001"), Decimal("1e9")),
    "gross_weight_kg": (Decimal("0.001"), Decimal("1e9")),
    "unit_value": (Decimal("0.0001"), Decimal("1e12")),
}
MAX_QUANTITY = 2_147_483_647  # the column is a 32-bit integer
LINE_FIELDS = ("hs_code", "local_names", "quantity", "origin_country", "extras", *LINE_TEXT_FIELDS, *LINE_DECIMALS)
NULLABLE_DECIMALS = ("legal_quantity", "net_weight_kg", "gross_weight_kg")


@dataclass(frozen=True)
class CheckResult:
    declaration: Declaration
    problems: list
    hold: object = None  # the order's open customs hold after the check, if any
    hold_opened: bool = False
    hold_closed: bool = False

    @property
    def complete(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class PrepareResult:
    declaration: Declaration
    created: bool
    changed: list
    check: CheckResult


@dataclass(frozen=True)
class UpdateResult:
    declaration: Declaration
    changed: list
    check: CheckResult


# ---------------------------------------------------------------------------------------------
# Public services


@transaction.atomic
def declaration_prepare(*, order_id: int, country: str, actor) -> PrepareResult:
    """Build the order's declaration for a destination country from the order and its SKUs (HS
    code, names, origin, weights from SKU.weight_grams, unit value from the line's paid price),
    filling what the catalogue lacks from the latest complete declaration of the same SKU, then
    check it. Preparing again fills only what is still blank (a person's edits stay) and writes
    nothing when there is nothing to fill; another country is refused (update the country instead)."""
    if not actor_has_perm(actor, PREPARE_PERMISSION):
        raise DeclarationForbidden(details={"permission": PREPARE_PERMISSION})
    order = lock_order(order_id)
    _ensure_open(order)
    profile = _profile(country)
    declaration = Declaration.objects.select_related("profile").filter(order=order).first()
    if declaration is not None and declaration.profile_id != profile.pk:
        raise DeclarationCountryMismatch(details={"country": declaration.profile.code, "requested": profile.code})
    order_lines = list(order.lines.select_related("sku").order_by("line_no"))
    sources = _Sources(order, profile, order_lines, exclude=declaration)

    if declaration is None:
        declaration = Declaration(order=order, profile=profile, currency=order.currency, **sources.header())
        declaration.save(force_insert=True)
        lines = DeclarationLine.objects.bulk_create(
            DeclarationLine(declaration=declaration, **sources.line(line)) for line in order_lines)
        record_order_event(order, name="declaration_prepared", actor=actor,
                           payload={"declaration_id": declaration.pk, "country": profile.code, "lines": len(lines)})
        return PrepareResult(declaration, True, [], _check(order, declaration))

    changed = _fill_blanks(declaration, order_lines, sources)
    if changed:
        record_order_event(order, name="declaration_refilled", actor=actor,
                           payload={"declaration_id": declaration.pk, "changed": changed})
    return PrepareResult(declaration, False, changed, _check(order, declaration))


@transaction.atomic
def declaration_update(*, declaration_id: int, changes: dict, actor) -> UpdateResult:
    """Edit the header and lines: `changes` holds header fields ("country", "incoterm",
    exporter_* and consignee_*) and "lines", a list of {"line_no", field: value …}.
    `local_names` and `extras` merge key by key (a blank value removes the key); None clears a
    weight or legal quantity. A change that would store malformed data is refused as a whole with
    every problem listed; missing data is stored and reported by the check that follows."""
    if not actor_has_perm(actor, CHANGE_PERMISSION):
        raise DeclarationForbidden(details={"permission": CHANGE_PERMISSION})
    order_id = Declaration.objects.filter(pk=declaration_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise DeclarationNotFound(details={"declaration_id": declaration_id})
    order = lock_order(order_id)
    _ensure_open(order)
    declaration = Declaration.objects.select_related("profile").get(pk=declaration_id)
    lines = {line.line_no: line for line in declaration.lines.select_related("sku")}
    before = set(rules.evaluate(declaration, lines.values()))

    edit = _Edit(declaration, lines)
    edit.apply(changes)
    introduced = [p for p in rules.evaluate(declaration, lines.values()) if p.is_hard and p not in before]
    refused = edit.problems + [p for p in introduced if p not in edit.problems]
    if refused:
        raise DeclarationInvalid(details={"problems": [p.as_dict() for p in refused]})

    if edit.header_fields:
        declaration.save(update_fields=sorted(edit.header_fields | {"updated_at"}))
    for line_no, fields in sorted(edit.line_fields.items()):
        lines[line_no].save(update_fields=sorted(fields))
    if edit.changed:
        payload = {"declaration_id": declaration.pk, "changed": edit.changed}
        if "profile" in edit.header_fields:
            payload["country"] = declaration.profile.code
        record_order_event(order, name="declaration_updated", actor=actor, payload=payload)
    return UpdateResult(declaration, edit.changed, _check(order, declaration, list(lines.values())))


@transaction.atomic
def declaration_check(*, order_id: int) -> CheckResult:
    """Every missing or invalid field of the order's declaration, coded, against the base rules and
    the country profile; opens, keeps (rewording it if the findings changed) or releases the
    order's automatic customs hold to match. Idempotent: a second check changes nothing. Holds
    change only before shipment; a hold a person opened by hand is theirs to release."""
    order = lock_order(order_id)
    declaration = Declaration.objects.select_related("profile").filter(order=order).first()
    if declaration is None:
        raise DeclarationNotFound(details={"order_id": order_id})
    return _check(order, declaration)


# ---------------------------------------------------------------------------------------------
# Checking and the hold


def _check(order, declaration, lines=None) -> CheckResult:
    """The check on a declaration whose order the caller has locked."""
    if lines is None:
        lines = list(declaration.lines.select_related("sku"))
    problems = rules.evaluate(declaration, lines, declaration.profile)
    complete = not problems
    if declaration.is_complete != complete:
        Declaration.objects.filter(pk=declaration.pk).update(is_complete=complete)
        declaration.is_complete = complete
    hold = order.holds.filter(type=HOLD_TYPE, released_at__isnull=True).first()
    if order.status not in PRE_SHIPMENT_STATUSES:
        return CheckResult(declaration, problems, hold)  # shipped or ended: nothing left to stop
    if problems:
        details = {"declaration_id": declaration.pk, "country": declaration.profile.code,
                   "problems": [problem.key() for problem in problems]}
        reason = _hold_reason(declaration, problems)
        if hold is None:
            hold = open_automatic_hold(order, type=HOLD_TYPE, reason=reason, owner_role=HOLD_OWNER, details=details)
            return CheckResult(declaration, problems, hold, hold_opened=True)
        if hold.is_automatic and hold.details != details:
            # Keep the hold (and its place in the queue) but let it name what is missing now.
            hold = lock_hold(order_id=order.pk, hold_id=hold.pk)
            hold.reason, hold.details = reason, details
            hold.save(update_fields=["reason", "details"])
            record_order_event(order, name="customs_hold_updated",
                               payload={"hold_id": hold.pk, "problems": len(problems)})
        return CheckResult(declaration, problems, hold)
    if hold is not None and hold.is_automatic:
        order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=None,
                           resolution=_("Customs declaration complete"))
        return CheckResult(declaration, problems, None, hold_closed=True)
    return CheckResult(declaration, problems, hold)


def _hold_reason(declaration, problems) -> str:
    profile = declaration.profile
    parts = [problem.message if problem.line_no is None
             else _("line %(line)s: %(problem)s") % {"line": problem.line_no, "problem": problem.message}
             for problem in problems]
    reason = _("Customs declaration for %(country)s incomplete (%(count)s): %(problems)s") % {
        "country": _country_name(profile),
        "count": len(problems), "problems": " ".join(parts)}
    return reason if len(reason) <= HOLD_REASON_LENGTH else reason[:HOLD_REASON_LENGTH - 1] + "…"


def _country_name(profile) -> str:
    return profile.name_zh if (get_language() or "").startswith("zh") else profile.name_en


# ---------------------------------------------------------------------------------------------
# Preparing


def _ensure_open(order):
    if order.status not in PRE_SHIPMENT_STATUSES:
        raise DeclarationClosed(details={"order_id": order.pk, "status": order.status})


def _profile(country) -> CountryProfile:
    code = (country or "").strip().upper()
    profile = CountryProfile.objects.filter(code=code).first()
    if profile is None:
        known = list(CountryProfile.objects.order_by("code").values_list("code", flat=True))
        raise UnknownCountry(details={"country": country, "known": known})
    return profile


def _kilograms(grams: int, quantity: int) -> Decimal | None:
    return (Decimal(grams) * quantity / 1000).quantize(Decimal("0.001")) if grams else None


class _Sources:
    """Where a new declaration's values come from: the order and its SKUs first; for what the
    catalogue does not hold (legal unit, local names, certificates) or holds too short (a 6- or
    8-digit HS code), the latest complete declaration line of the same SKU — of the same country
    for local names and country extras. The exporter is the shop's latest complete declaration's,
    else the warehouse's sender; consignee tax number and Incoterm the customer's latest for the
    same country."""

    def __init__(self, order, profile, order_lines, *, exclude=None):
        self.order, self.profile = order, profile
        complete = Declaration.objects.filter(is_complete=True).exclude(pk=getattr(exclude, "pk", None))
        past = (DeclarationLine.objects.filter(sku_id__in={line.sku_id for line in order_lines},
                                               declaration__in=complete.values("pk"))
                .values("sku_id", "declaration__profile_id").annotate(last=Max("id"))
                .values_list("sku_id", "declaration__profile_id", "last"))
        past = list(past)
        by_id = DeclarationLine.objects.in_bulk([last for _sku, _profile, last in past])
        self.same_country, self.any_country = {}, {}
        for sku_id, profile_id, last in past:
            line = by_id[last]
            if profile_id == profile.pk:
                self.same_country[sku_id] = line
            if sku_id not in self.any_country or line.pk > self.any_country[sku_id].pk:
                self.any_country[sku_id] = line
        self.shop_last = complete.filter(order__shop_id=order.shop_id).order_by("-pk").first()
        self.customer_last = (complete.filter(order__customer_id=order.customer_id, profile=profile)
                              .order_by("-pk").first())

    def header(self) -> dict:
        order = self.order
        values = {
            "consignee_name": order.receiver_name,
            "consignee_phone": order.receiver_phone,
            "consignee_address": " ".join(filter(None, [order.province, order.city, order.district,
                                                        order.address_detail, order.postal_code])),
        }
        if self.shop_last is not None:
            values.update({name: getattr(self.shop_last, name) for name in
                           ("exporter_name", "exporter_address", "exporter_phone", "exporter_tax_id")})
        else:
            from apps.fulfillment.models import SenderProfile

            sender = SenderProfile.objects.filter(warehouse_id=order.warehouse_id).first()
            if sender is not None:
                values.update({
                    "exporter_name": sender.company or sender.name,
                    "exporter_address": " ".join(filter(None, [sender.province, sender.city, sender.district,
                                                               sender.address_detail])),
                    "exporter_phone": sender.phone,
                })
        if self.customer_last is not None:
            values["consignee_tax_id"] = self.customer_last.consignee_tax_id
            values["incoterm"] = self.customer_last.incoterm
        return values

    def line(self, order_line) -> dict:
        sku, quantity = order_line.sku, order_line.quantity
        same, seen = self.same_country.get(sku.pk), self.any_country.get(sku.pk)
        weight = _kilograms(sku.weight_grams, quantity)
        legal_unit, legal_quantity = "", None
        if seen is not None and seen.legal_unit:
            legal_unit = seen.legal_unit
            if seen.legal_quantity:
                legal_quantity = (seen.legal_quantity * quantity / seen.quantity).quantize(Decimal("0.001"))
                legal_quantity = legal_quantity if legal_quantity > 0 else None
        local_names = {}
        for language in self.profile.description_languages:
            for earlier in (same, seen):
                if earlier is not None and (earlier.local_names or {}).get(language):
                    local_names[language] = earlier.local_names[language]
                    break
        wanted = {spec["field"] for spec in self.profile.line_fields}
        extras = {key: value for key, value in ((same.extras or {}) if same else {}).items() if key in wanted and value}
        origin = (sku.origin_country or "").strip().upper()
        return {
            "order_line": order_line,
            "line_no": order_line.line_no,
            "sku": sku,
            "hs_code": sku.hs_code if re.fullmatch(HS_CODE_PATTERN, sku.hs_code or "") else (
                seen.hs_code if seen is not None else ""),
            "name_zh": sku.name_zh or order_line.name,
            "name_en": sku.name_en or (seen.name_en if seen is not None else ""),
            "local_names": local_names,
            "quantity": quantity,
            "unit": sku.unit,
            "legal_unit": legal_unit,
            "legal_quantity": legal_quantity,
            "net_weight_kg": weight,
            # The catalogue knows one weight per unit as sold; packing may declare a heavier gross.
            "gross_weight_kg": weight,
            "unit_value": (order_line.line_total / quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP),
            "origin_country": origin if re.fullmatch(r"[A-Z]{2}", origin) else "",
            "extras": extras,
        }


def _fill_blanks(declaration, order_lines, sources) -> list[str]:
    """Fill what is still blank from the sources; a value a person entered is never replaced."""
    changed, header_fields = [], set()
    for name, value in sources.header().items():
        if value and not getattr(declaration, name):
            setattr(declaration, name, value)
            header_fields.add(name)
            changed.append(name)
    if header_fields:
        declaration.save(update_fields=sorted(header_fields | {"updated_at"}))

    existing = {line.order_line_id: line for line in declaration.lines.select_related("sku")}
    for order_line in order_lines:
        fresh = sources.line(order_line)
        line = existing.get(order_line.pk)
        if line is None:  # an order line the declaration does not have yet
            DeclarationLine.objects.create(declaration=declaration, **fresh)
            changed.append(f"lines.{order_line.line_no}")
            continue
        fields = set()
        for name in ("hs_code", "name_zh", "name_en", "origin_country"):
            if fresh[name] and not getattr(line, name):
                setattr(line, name, fresh[name])
                fields.add(name)
        if fresh["legal_unit"] and not line.legal_unit and line.legal_quantity is None:
            line.legal_unit, line.legal_quantity = fresh["legal_unit"], fresh["legal_quantity"]
            fields |= {"legal_unit", "legal_quantity"}
        if fresh["net_weight_kg"] and line.net_weight_kg is None and line.gross_weight_kg is None:
            line.net_weight_kg = line.gross_weight_kg = fresh["net_weight_kg"]
            fields |= {"net_weight_kg", "gross_weight_kg"}
        for name in ("local_names", "extras"):
            current = dict(getattr(line, name) or {})
            added = {key: value for key, value in fresh[name].items() if not current.get(key)}
            if added:
                setattr(line, name, {**current, **added})
                fields.add(name)
        if fields:
            line.save(update_fields=sorted(fields))
            changed.extend(f"lines.{line.line_no}.{name}" for name in sorted(fields))
    return changed


# ---------------------------------------------------------------------------------------------
# Updating


class _Edit:
    """Changes applied in memory, with the problems of the input itself (unknown field, not a
    number …); the caller checks the result and saves only what changed."""

    def __init__(self, declaration, lines):
        self.declaration, self.lines = declaration, lines
        self.problems, self.changed = [], []
        self.header_fields, self.line_fields = set(), {}

    def _problem(self, code, field, line_no=None, value=None):
        self.problems.append(rules.Problem(code, field, line_no, {"value": str(value)}))

    def _set(self, obj, name, value, path, line_no=None):
        if getattr(obj, name) == value:
            return
        setattr(obj, name, value)
        self.changed.append(path)
        if line_no is None:
            self.header_fields.add(name)
        else:
            self.line_fields.setdefault(line_no, set()).add(name)

    def apply(self, changes):
        if not isinstance(changes, dict):
            self._problem("unknown_field", "_", value=type(changes).__name__)
            return
        for name, value in changes.items():
            if name == "lines":
                self._lines(value)
            elif name not in HEADER_FIELDS:
                self._problem("unknown_field", name, value=name)
            elif name == "country":
                profile = _profile(value)
                if profile.pk != self.declaration.profile_id:
                    self.declaration.profile = profile
                    self.changed.append("country")
                    self.header_fields.add("profile")
            elif name == "incoterm":
                self._set(self.declaration, name, _text(value).upper(), name)
            else:
                self._set(self.declaration, name, _text(value), name)

    def _lines(self, entries):
        if not isinstance(entries, list):
            self._problem("unknown_field", "lines", value="lines")
            return
        for entry in entries:
            line_no = entry.get("line_no") if isinstance(entry, dict) else None
            line = self.lines.get(line_no) if isinstance(line_no, int) else None
            if line is None:
                self._problem("unknown_line", "lines", value=line_no)
                continue
            for name, value in entry.items():
                if name != "line_no":
                    self._line_field(line, name, value)

    def _line_field(self, line, name, value):
        n, path = line.line_no, f"lines.{line.line_no}.{name}"
        if name not in LINE_FIELDS:
            self._problem("unknown_field", name, n, name)
        elif name == "hs_code":
            # People copy codes as printed in the tariff: 8516.5000.00 or 8516 50 00 00.
            self._set(line, name, re.sub(r"[\s.]", "", _text(value)), path, n)
        elif name == "origin_country":
            self._set(line, name, _text(value).upper(), path, n)
        elif name in LINE_TEXT_FIELDS:
            self._set(line, name, _text(value), path, n)
        elif name == "quantity":
            if isinstance(value, bool) or not re.fullmatch(r"-?[0-9]+", str(value).strip()):
                self._problem("not_a_number", name, n, value)
            elif int(value) > MAX_QUANTITY:
                self._problem("number_too_large", name, n, value)
            else:
                self._set(line, name, int(value), path, n)
        elif name in LINE_DECIMALS:
            if value is None and name in NULLABLE_DECIMALS:
                self._set(line, name, None, path, n)
                return
            places, limit = LINE_DECIMALS[name]
            number = _decimal(value, places)
            if number is None:
                self._problem("not_a_number", name, n, value)
            elif abs(number) >= limit:
                self._problem("number_too_large", name, n, value)
            else:
                self._set(line, name, number, path, n)
        else:  # local_names, extras: merged key by key
            self._merge(line, name, value, path)

    def _merge(self, line, name, value, path):
        n = line.line_no
        allowed, code = (LANGUAGES, "unknown_language") if name == "local_names" else (LINE_EXTRAS, "unknown_extra")
        if not isinstance(value, dict):
            self._problem(code, name, n, value)
            return
        merged = dict(getattr(line, name) or {})
        for key, text in value.items():
            if key not in allowed:
                self._problem(code, f"{name}.{key}", n, key)
            elif text is None or not str(text).strip():
                merged.pop(key, None)
            else:
                merged[key] = str(text).strip()
        self._set(line, name, merged, path, n)


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _decimal(value, places) -> Decimal | None:
    if isinstance(value, (float, bool)):
        return None  # floats are already inexact; the API parses JSON numbers as Decimal
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number.quantize(places, rounding=ROUND_HALF_UP) if number.is_finite() else None
