"""What a complete declaration needs: the base rules every destination shares, plus the country
profile's. `evaluate` looks at a declaration and its lines (stored, or changed in memory and not
saved yet) and returns every problem, each coded and tied to a field and, for lines, a line number.

Two kinds of problem share one vocabulary. Missing data (no English name, no TISI number …) is
stored and reported by the check, which holds the order. Malformed data (an HS code that is not 10
digits, gross weight below net …) is refused when a change would introduce it (HARD_CODES): the
database has the same rules as CHECK constraints, this says which field and why. The one hard code
stored data can show is an HS code still missing whose catalogue code is too short to use.
"""
import re
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import FieldDoesNotExist
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from .models import COUNTRY_PATTERN, HS_CODE_PATTERN, Declaration, DeclarationLine, Incoterm
from .profiles import LANGUAGES, LINE_EXTRAS

# The base set: what every declaration needs, whatever the destination.
BASE_HEADER_FIELDS = ("exporter_name", "exporter_address", "exporter_phone", "consignee_name",
                      "consignee_address", "consignee_phone")
BASE_LINE_FIELDS = ("name_zh", "name_en", "legal_unit", "origin_country")

HARD_CODES = frozenset({
    "hs_code_not_10_digits", "quantity_not_positive", "legal_quantity_not_positive", "weight_not_positive",
    "gross_below_net", "unit_value_negative", "origin_country_invalid", "currency_invalid", "incoterm_invalid",
    "not_a_number", "number_too_large", "unknown_field", "unknown_line", "unknown_extra", "unknown_language",
})

MESSAGES = {
    "missing": _("%(label)s is missing."),
    "required_for": _("%(label)s is required for %(country)s."),
    "invalid_for": _("%(label)s “%(value)s” is not in the form %(country)s requires."),
    "local_name_missing": _("The name in %(language)s is required for %(country)s."),
    "hs_code_not_10_digits": _("HS code “%(value)s” has %(digits)s digits; the declaration needs the 10-digit code."),
    "quantity_not_positive": _("The quantity must be above zero."),
    "legal_quantity_not_positive": _("The quantity in the legal unit must be above zero."),
    "weight_not_positive": _("%(label)s must be above zero."),
    "gross_below_net": _("Gross weight %(gross)s kg is below net weight %(net)s kg."),
    "unit_value_negative": _("The unit value cannot be negative."),
    "unit_value_missing": _("The unit value is zero; customs needs the value of the goods."),
    "origin_country_invalid": _("“%(value)s” is not a two-letter country code."),
    "currency_invalid": _("“%(value)s” is not a three-letter currency code."),
    "incoterm_invalid": _("“%(value)s” is not an Incoterm."),
    "not_a_number": _("%(label)s “%(value)s” is not a number."),
    "number_too_large": _("%(label)s %(value)s is too large."),
    "no_lines": _("The declaration has no lines."),
    "unknown_field": _("“%(value)s” is not a field that can be changed."),
    "unknown_line": _("The order has no line %(value)s."),
    "unknown_extra": _("“%(value)s” is not a country-specific field."),
    "unknown_language": _("“%(value)s” is not a known language code."),
}


def field_label(name: str):
    """The reader's-language label of a header or line field path ("extras.tisi_number" …)."""
    if name.startswith("local_names."):
        language = name.split(".", 1)[1]
        return _("name in %(language)s") % {"language": LANGUAGES.get(language, language)}
    if name.startswith("extras."):
        return LINE_EXTRAS.get(name.split(".", 1)[1], name)
    for model in (Declaration, DeclarationLine):
        try:
            label = getattr(model._meta.get_field(name), "verbose_name", None)
        except FieldDoesNotExist:
            continue
        if label:
            return label
    return name


@dataclass(frozen=True)
class Problem:
    code: str
    field: str
    line_no: int | None = None
    params: dict = field(default_factory=dict, compare=False)
    template: str = field(default="", compare=False)
    # (Chinese, English) name of the country a profile rule comes from, for the message only.
    country: tuple = field(default=(), compare=False)

    @property
    def is_hard(self) -> bool:
        return self.code in HARD_CODES

    @property
    def message(self) -> str:
        template = MESSAGES[self.template or self.code]
        values = {"label": field_label(self.field), **self.params}
        if self.country:
            values["country"] = self.country[0] if (get_language() or "").startswith("zh") else self.country[1]
        if "language" in self.params:
            values["language"] = LANGUAGES.get(self.params["language"], self.params["language"])
        return str(template) % values

    def as_dict(self) -> dict:
        return {"code": self.code, "field": self.field, "line_no": self.line_no, "message": self.message,
                "details": self.params}

    def key(self) -> dict:
        """What the hold remembers: enough to tell whether the findings changed."""
        return {"code": self.code, "field": self.field, "line_no": self.line_no}


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _country(profile) -> dict:
    return {"country": (profile.name_zh, profile.name_en)}


