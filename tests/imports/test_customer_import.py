"""Legacy customer import: every encoding and file type of fixtures/legacy/, Chinese headers, dates
and full-width digits, dry run writing nothing, all or nothing, idempotent re-import, the error
report (read back), and one clear coded message for files that cannot be read."""
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from django.core.management import CommandError, call_command

from apps.customers.models import Address, Customer
from apps.imports import cleaning
from apps.imports.errors import EmptyFile, EncryptedWorkbook, NoHeaderRow, UnreadableFile, UnsupportedFileType
from apps.imports.services import error_report_xlsx, import_file

pytestmark = pytest.mark.django_db
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"


def run(name, *, dry_run=False, content=None):
    return import_file(kind="customers", content=content if content is not None else (LEGACY / name).read_bytes(),
                       filename=name, dry_run=dry_run)


def customers():
    return {c.code: (c.name, c.phone, c.kind, c.credit_limit, c.payment_terms_days)
            for c in Customer.objects.filter(code__startswith="KH")}


EXPECTED = {
    "KH0001": ("杭州宠物批发有限公司", "13812345678", "b2b", Decimal("50000.00"), 30),
    "KH0002": ("小李宠物店", "13912345678", "b2c", Decimal("0.00"), 0),
    "KH0003": ("宁波爱宠连锁", "13700001111", "b2b", Decimal("20000.00"), 45),
}


@pytest.mark.parametrize("name", ["customers.xlsx", "customers.xls", "customers_gbk.csv", "customers_utf8_bom.csv"])
def test_each_file_type_and_encoding_imports_the_same_customers(name):
    report = run(name)
    assert report.errors == [] and report.written
    assert (report.new, report.updated, report.unchanged) == (3, 0, 0)
    assert customers() == EXPECTED  # full-width digits, spaces inside phones and names, 批发/零售/B2B all read
    address = Address.objects.get(customer__code="KH0001")
    assert (address.receiver, address.province, address.detail, address.is_default) == (
        "王经理", "浙江省", "文三路 90 号", True)


def test_the_xlsx_title_banner_blank_rows_and_duplicate_row_are_handled():
    report = run("customers.xlsx")
    assert report.rows == 4  # three customers and one exact duplicate, blank lines dropped
    assert report.new == 3 and Customer.objects.filter(code="KH0001").count() == 1


def test_a_dry_run_counts_and_previews_but_writes_nothing():
    report = run("customers_gbk.csv", dry_run=True)
    assert (report.new, report.written) == (3, False)
    assert [row["code"] for row in report.preview] == ["KH0001", "KH0002", "KH0003"]
    assert not Customer.objects.filter(code__startswith="KH").exists() and not Address.objects.exists()


def test_importing_the_same_file_twice_changes_nothing():
    run("customers.xlsx")
    before = list(Customer.objects.filter(code__startswith="KH").values()), list(Address.objects.values())
    report = run("customers_gbk.csv")  # the same customers from the other export
    assert (report.new, report.updated, report.unchanged) == (0, 0, 3)
    assert (list(Customer.objects.filter(code__startswith="KH").values()), list(Address.objects.values())) == before


def test_a_changed_row_updates_its_customer():
    run("customers_gbk.csv")
    text = (LEGACY / "customers_gbk.csv").read_bytes().decode("gbk").replace("宁波爱宠连锁", "宁波爱宠连锁（总店）")
    text = text.replace("中山东路 8 号", "中山东路 10 号")
    check = run("changed.csv", content=text.encode("gbk"), dry_run=True)
    # what the admin is shown before confirming: each changed field with its value now and after
    assert [(c.key, c.column, c.before) for c in check.changes] == [
        ("KH0003", "客户名称", "宁波爱宠连锁"), ("KH0003", "详细地址", "")]
    assert check.changes[0].after == "宁波爱宠连锁（总店）" and "中山东路 10 号" in check.changes[1].after
    report = run("changed.csv", content=text.encode("gbk"))
    assert (report.new, report.updated, report.unchanged) == (0, 1, 2)
    assert Customer.objects.get(code="KH0003").name == "宁波爱宠连锁（总店）"
    assert Customer.objects.get(code="KH0003").addresses.get(is_default=True).detail == "中山东路 10 号"


