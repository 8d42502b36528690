"""Importing a legacy file: read it, clean every cell, check every row, then let the resource
count or write it. A dry run writes nothing; a confirmed import is one transaction for the whole
file and writes nothing at all if any row is wrong. Errors come back by row and column, and as a
spreadsheet of the original rows with an error column."""
import io
import re
from dataclasses import dataclass, field

from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.phones import InvalidPhone, normalise_phone

from . import cleaning
from .readers import read_table
from .resources import CustomerResource, SKUResource

RESOURCES = {"customers": CustomerResource, "skus": SKUResource}
KIND_WORDS = {"b2b": "b2b", "批发": "b2b", "企业": "b2b", "经销商": "b2b", "分销": "b2b",
              "b2c": "b2c", "零售": "b2c", "个人": "b2c", "消费者": "b2c", "": "b2c"}
TIER_WORDS = {"": "standard", "普通": "standard", "standard": "standard", "银卡": "silver", "silver": "silver",
              "金卡": "gold", "gold": "gold", "vip": "vip", "贵宾": "vip"}


@dataclass
class RowError:
    row: int  # spreadsheet row number
    column: str  # the header as written in the file ("" for the whole row)
    message: str


@dataclass
class ImportReport:
    kind: str
    dry_run: bool
    rows: int = 0
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    preview: list[dict] = field(default_factory=list)
    written: bool = False
    source_headers: list[str] = field(default_factory=list)
    source_rows: list[tuple[int, list]] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return len({error.row for error in self.errors})


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


CLEANERS = {"customers": _clean_customer, "skus": _clean_sku}


def import_file(*, kind: str, content: bytes, filename: str, dry_run: bool, actor=None) -> ImportReport:
    """Check (dry run) or import a legacy file. Raises ImportFileError for a file that cannot be
    read at all; row problems are in the report, and then nothing is written."""
    resource_class = RESOURCES[kind]
    table = read_table(content, filename, resource_class.HEADERS)
    report = ImportReport(kind=kind, dry_run=dry_run, rows=len(table.rows), source_headers=table.source_headers,
                          source_rows=table.rows)
    header_of = {name: table.source_headers[index] for index, name in enumerate(table.columns) if name}
    cleaned, numbers, seen = [], [], {}
    for number, cells in table.rows:
        values = {name: cells[index] for index, name in enumerate(table.columns) if name}
        row, problems = CLEANERS[kind](values)
        key = row.get(resource_class._meta.import_id_fields[0])
        if key in seen:
            first_number, first_row = seen[key]
            if first_row == row:
                continue  # the same row twice (a copy-paste): imported once
            problems.setdefault(resource_class._meta.import_id_fields[0],
                                _("Same code as row %(row)d with different values.") % {"row": first_number})
        elif key:
            seen[key] = (number, row)
        for name, message in problems.items():
            report.errors.append(RowError(number, header_of.get(name, name), message))
        if not problems:
            cleaned.append(row)
            numbers.append(number)
    _run(resource_class(), cleaned, numbers, header_of, report, dry_run=dry_run)
    return report


class _Rollback(Exception):
    """Leaves the import's transaction: a dry run, or a file with any wrong row."""


def _run(resource, rows, numbers, header_of, report, *, dry_run):
    import tablib

    headers = [name for name in resource.HEADERS if name in header_of] or list(resource.HEADERS)
    dataset = tablib.Dataset(headers=headers)
    for row in rows:
        dataset.append([row.get(name, "") for name in headers])
    try:
        with transaction.atomic():
            result = resource.import_data(dataset, dry_run=dry_run, raise_errors=False, collect_failed_rows=True)
            for invalid in result.invalid_rows:
                for name, messages in invalid.error_dict.items():
                    report.errors.append(RowError(numbers[invalid.number - 1], header_of.get(name, name),
                                                  "; ".join(messages)))
            for number, errors in result.row_errors():
                for error in errors:
                    report.errors.append(RowError(numbers[number - 1], "", str(error.error)))
            if dry_run or report.errors:
                raise _Rollback
    except _Rollback:
        pass
    totals = result.totals
    report.new, report.updated, report.unchanged = totals["new"], totals["update"], totals["skip"]
    report.preview = [dict(zip(headers, values)) for values in dataset[:10]]
    report.written = not dry_run and not report.errors
    report.errors.sort(key=lambda error: (error.row, error.column))


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
    job.preview = [{name: str(value) for name, value in row.items()} for row in report.preview]


@transaction.atomic
def import_check(*, kind: str, upload, actor):
    """Keep the uploaded file and its dry run. A file that cannot be read at all is refused with
    its coded error and nothing is kept."""
    from django.core.files.base import ContentFile

    from .errors import ImportFileError
    from .models import ImportJob

    _require_importer(actor)
    if kind not in RESOURCES:
        raise ImportFileError(_("Choose what the file holds."), code="unknown_import_kind", details={"kind": kind})
    if upload.size > MAX_UPLOAD_BYTES:
        raise ImportFileError(_("The file is larger than 50 MB."), code="file_too_large",
                              details={"size": upload.size})
    content = upload.read()
    report = import_file(kind=kind, content=content, filename=upload.name, dry_run=True)
    job = ImportJob(kind=kind, filename=upload.name[:255], created_by=actor)
    _store_report(job, report)
    job.file.save(upload.name, ContentFile(content), save=False)
    job.save()
    return job


def import_confirm(*, job_id: int, actor):
    """Import a checked file for real: all rows or none. Confirming twice imports once."""
    from django.utils import timezone

    from .errors import ImportFileError
    from .lock_objects import lock_job

    _require_importer(actor)
    with transaction.atomic():
        job = lock_job(job_id)
        if job.status != job.Status.CHECKED:
            raise ImportFileError(_("This file has already been imported."), code="import_already_done",
                                  details={"status": job.status})
        job.file.open("rb")
        try:
            content = job.file.read()
        finally:
            job.file.close()
        report = import_file(kind=job.kind, content=content, filename=job.filename, dry_run=False, actor=actor)
        _store_report(job, report)
        if report.written:
            job.status, job.imported_at = job.Status.IMPORTED, timezone.now()
        job.save()
    return job


def _require_importer(actor):
    from apps.core.errors import PermissionDenied

    if actor is None or not actor.has_perm("imports.add_importjob"):
        raise PermissionDenied(details={"permission": "imports.add_importjob"})


def job_report(job) -> ImportReport:
    """The stored check of a job with its original rows, for the downloadable error report."""
    job.file.open("rb")
    try:
        content = job.file.read()
    finally:
        job.file.close()
    return import_file(kind=job.kind, content=content, filename=job.filename, dry_run=True)
