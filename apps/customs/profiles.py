"""Country profiles as data: fixtures/customs/<code>.json, one file per destination country.

The schema (fixtures/customs/README.md has it with examples):

    code                   ISO 3166-1 alpha-2, upper case; the file is named after it (th.json)
    name_zh, name_en       the country's names
    currency               ISO 4217 code of the country's currency (de minimis is in it)
    description_languages  languages the goods description must also be given in, besides Chinese
                           and English (which every declaration has): ["th"], ["de"], []
    header_fields          declaration header fields required beyond the base set, each
                           {"field", "pattern"?, "note"?}; fields from HEADER_FIELDS
    line_fields            per-line extras required beyond the base set, each
                           {"field", "hs_prefixes"?, "pattern"?, "note"?}; fields from LINE_EXTRAS;
                           with hs_prefixes only lines whose HS code starts with one of them need it
    de_minimis             optional: value (a string, never a float) below which no duty is
                           charged, in `currency`; null when there is none; information only
    reviewed_on, notes     optional: when the rules were last checked against the country's own
                           sources, and what they are based on

A file is checked as a whole when read (`check_profile`); unknown keys are refused so a typo in
reference data cannot silently drop a requirement. `load_country_profiles` validates every file
before writing any, then update_or_create by code, so loading twice changes nothing.
"""
import datetime
import json
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

from django.conf import settings
from django.utils.translation import gettext_lazy as _

FIXTURE_DIR = Path(settings.BASE_DIR) / "fixtures" / "customs"

# Header fields a profile may require beyond the base set (exporter and consignee name, address
# and phone). Each is a column of Declaration.
HEADER_FIELDS = ("exporter_tax_id", "consignee_tax_id", "incoterm")

# Per-line extras a profile may require; they live in DeclarationLine.extras under these keys.
LINE_EXTRAS = {
    "tisi_number": _("TISI certificate number"),
}

# Languages a goods description may be required in. Chinese and English are the base set.
LANGUAGES = {
    "de": _("German"),
    "es": _("Spanish"),
    "fr": _("French"),
    "id": _("Indonesian"),
    "it": _("Italian"),
    "ja": _("Japanese"),
    "ko": _("Korean"),
    "ms": _("Malay"),
    "nl": _("Dutch"),
    "pt": _("Portuguese"),
    "th": _("Thai"),
    "vi": _("Vietnamese"),
}
BASE_LANGUAGES = ("zh", "en")

REQUIRED_KEYS = ("code", "name_zh", "name_en", "currency", "description_languages", "header_fields",
                 "line_fields")
OPTIONAL_KEYS = ("de_minimis", "reviewed_on", "notes")
REFERENCE_FIELDS = REQUIRED_KEYS[1:] + OPTIONAL_KEYS


def _fail(message):
    raise ValueError(message)


def _check_pattern(where, spec):
    pattern = spec.get("pattern")
    if pattern is None:
        return
    if not isinstance(pattern, str):
        _fail(f"{where}: pattern must be a string")
    try:
        re.compile(pattern)
    except re.error as exc:
        _fail(f"{where}: pattern {pattern!r} is not a regular expression ({exc})")


def _check_specs(key, specs, allowed, extra_keys):
    if not isinstance(specs, list):
        _fail(f"{key} must be a list")
    seen = set()
    for index, spec in enumerate(specs):
        where = f"{key}[{index}]"
        if not isinstance(spec, dict) or "field" not in spec:
            _fail(f"{where}: expected an object with a field")
        unknown = set(spec) - {"field", "pattern", "note", *extra_keys}
        if unknown:
            _fail(f"{where}: unknown keys {sorted(unknown)}")
        if spec["field"] not in allowed:
            _fail(f"{where}: unknown field {spec['field']!r}; known: {sorted(allowed)}")
        if spec["field"] in seen:
            _fail(f"{where}: field {spec['field']!r} listed twice")
        seen.add(spec["field"])
        _check_pattern(where, spec)
        if not isinstance(spec.get("note", ""), str):
            _fail(f"{where}: note must be a string")
        prefixes = spec.get("hs_prefixes")
        if prefixes is not None and (not isinstance(prefixes, list) or not prefixes or not all(
                isinstance(p, str) and re.fullmatch(r"[0-9]{2,10}", p) for p in prefixes)):
            _fail(f"{where}: hs_prefixes must be a non-empty list of 2 to 10 digit strings")


