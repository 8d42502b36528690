"""Importing a legacy file: read it, clean every cell, check every row, then let the resource
count or write it. A dry run writes nothing; a confirmed import is one transaction for the whole
file and writes nothing at all if any row is wrong. Errors come back by row and column, and as a
spreadsheet of the original rows with an error column."""
import io
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.phones import InvalidPhone, normalise_phone

from . import cleaning, open_orders
from .open_orders import OpenOrders
from .readers import count_rows, read_table
from .report import CHANGES_KEPT, FieldChange, ImportReport, Rollback, RowError, kept_value
from .resources import CustomerResource, SKUResource

KIND_WORDS = {"b2b": "b2b", "批发": "b2b", "企业": "b2b", "经销商": "b2b", "分销": "b2b",
              "b2c": "b2c", "零售": "b2c", "个人": "b2c", "消费者": "b2c", "": "b2c"}
TIER_WORDS = {"": "standard", "普通": "standard", "standard": "standard", "银卡": "silver", "silver": "silver",
              "金卡": "gold", "gold": "gold", "vip": "vip", "贵宾": "vip"}


def _clean_customer(values: dict) -> tuple[dict, dict[str, str]]:
    """Canonical values and {field: message} for what is wrong."""
    row = {name: cleaning.text(value) for name, value in values.items()}
    problems = {}
    for name in CustomerResource.REQUIRED:
        if not row.get(name):
            problems[name] = _("Required.")
    kind = KIND_WORDS.get(row.get("kind", "").lower())
    if kind is None:
        problems["kind"] = _("Use B2B (批发/企业) or B2C (零售/个人).")
    row["kind"] = kind or "b2c"
    tier = TIER_WORDS.get(row.get("tier", "").lower())
    if tier is None:
        problems["tier"] = _("Unknown tier.")
    row["tier"] = tier or "standard"
    if row.get("phone"):
        try:
            row["phone"] = normalise_phone(row["phone"])
        except InvalidPhone:
            problems["phone"] = _("Not a phone number.")
    for name, parse in (("credit_limit", cleaning.parse_decimal), ("payment_terms_days", cleaning.parse_int)):
        try:
            number = parse(row.get(name))
        except ValueError:
            problems[name] = _("Not a number.")
            continue
        if number is not None and number < 0:
            problems[name] = _("Cannot be negative.")
        row[name] = number if number is not None else 0
    return row, problems


YES_WORDS = {"是", "y", "yes", "true", "1", "√", "批次"}
NO_WORDS = {"", "否", "n", "no", "false", "0"}
COUNTRY_WORDS = {"中国": "CN", "日本": "JP", "韩国": "KR", "美国": "US", "德国": "DE", "法国": "FR", "泰国": "TH",
                 "澳大利亚": "AU", "新西兰": "NZ", "英国": "GB"}


def _clean_sku(values: dict) -> tuple[dict, dict[str, str]]:
    row = {name: cleaning.text(value) for name, value in values.items()}
    problems = {}
    for name in SKUResource.REQUIRED:
        if not row.get(name):
            problems[name] = _("Required.")
    barcode = row.get("barcode", "").replace(" ", "")
    if barcode and not barcode.isdigit():
        problems["barcode"] = _("A barcode has digits only.")
    row["barcode"] = barcode or None
    row["unit"] = row.get("unit") or "件"
    for name in ("weight_grams", "shelf_life_days"):
        try:
            number = cleaning.parse_int(row.get(name))
        except ValueError:
            problems[name] = _("Not a whole number.")
            continue
        if number is not None and number < 0:
            problems[name] = _("Cannot be negative.")
        row[name] = number if number is not None else (0 if name == "weight_grams" else None)
    flag = row.get("batch_tracked", "").lower()
    if flag not in YES_WORDS | NO_WORDS:
        problems["batch_tracked"] = _("Use 是 or 否.")
    row["batch_tracked"] = flag in YES_WORDS
    country = row.get("origin_country", "")
    country = COUNTRY_WORDS.get(country, country.upper()) or "CN"
    if not re.fullmatch(r"[A-Z]{2}", country):
        problems["origin_country"] = _("Use a two-letter country code such as CN or JP.")
    row["origin_country"] = country
    try:
        price = cleaning.parse_decimal(row.get("list_price"))
    except ValueError:
        problems["list_price"] = _("Not a number.")
        price = None
    if price is not None and price < 0:
        problems["list_price"] = _("Cannot be negative.")
    row["list_price"] = price
    return row, problems


