"""Products from a legacy sheet: codes, barcodes (full-width digits folded, blank allowed for several),
Chinese yes/no and country names, idempotent re-import."""
from decimal import Decimal
from pathlib import Path

import pytest

from apps.catalog.models import SKU
from apps.imports.services import import_file

pytestmark = pytest.mark.django_db
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"


def run(content=None, name="skus.xlsx", dry_run=False):
    return import_file(kind="skus", content=content or (LEGACY / name).read_bytes(), filename=name, dry_run=dry_run)


def test_products_import_with_their_legacy_spellings_and_twice_changes_nothing():
    report = run()
    assert report.errors == [] and (report.new, report.written) == (3, True)
    rows = {s.code: (s.barcode, s.unit, s.weight_grams, s.shelf_life_days, s.batch_tracked, s.origin_country,
                     s.list_price) for s in SKU.objects.filter(code__startswith="XY-")}
    assert rows == {
        "XY-PF-0704": ("6901234567892", "罐", 95, 720, True, "CN", Decimal("6.66")),
        "XY-CL-0001": (None, "袋", 2500, None, False, "CN", Decimal("29.90")),
        "XY-IM-0100": ("4987654321098", "包", 50, 540, True, "JP", Decimal("39.00")),
    }
    again = run()
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)


def test_bad_product_rows_are_named_and_nothing_is_written():
    content = ("商品编码,条码,商品名称,批次管理,原产国,重量(g)\n"
               "OK-1,,好商品,否,CN,10\n"
               "BAD-1,69ABC,坏条码,也许,中华,1.5\n").encode("gbk")
    report = run(content, name="bad.csv")
    assert {(e.row, e.column) for e in report.errors} == {(3, "条码"), (3, "批次管理"), (3, "原产国"), (3, "重量(g)")}
    assert not SKU.objects.filter(code__in=["OK-1", "BAD-1"]).exists()


def test_a_barcode_already_used_by_another_product_is_a_row_error():
    run()
    content = "商品编码,条码,商品名称\nNEW-1,6901234567892,抢条码\n".encode()
    report = run(content, name="dup.csv")
    assert report.errors and report.errors[0].row == 2 and not SKU.objects.filter(code="NEW-1").exists()