def _required(problems, name, value, *, profile, spec=None, line_no=None, base=False):
    """A required field: missing, or (with a profile pattern) not in the country's form. Base
    fields are every destination's; the others are the profile's and say which country wants them."""
    code = name.rsplit(".", 1)[-1]
    if _blank(value):
        if base:
            problems.append(Problem(f"{code}_missing", name, line_no, {}, "missing"))
        else:
            problems.append(Problem(f"{code}_missing", name, line_no, {"country": profile.code}, "required_for",
                                    **_country(profile)))
    elif spec and spec.get("pattern") and not re.fullmatch(spec["pattern"], str(value)):
        problems.append(Problem(f"{code}_invalid", name, line_no, {"country": profile.code, "value": str(value)},
                                "invalid_for", **_country(profile)))


def header_problems(declaration, profile) -> list[Problem]:
    problems = []
    for name in BASE_HEADER_FIELDS:
        _required(problems, name, getattr(declaration, name), profile=profile, base=True)
    for spec in profile.header_fields:
        _required(problems, spec["field"], getattr(declaration, spec["field"]), profile=profile, spec=spec)
    if not re.fullmatch(r"[A-Z]{3}", declaration.currency or ""):
        problems.append(Problem("currency_invalid", "currency", None, {"value": declaration.currency}))
    if declaration.incoterm and declaration.incoterm not in Incoterm.values:
        problems.append(Problem("incoterm_invalid", "incoterm", None, {"value": declaration.incoterm}))
    return problems


def _positive(problems, line, name, code, *, required):
    value = getattr(line, name)
    if value is None:
        if required:
            problems.append(Problem(f"{name.removesuffix('_kg')}_missing", name, line.line_no, {}, "missing"))
        return False
    if value <= 0:
        problems.append(Problem(code, name, line.line_no))
        return False
    return True


def line_problems(line, profile) -> list[Problem]:
    """Every problem of one line. `line.sku` is read only when the line has no HS code, to tell a
    code that is missing from one that is too short in the catalogue."""
    n = line.line_no
    problems = []
    if line.hs_code and not re.fullmatch(HS_CODE_PATTERN, line.hs_code):
        problems.append(Problem("hs_code_not_10_digits", "hs_code", n,
                                {"value": line.hs_code, "digits": len(line.hs_code)}))
    elif not line.hs_code:
        short = (line.sku.hs_code or "") if line.sku_id else ""
        problems.append(Problem("hs_code_not_10_digits", "hs_code", n, {"value": short, "digits": len(short)})
                        if short else Problem("hs_code_missing", "hs_code", n, {}, "missing"))
    for name in BASE_LINE_FIELDS:
        _required(problems, name, getattr(line, name), profile=profile, line_no=n, base=True)
    if line.origin_country and not re.fullmatch(COUNTRY_PATTERN, line.origin_country):
        problems.append(Problem("origin_country_invalid", "origin_country", n, {"value": line.origin_country}))
    for language in profile.description_languages:
        if _blank((line.local_names or {}).get(language)):
            problems.append(Problem("local_name_missing", f"local_names.{language}", n,
                                    {"language": language, "country": profile.code}, **_country(profile)))
    for spec in profile.line_requirements(line.hs_code or ""):
        _required(problems, f"extras.{spec['field']}", (line.extras or {}).get(spec["field"]), profile=profile,
                  spec=spec, line_no=n)

    if line.quantity is None or line.quantity <= 0:
        problems.append(Problem("quantity_not_positive", "quantity", n))
    if line.legal_unit and line.legal_quantity is None:
        problems.append(Problem("legal_quantity_missing", "legal_quantity", n, {}, "missing"))
    elif line.legal_quantity is not None and line.legal_quantity <= 0:
        problems.append(Problem("legal_quantity_not_positive", "legal_quantity", n))
    net_ok = _positive(problems, line, "net_weight_kg", "weight_not_positive", required=True)
    gross_ok = _positive(problems, line, "gross_weight_kg", "weight_not_positive", required=True)
    if net_ok and gross_ok and line.gross_weight_kg < line.net_weight_kg:
        problems.append(Problem("gross_below_net", "gross_weight_kg", n,
                                {"gross": str(line.gross_weight_kg), "net": str(line.net_weight_kg)}))
    if line.unit_value < 0:
        problems.append(Problem("unit_value_negative", "unit_value", n))
    elif line.unit_value == Decimal(0):
        problems.append(Problem("unit_value_missing", "unit_value", n))
    return problems


def evaluate(declaration, lines, profile=None) -> list[Problem]:
    """Every problem of the declaration, header first, then line by line in line order."""
    profile = profile or declaration.profile
    problems = header_problems(declaration, profile)
    if not lines:
        problems.append(Problem("no_lines", "lines"))
    for line in sorted(lines, key=lambda item: item.line_no):
        problems.extend(line_problems(line, profile))
    return problems