class OpeningStock:
    """Batches with their opening stock: written through inventory's stock_receive as receipts
    referenced OPENING_REFERENCE, so the ledger starts from them. Not a django-import-export
    resource: a row is a ledger line, which only the stock service may write."""

    HEADERS = {
        "warehouse": ("仓库", "仓库编码", "仓库代码", "warehouse", "warehouse code"),
        "sku": ("商品编码", "SKU编码", "货号", "sku", "sku code"),
        "lot_number": ("批次号", "批号", "批次", "lot", "lot number", "batch"),
        "manufactured_on": ("生产日期", "生产日", "manufactured", "manufactured on"),
        "expires_on": ("有效期至", "有效期", "到期日", "过期日期", "expires", "expires on", "expiry"),
        "quantity": ("数量", "期初数量", "库存", "库存数量", "quantity", "qty"),
        "location_code": ("库位", "货位", "location"),
    }
    REQUIRED = ("warehouse", "sku", "quantity")

    KEY = ("warehouse", "sku", "lot_number")  # one opening balance per batch and warehouse
    KEY_COLUMN = "sku"


OPENING_REFERENCE = "opening-balance"


def _clean_opening_stock(values: dict) -> tuple[dict, dict[str, str]]:
    row = {name: cleaning.text(values.get(name)) for name in OpeningStock.HEADERS if name not in (
        "manufactured_on", "expires_on")}
    problems = {}
    for name in OpeningStock.REQUIRED:
        if not row.get(name):
            problems[name] = _("Required.")
    for name in ("manufactured_on", "expires_on"):
        try:
            row[name] = cleaning.parse_date(values.get(name))
        except ValueError:
            problems[name] = _("Not a date (use 2026-01-18, 2026/1/18 or 2026年1月18日).")
            row[name] = None
    try:
        quantity = cleaning.parse_int(row.get("quantity"))
    except ValueError:
        problems["quantity"] = _("Not a whole number.")
        quantity = None
    if quantity is not None and quantity <= 0:
        problems["quantity"] = _("Must be more than zero.")
    row["quantity"] = quantity
    return row, problems


def import_file(*, kind: str, content: bytes, filename: str, dry_run: bool, actor=None, progress=None) -> ImportReport:
    """Check (dry run) or import a legacy file. Raises ImportFileError for a file that cannot be
    read at all; row problems are in the report, and then nothing is written. progress(rows_done),
    if given, is called every few hundred rows while the rows are written."""
    importer = IMPORTERS[kind]
    columns = importer.columns
    table = read_table(content, filename, columns.HEADERS)
    report = ImportReport(kind=kind, dry_run=dry_run, rows=len(table.rows), source_headers=table.source_headers,
                          source_rows=table.rows)
    header_of = {name: table.source_headers[index] for index, name in enumerate(table.columns) if name}
    cleaned, numbers, seen = [], [], {}
    for number, cells in table.rows:
        values = {name: cells[index] for index, name in enumerate(table.columns) if name}
        row, problems = importer.clean(values)
        key = tuple(row.get(name) for name in columns.KEY)
        if key in seen:
            first_number, first_row = seen[key]
            if first_row == row:
                continue  # the same row twice (a copy-paste): imported once
            problems.setdefault(columns.KEY_COLUMN,
                                _("Same code as row %(row)d with different values.") % {"row": first_number})
        elif any(key):
            seen[key] = (number, row)
        for name, message in problems.items():
            report.errors.append(RowError(number, header_of.get(name, name), message))
        if not problems:
            cleaned.append(row)
            numbers.append(number)
    importer.write(cleaned, numbers, header_of, report, dry_run=dry_run, actor=actor, progress=progress)
    return report


