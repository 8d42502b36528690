"""Carrier reference data from fixtures/carriers/*.json, one file per carrier.

`load_carriers` is idempotent (update_or_create by code) and is run by data migrations: the first
one creates the carriers, a later migration calling it again ships a schema change. Names, schema
and tracking-number pattern are reference data and are overwritten; the API address is set only
when a carrier is created, and the account numbers never, because those are this company's own
settings (admin) and a reload must not undo them.
"""
import json
from pathlib import Path

from django.conf import settings

from .waybills import check_schema

FIXTURE_DIR = Path(settings.BASE_DIR) / "fixtures" / "carriers"
REFERENCE_FIELDS = ("name_zh", "name_en", "tracking_number_pattern", "waybill_schema")


def read_carrier_fixtures(directory: Path = FIXTURE_DIR) -> list[dict]:
    entries = []
    for path in sorted(directory.glob("*.json")):
        entry = json.loads(path.read_text(encoding="utf-8"))
        try:
            check_schema(entry["waybill_schema"])
        except ValueError as exc:
            raise ValueError(f"{path.name}: {exc}") from exc
        entries.append(entry)
    return entries


def load_carriers(carrier_model=None, directory: Path = FIXTURE_DIR) -> list[str]:
    """Create or update every carrier of the fixture files; returns the codes loaded. Pass the
    historical model from a migration (apps.get_model), or nothing for the live one."""
    if carrier_model is None:
        from .models import Carrier as carrier_model
    codes = []
    for entry in read_carrier_fixtures(directory):
        carrier_model.objects.update_or_create(
            code=entry["code"],
            defaults={field: entry[field] for field in REFERENCE_FIELDS},
            create_defaults={**{field: entry[field] for field in REFERENCE_FIELDS},
                             "api_base_url": entry.get("api_base_url", "")},
        )
        codes.append(entry["code"])
    return codes
