"""Batches with opening stock from an old WMS export: through the stock service into the ledger
as opening balances, dates in every spelling, FEFO-ready batches, idempotent, and the stock
service's own refusals reported at their row."""
from datetime import date
from pathlib import Path

import pytest

from apps.inventory.models import Batch, StockLevel, StockMove
from apps.inventory.services import ledger_matches_levels
from apps.imports.services import OPENING_REFERENCE, import_file
from tests.factories import WarehouseFactory

pytestmark = pytest.mark.django_db
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"


@pytest.fixture
def products():
    WarehouseFactory(code="HZ1", name="杭州一号仓")
    report = import_file(kind="skus", content=(LEGACY / "skus.xlsx").read_bytes(), filename="skus.xlsx",
                         dry_run=False)
    assert report.written


def run(content=None, name="opening_stock_gbk.csv", dry_run=False):
    return import_file(kind="opening_stock", content=content or (LEGACY / name).read_bytes(), filename=name,
                       dry_run=dry_run)


def levels():
    return {(level.sku.code, level.batch.lot_number if level.batch else ""): (
        level.on_hand, level.location_code, level.batch.manufactured_on if level.batch else None,
        level.batch.expires_on if level.batch else None)
        for level in StockLevel.objects.select_related("sku", "batch")}


def test_opening_stock_lands_in_the_ledger_as_opening_balances(products):
    report = run()
    assert report.errors == [] and (report.new, report.written) == (4, True)
    assert levels() == {
        ("XY-PF-0704", "L2405A"): (120, "B-02-1", date(2025, 5, 1), date(2027, 4, 30)),
        ("XY-PF-0704", "L2411B"): (80, "B-02-2", date(2025, 11, 2), date(2028, 4, 27)),  # Excel serial 46870
        ("XY-CL-0001", ""): (300, "A-01-3", None, None),
        ("XY-IM-0100", "JP-0099"): (40, "C-07-1", date(2025, 12, 1), date(2027, 6, 1)),
    }
    assert set(StockMove.objects.values_list("type", "reference")) == {("receipt", OPENING_REFERENCE)}
    assert ledger_matches_levels() == []


def test_a_dry_run_meets_every_refusal_but_writes_nothing(products):
    report = run(dry_run=True)
    assert report.new == 4 and not report.written
    assert not StockLevel.objects.exists() and not StockMove.objects.exists() and not Batch.objects.exists()


def test_importing_the_same_opening_stock_twice_changes_nothing(products):
    run()
    before = levels()
    report = run()
    assert (report.new, report.unchanged, report.written) == (0, 4, True)
    assert levels() == before and StockMove.objects.count() == 4


def test_a_different_opening_quantity_is_refused_rather_than_added(products):
    run()
    changed = (LEGACY / "opening_stock_gbk.csv").read_bytes().decode("gbk").replace(",80,", ",95,")
    report = run(changed.encode("gbk"), name="changed.csv")
    assert [(e.row, e.column) for e in report.errors] == [(3, "数量")]
    assert levels()[("XY-PF-0704", "L2411B")][0] == 80


def test_the_stock_services_refusals_are_reported_at_their_row_and_nothing_is_written(products):
    content = ("仓库,商品编码,批次号,生产日期,有效期至,数量\n"
               "HZ1,XY-PF-0704,L-OK,2025-01-01,2027-01-01,10\n"
               "HZ1,XY-PF-0704,,2025-01-01,2027-01-01,10\n"          # batch-tracked without a lot
               "HZ1,XY-CL-0001,L-1,,,5\n"                             # a lot on an untracked product
               "HZ1,XY-IM-0100,JP-1,2027-01-01,2026-01-01,5\n"       # expiry before manufacture
               "HZ9,NOPE,,,,5\n"                                      # unknown warehouse and SKU
               "HZ1,XY-IM-0100,JP-2,明天,2027-01-01,0\n").encode()    # not a date, zero units
    report = run(content, name="bad.csv")
    assert {(e.row, e.column) for e in report.errors} == {
        (3, "批次号"), (4, "批次号"), (5, "有效期至"), (6, "仓库"), (6, "商品编码"), (7, "生产日期"), (7, "数量")}
    assert not StockLevel.objects.exists() and not Batch.objects.exists()