RESOURCE_CHUNK = 5000  # rows per import_data call: import-export keeps a result per row until it returns


def _run_resource(resource_class, rows, numbers, header_of, report, *, dry_run, actor, progress):
    """A django-import-export resource over the cleaned rows, RESOURCE_CHUNK rows per call inside
    the file's one transaction, so memory stays bounded whatever the file's length (actor: the
    resources write plain records)."""
    import tablib

    resource = resource_class()
    headers = [name for name in resource.HEADERS if name in header_of] or list(resource.HEADERS)
    values = [[row.get(name, "") for name in headers] for row in rows]
    try:
        with transaction.atomic():
            for offset in range(0, len(values), RESOURCE_CHUNK):
                chunk = tablib.Dataset(*values[offset:offset + RESOURCE_CHUNK], headers=headers)
                result = resource.import_data(
                    chunk, dry_run=dry_run, raise_errors=False, collect_failed_rows=True,
                    progress=None if progress is None else lambda done, offset=offset: progress(offset + done))
                for error in result.base_errors:  # a failed bulk write: no row of its own
                    report.errors.append(RowError(0, "", str(error.error)))
                for invalid in result.invalid_rows:
                    for name, messages in invalid.error_dict.items():
                        report.errors.append(RowError(numbers[offset + invalid.number - 1], header_of.get(name, name),
                                                      "; ".join(messages)))
                for number, errors in result.row_errors():
                    for error in errors:
                        report.errors.append(RowError(numbers[offset + number - 1], "", str(error.error)))
                for key, name, before, after in resource.changes[:CHANGES_KEPT - len(report.changes)]:
                    report.changes.append(FieldChange(str(key), header_of.get(name) or resource.HEADERS[name][0],
                                                      kept_value(before), kept_value(after)))
                totals = result.totals
                report.new += totals["new"]
                report.updated += totals["update"]
                report.unchanged += totals["skip"]
            if dry_run or report.errors:
                raise Rollback
    except Rollback:
        pass
    report.finish([dict(zip(headers, row)) for row in values[:10]])


# Which column a stock-service refusal belongs to.
_STOCK_ERROR_COLUMNS = {"lot_not_tracked": "lot_number", "lot_required": "lot_number", "duplicate_lot": "lot_number",
                        "invalid_batch_dates": "expires_on", "invalid_quantity": "quantity"}


def _run_opening_stock(rows, numbers, header_of, report, *, dry_run, actor, progress):
    """Each row through stock_receive inside one transaction, rolled back for a dry run or any
    error (so a dry run meets every refusal the real import would). A row whose opening balance is
    already in the ledger with the same quantity is unchanged; with another, an error: a count
    adjustment corrects stock, not a second opening balance."""
    from apps.catalog.models import SKU
    from apps.core.errors import DomainError
    from apps.inventory.models import StockLevel, StockMove, Warehouse
    from apps.inventory.services import stock_receive

    warehouses = dict(Warehouse.objects.filter(is_active=True).values_list("code", "pk"))
    skus = dict(SKU.objects.filter(code__in={row["sku"] for row in rows}, is_active=True).values_list("code", "pk"))
    opened = {}
    for sku_id, warehouse_id, lot, quantity in (
            StockMove.objects.filter(reference=OPENING_REFERENCE, type=StockMove.Type.RECEIPT, sku_id__in=skus.values())
            .values_list("sku_id", "stock_level__warehouse_id", "stock_level__batch__lot_number", "on_hand_delta")):
        opened[(warehouse_id, sku_id, lot or "")] = opened.get((warehouse_id, sku_id, lot or ""), 0) + quantity

    def error(number, name, message):
        report.errors.append(RowError(number, header_of.get(name, name), str(message)))

    try:
        with transaction.atomic():
            for done, (row, number) in enumerate(zip(rows, numbers), start=1):
                if progress is not None and done % 500 == 0:
                    progress(done)
                warehouse_id, sku_id = warehouses.get(row["warehouse"]), skus.get(row["sku"])
                if warehouse_id is None:
                    error(number, "warehouse", _("Unknown warehouse code."))
                if sku_id is None:
                    error(number, "sku", _("Unknown SKU code (import the products first)."))
                if warehouse_id is None or sku_id is None:
                    continue
                already = opened.get((warehouse_id, sku_id, row.get("lot_number", "")))
                if already is not None:
                    if already == row["quantity"]:
                        report.unchanged += 1
                    else:
                        error(number, "quantity", _("An opening balance of %(units)d is already recorded; correct "
                                                    "stock with a count.") % {"units": already})
                    continue
                try:
                    level = stock_receive(warehouse_id=warehouse_id, sku_id=sku_id, quantity=row["quantity"],
                                          actor=actor, lot_number=row.get("lot_number", ""),
                                          manufactured_on=row["manufactured_on"], expires_on=row["expires_on"],
                                          reference=OPENING_REFERENCE, note=_("Opening balance (legacy import)"))
                except DomainError as exc:
                    error(number, _STOCK_ERROR_COLUMNS.get(exc.code, ""), exc.message)
                    continue
                if row.get("location_code"):
                    StockLevel.objects.filter(pk=level.pk).update(location_code=row["location_code"][:32])
                report.new += 1
            if dry_run or report.errors:
                raise Rollback
    except Rollback:
        pass
    report.finish([{name: str(row.get(name) or "") for name in OpeningStock.HEADERS} for row in rows[:10]])


DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value) -> str:
    """A cell a spreadsheet would run as a formula is written as text (CSV/formula injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(DANGEROUS_PREFIXES) else text


def error_report_xlsx(report: ImportReport) -> bytes:
    """The original rows (with their row numbers) and an error column, as .xlsx."""
    import openpyxl

    by_row = {}
    for error in report.errors:
        by_row.setdefault(error.row, []).append(f"{error.column}: {error.message}" if error.column else error.message)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "errors"
    sheet.append([_("Row"), *map(neutralise, report.source_headers), _("Errors")])
    for number, cells in report.source_rows:
        if number in by_row:
            sheet.append([number, *map(neutralise, cells[:len(report.source_headers)]), "; ".join(by_row[number])])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


# --- the admin's upload → check → confirm -----------------------------------------------------------

MAX_UPLOAD_BYTES = 50 * 1024 * 1024


def _store_report(job, report: ImportReport):
    job.rows, job.new, job.updated, job.unchanged = report.rows, report.new, report.updated, report.unchanged
    job.error_rows = report.error_rows
    job.errors = [{"row": e.row, "column": e.column, "message": e.message} for e in report.errors]
    job.preview = [{name: kept_value(value) for name, value in row.items()} for row in report.preview]
    job.changes = [{"key": c.key, "column": c.column, "before": c.before, "after": c.after} for c in report.changes]


# Files with more rows are checked and imported by a django-q2 task, the page showing its progress.
INLINE_ROWS = 2000
TASK_TIMEOUT = 1800  # seconds a worker gives one file; 100,000 rows take about two minutes


@transaction.atomic
def import_check(*, kind: str, upload, actor):
    """Keep the uploaded file and its dry run (by a task, for a large file). A file that cannot be
    read at all is refused here with its coded error, and nothing is kept."""
    from django.core.files.base import ContentFile

    from .errors import ImportFileError
    from .models import ImportJob

    _require_importer(actor)
    if kind not in IMPORTERS:
        raise ImportFileError(_("Choose what the file holds."), code="unknown_import_kind", details={"kind": kind})
    if upload.size > MAX_UPLOAD_BYTES:
        raise ImportFileError(_("The file is larger than 50 MB."), code="file_too_large",
                              details={"size": upload.size})
    content = upload.read()
    rows = count_rows(content, upload.name, IMPORTERS[kind].columns.HEADERS)
    job = ImportJob(kind=kind, filename=upload.name[:255], created_by=actor, rows=rows)
    job.file.save(upload.name, ContentFile(content), save=False)
    if rows > INLINE_ROWS:
        job.status = job.Status.CHECKING
        job.save()
        _enqueue(job)
    else:
        _store_report(job, import_file(kind=kind, content=content, filename=upload.name, dry_run=True))
        job.save()
    return job


def import_confirm(*, job_id: int, actor):
    """Import a checked file for real (by a task, for a large file): all rows or none. Confirming
    twice imports once."""
    from .errors import ImportFileError
    from .lock_objects import lock_job

    _require_importer(actor)
    with transaction.atomic():
        job = lock_job(job_id)
        if job.is_running:
            raise ImportFileError(_("This file is still being checked or imported."), code="import_running",
                                  details={"status": job.status})
        if job.status != job.Status.CHECKED:
            raise ImportFileError(_("This file has already been imported."), code="import_already_done",
                                  details={"status": job.status})
        job.imported_by = actor
        if job.rows > INLINE_ROWS:
            job.status = job.Status.IMPORTING
            job.save()
            _enqueue(job)
        else:
            _run_job(job, dry_run=False)
    return job


def run_import_job(*, job_id: int) -> str:
    """The django-q2 task of a large file: its check (status checking) or its import (importing),
    the job locked throughout, progress written for the page as rows are done. A job no longer
    running (a second delivery of the task) is left as it is. A crash writes nothing of the file
    and leaves the job refused with the reason, so the page stops waiting."""
    import logging

    from .lock_objects import lock_job
    from .progress import clear_progress, write_progress

    with transaction.atomic():
        job = lock_job(job_id)
        if not job.is_running:
            return job.status
        started = time.time()
        progress = partial(write_progress, job.pk, total=job.rows, started=started)
        progress(done=0)
        try:
            with transaction.atomic():
                _run_job(job, dry_run=job.status == job.Status.CHECKING, progress=lambda done: progress(done=done))
        except Exception as exc:  # noqa: BLE001  (whatever it was, the admin must hear of it)
            logging.getLogger(__name__).exception("import job %s stopped", job.pk)
            job.status = job.Status.REFUSED
            job.errors = [{"row": 0, "column": "", "message": _("The import stopped and wrote nothing: %(reason)s")
                           % {"reason": exc}}]
            job.save()
        finally:
            clear_progress(job.pk)
    return job.status


def _run_job(job, *, dry_run: bool, progress=None):
    """Check or import the job's file and keep what it found; a written import is final."""
    from django.utils import timezone

    actor = job.created_by if dry_run else job.imported_by
    report = import_file(kind=job.kind, content=_job_content(job), filename=job.filename, dry_run=dry_run,
                         actor=actor, progress=progress)
    _store_report(job, report)
    job.status = job.Status.IMPORTED if report.written else job.Status.CHECKED
    if report.written:
        job.imported_at = timezone.now()
    job.save()