def check_profile(entry) -> dict:
    """The profile's values ready to store, or ValueError naming what is wrong."""
    if not isinstance(entry, dict):
        _fail("a profile is a JSON object")
    missing = [key for key in REQUIRED_KEYS if key not in entry]
    if missing:
        _fail(f"missing keys {missing}")
    unknown = set(entry) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS)
    if unknown:
        _fail(f"unknown keys {sorted(unknown)}")
    if not isinstance(entry["code"], str) or not re.fullmatch(r"[A-Z]{2}", entry["code"]):
        _fail(f"code {entry['code']!r} is not an upper-case ISO 3166 alpha-2 code")
    if not isinstance(entry["currency"], str) or not re.fullmatch(r"[A-Z]{3}", entry["currency"]):
        _fail(f"currency {entry['currency']!r} is not an ISO 4217 code")
    for key in ("name_zh", "name_en"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            _fail(f"{key} must be a non-empty string")
    languages = entry["description_languages"]
    if not isinstance(languages, list) or len(set(languages)) != len(languages):
        _fail("description_languages must be a list without repeats")
    for language in languages:
        if language in BASE_LANGUAGES:
            _fail(f"description_languages: {language!r} is in every declaration already")
        if language not in LANGUAGES:
            _fail(f"description_languages: unknown language {language!r}; known: {sorted(LANGUAGES)}")
    _check_specs("header_fields", entry["header_fields"], HEADER_FIELDS, ())
    _check_specs("line_fields", entry["line_fields"], LINE_EXTRAS, ("hs_prefixes",))

    values = {key: entry[key] for key in REQUIRED_KEYS}
    de_minimis = entry.get("de_minimis")
    if de_minimis is not None:
        if isinstance(de_minimis, float) or isinstance(de_minimis, bool):
            _fail("de_minimis must be a string or an integer, never a float")
        try:
            de_minimis = Decimal(str(de_minimis))
        except InvalidOperation:
            _fail(f"de_minimis {entry['de_minimis']!r} is not an amount")
        if not de_minimis.is_finite() or de_minimis < 0 or de_minimis != de_minimis.quantize(Decimal("0.01")):
            _fail(f"de_minimis {entry['de_minimis']!r} is not an amount of at most two decimal places")
    values["de_minimis"] = de_minimis
    reviewed_on = entry.get("reviewed_on")
    if reviewed_on is not None:
        try:
            reviewed_on = datetime.date.fromisoformat(reviewed_on)
        except (TypeError, ValueError):
            _fail(f"reviewed_on {entry['reviewed_on']!r} is not an ISO date")
    values["reviewed_on"] = reviewed_on
    notes = entry.get("notes", "")
    if not isinstance(notes, str):
        _fail("notes must be a string")
    values["notes"] = notes
    return values


def read_profile_fixtures(directory: Path = FIXTURE_DIR) -> list[dict]:
    """Every profile file of the directory, checked; ValueError names the first bad file."""
    profiles = []
    for path in sorted(directory.glob("*.json")):
        try:
            values = check_profile(json.loads(path.read_text(encoding="utf-8")))
            if path.stem != values["code"].lower():
                _fail(f"the file of {values['code']} must be named {values['code'].lower()}.json")
        except ValueError as exc:  # json.JSONDecodeError is one too
            raise ValueError(f"{path.name}: {exc}") from exc
        profiles.append(values)
    if not profiles:
        raise ValueError(f"no country profiles in {directory}")
    return profiles


def load_country_profiles(profile_model=None, directory: Path = FIXTURE_DIR) -> list[str]:
    """Create or update every profile of the fixture files; returns the codes loaded. Pass the
    historical model from a migration (apps.get_model), or nothing for the live one. A profile
    that is no longer in the files is left alone: declarations point at it."""
    if profile_model is None:
        from .models import CountryProfile as profile_model
    profiles = read_profile_fixtures(directory)  # all checked before the first write
    for values in profiles:
        profile_model.objects.update_or_create(
            code=values["code"], defaults={field: values[field] for field in REFERENCE_FIELDS})
    return [values["code"] for values in profiles]
