"""Country profiles: loaded from fixtures/customs/ by a migration, checked when read."""
import json
from decimal import Decimal

import pytest

from apps.customs.models import CountryProfile
from apps.customs.profiles import FIXTURE_DIR, check_profile, load_country_profiles, read_profile_fixtures

pytestmark = pytest.mark.django_db

GOOD = {"code": "KR", "name_zh": "韩国", "name_en": "South Korea", "currency": "KRW",
        "description_languages": ["ko"], "header_fields": [{"field": "consignee_tax_id", "pattern": "^P[0-9]{12}$"}],
        "line_fields": [], "de_minimis": "150", "reviewed_on": "2025-11-30"}


def write(directory, name, entry):
    (directory / name).write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")


def test_the_migration_loaded_every_profile_from_the_fixtures():
    codes = set(CountryProfile.objects.values_list("code", flat=True))
    assert {"US", "DE", "JP", "SG", "TH"} <= codes
    assert codes == {path.stem.upper() for path in FIXTURE_DIR.glob("*.json")}
    thailand = CountryProfile.objects.get(code="TH")
    assert (thailand.name_zh, thailand.currency, thailand.description_languages) == ("泰国", "THB", ["th"])
    assert [spec["field"] for spec in thailand.header_fields] == ["consignee_tax_id"]
    assert thailand.line_fields[0]["field"] == "tisi_number" and "8516" in thailand.line_fields[0]["hs_prefixes"]
    assert thailand.de_minimis == Decimal("1500.00")
    assert CountryProfile.objects.get(code="DE").description_languages == ["de"]
    assert CountryProfile.objects.get(code="JP").description_languages == ["ja"]
    assert CountryProfile.objects.get(code="US").de_minimis is None


def test_loading_again_changes_nothing():
    before = list(CountryProfile.objects.order_by("code").values())
    assert set(load_country_profiles()) == {row["code"] for row in before}
    assert list(CountryProfile.objects.order_by("code").values()) == before


def test_a_profile_edited_in_the_database_is_reset_by_a_reload():
    CountryProfile.objects.filter(code="TH").update(description_languages=[], line_fields=[])
    load_country_profiles()
    thailand = CountryProfile.objects.get(code="TH")
    assert thailand.description_languages == ["th"] and thailand.line_fields


def test_a_new_file_is_added_by_the_loader(tmp_path):
    write(tmp_path, "kr.json", GOOD)
    assert load_country_profiles(directory=tmp_path) == ["KR"]
    korea = CountryProfile.objects.get(code="KR")
    assert korea.de_minimis == Decimal("150.00") and korea.description_languages == ["ko"]


@pytest.mark.parametrize("change, complaint", [
    ({"colour": "red"}, "unknown keys ['colour']"),
    ({"code": "th"}, "not an upper-case ISO 3166"),
    ({"currency": "baht"}, "not an ISO 4217"),
    ({"name_en": " "}, "name_en must be a non-empty string"),
    ({"description_languages": ["klingon"]}, "unknown language 'klingon'"),
    ({"description_languages": ["en"]}, "in every declaration already"),
    ({"header_fields": [{"field": "shoe_size"}]}, "unknown field 'shoe_size'"),
    ({"header_fields": [{"field": "consignee_tax_id"}, {"field": "consignee_tax_id"}]}, "listed twice"),
    ({"header_fields": [{"field": "consignee_tax_id", "pattern": "[0-9"}]}, "is not a regular expression"),
    ({"line_fields": [{"field": "tisi_number", "hs_prefixes": ["85A6"]}]}, "hs_prefixes"),
    ({"line_fields": [{"field": "tisi_number", "when": "always"}]}, "unknown keys ['when']"),
    ({"de_minimis": 150.5}, "never a float"),
    ({"de_minimis": "-1"}, "at most two decimal places"),
    ({"reviewed_on": "last week"}, "not an ISO date"),
])
def test_a_bad_profile_is_refused_with_the_reason(change, complaint):
    with pytest.raises(ValueError, match=complaint.replace("[", r"\[").replace("]", r"\]")):
        check_profile({**GOOD, **change})


def test_a_missing_key_is_refused():
    entry = dict(GOOD)
    del entry["line_fields"]
    with pytest.raises(ValueError, match="missing keys"):
        check_profile(entry)


def test_one_bad_file_stops_the_load_before_anything_is_written(tmp_path):
    write(tmp_path, "kr.json", GOOD)
    write(tmp_path, "zz.json", {**GOOD, "code": "ZZ", "header_fields": [{"field": "shoe_size"}]})
    with pytest.raises(ValueError, match=r"^zz.json: header_fields\[0\]: unknown field"):
        load_country_profiles(directory=tmp_path)
    assert not CountryProfile.objects.filter(code__in=["KR", "ZZ"]).exists()


def test_the_file_name_must_be_the_code(tmp_path):
    write(tmp_path, "korea.json", GOOD)
    with pytest.raises(ValueError, match="must be named kr.json"):
        read_profile_fixtures(tmp_path)


def test_malformed_json_names_the_file(tmp_path):
    (tmp_path / "kr.json").write_text("{\"code\": ", encoding="utf-8")
    with pytest.raises(ValueError, match="^kr.json: "):
        read_profile_fixtures(tmp_path)