def _enqueue(job):
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task("apps.imports.tasks.run_import_job", job.pk, timeout=TASK_TIMEOUT))


def _require_importer(actor):
    from apps.core.errors import PermissionDenied

    if actor is None or not actor.has_perm("imports.add_importjob"):
        raise PermissionDenied(details={"permission": "imports.add_importjob"})


def job_report(job) -> ImportReport:
    """The stored check of a job with its original rows, for the downloadable error report."""
    return import_file(kind=job.kind, content=_job_content(job), filename=job.filename, dry_run=True)


def _job_content(job) -> bytes:
    """The bytes that were checked: the file kept beside the job."""
    with job.file.open("rb") as stored:
        return stored.read()


@dataclass(frozen=True)
class Importer:
    """One kind of legacy file: its columns (HEADERS, REQUIRED, KEY, KEY_COLUMN), how a row is
    cleaned, and how the clean rows are written."""

    columns: type
    clean: Callable[[dict], tuple[dict, dict[str, str]]]
    write: Callable


IMPORTERS = {
    "customers": Importer(CustomerResource, _clean_customer, partial(_run_resource, CustomerResource)),
    "skus": Importer(SKUResource, _clean_sku, partial(_run_resource, SKUResource)),
    "opening_stock": Importer(OpeningStock, _clean_opening_stock, _run_opening_stock),
    "open_orders": Importer(OpenOrders, open_orders.clean, open_orders.write),
}