def test_a_new_address_for_an_unchanged_customer_is_listed_as_its_change():
    run("customers_gbk.csv")
    text = (LEGACY / "customers_gbk.csv").read_bytes().decode("gbk").replace("中山东路 8 号", "中山东路 10 号")
    check = run("moved.csv", content=text.encode("gbk"), dry_run=True)
    assert (check.updated, [(c.key, c.column, c.before) for c in check.changes]) == (1, [("KH0003", "详细地址", "")])
    assert "中山东路 10 号" in check.changes[0].after


def test_errors_by_row_and_column_and_nothing_written():
    report = run("customers_with_errors.csv")
    assert not report.written and not Customer.objects.filter(code__startswith="KH01").exists()
    found = {(e.row, e.column) for e in report.errors}
    assert found == {(3, "客户名称"), (4, "手机"), (4, "信用额度"), (5, "客户类型"), (5, "信用额度")}
    assert report.error_rows == 3


def test_a_failure_in_the_last_row_leaves_the_whole_file_unwritten():
    good = "\n".join(f"KH{n:04d},客户{n},零售,138{n:08d},0,0" for n in range(1, 50))
    content = ("客户编码,客户名称,客户类型,手机,信用额度,账期\n" + good + "\nKH9999,最后一行,零售,not-a-phone,0,0\n")
    report = run("big.csv", content=content.encode())
    assert report.errors[-1].row == 51 and not report.written
    assert not Customer.objects.filter(code__startswith="KH").exists()


def test_the_error_report_holds_the_original_rows_an_error_column_and_no_live_formulas():
    report = run("customers_with_errors.csv")
    sheet = openpyxl.load_workbook(io.BytesIO(error_report_xlsx(report))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "Row" or rows[0][0] == "行"
    assert [row[0] for row in rows[1:]] == [3, 4, 5]
    assert rows[3][2] == "'=HYPERLINK(\"http://x\")"  # the formula arrives as text
    assert "客户类型" in rows[3][-1] and "信用额度" in rows[3][-1]


@pytest.mark.parametrize("name,content,error", [
    ("customers.pdf", b"%PDF-1.4", UnsupportedFileType),
    ("empty.csv", b"", EmptyFile),
    ("blank.xlsx", b"   \n", EmptyFile),
    ("encrypted.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 600, EncryptedWorkbook),
    ("junk.xlsx", b"this is not a workbook at all", UnreadableFile),
    ("junk.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x01" * 600, UnreadableFile),
    ("binary.csv", bytes(range(256)) * 4, UnreadableFile),
    ("noheader.csv", "张三,李四\n1,2\n".encode(), NoHeaderRow),
])
def test_files_that_cannot_be_read_get_one_coded_message_and_nothing_is_written(name, content, error):
    with pytest.raises(error) as caught:
        run(name, content=content)
    assert caught.value.code and caught.value.message
    assert not Customer.objects.exists()


@pytest.mark.parametrize("value,expected", [
    ("2026/1/18", date(2026, 1, 18)), ("2026-01-18", date(2026, 1, 18)), ("2026年1月18日", date(2026, 1, 18)),
    (46040, date(2026, 1, 18)), ("46040", date(2026, 1, 18)), ("２０２６－０１－１８", date(2026, 1, 18)),
    ("", None), (None, None),
])
def test_dates_in_every_legacy_spelling(value, expected):
    assert cleaning.parse_date(value) == expected


@pytest.mark.parametrize("value", ["18/01/2026x", "明天", "2026-13-01", 0])
def test_dates_that_are_not_dates_are_refused(value):
    with pytest.raises(ValueError):
        cleaning.parse_date(value)


def test_the_shell_command_imports_and_refuses_bad_files(tmp_path):
    call_command("import_legacy", "customers", str(LEGACY / "customers.xls"), "--dry-run")
    assert not Customer.objects.filter(code__startswith="KH").exists()
    call_command("import_legacy", "customers", str(LEGACY / "customers.xls"))
    assert customers() == EXPECTED
    report_path = tmp_path / "errors.xlsx"
    with pytest.raises(CommandError):
        call_command("import_legacy", "customers", str(LEGACY / "customers_with_errors.csv"),
                     "--errors-to", str(report_path))
    assert report_path.exists()
    with pytest.raises(CommandError, match="unsupported_file_type"):
        call_command("import_legacy", "customers", str(LEGACY / "make_samples.py"))
