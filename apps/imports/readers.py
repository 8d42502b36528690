"""Spreadsheets as legacy back offices export them, read into plain rows: .xlsx (openpyxl), .xls
(xlrd) and .csv in UTF-8 with or without BOM or in GBK; the header row found among the first ten
(titles and merged banner cells above it are skipped), Chinese or English header names, blank rows
dropped. Each row keeps its spreadsheet row number for the error report."""
import csv
import io
import unicodedata
from dataclasses import dataclass, field
from itertools import islice
from pathlib import PurePath

from .errors import EmptyFile, EncryptedWorkbook, NoHeaderRow, UnreadableFile, UnsupportedFileType

CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # OLE2: .xls, and also an encrypted .xlsx
ZIP_MAGIC = b"PK\x03\x04"
HEADER_SCAN_ROWS = 10
MAX_ROWS = 200_000


@dataclass
class Table:
    columns: list[str | None]  # canonical field per column, None for columns we do not know
    source_headers: list[str]  # the header cells as written
    rows: list[tuple[int, list]] = field(default_factory=list)  # (spreadsheet row number, cells)
    header_row: int = 0


def header_key(value) -> str:
    """A header cell compared loosely: full-width folded, case, spaces, asterisks and '(必填)' ignored."""
    key = unicodedata.normalize("NFKC", str(value or "")).strip().lower()
    for junk in (" ", "*", "(必填)", "(选填)", ":", "："):
        key = key.replace(junk, "")
    return key


def read_table(content: bytes, filename: str, aliases: dict[str, tuple[str, ...]]) -> Table:
    """Rows of the first sheet under their canonical column names (`aliases`: field -> header names)."""
    kind = _file_kind(content, filename)
    raw_rows = {"csv": _csv_rows, "xls": _xls_rows, "xlsx": _xlsx_rows}[kind](content)
    return _with_header(raw_rows, aliases)


def count_rows(content: bytes, filename: str, aliases: dict[str, tuple[str, ...]]) -> int:
    """What an upload is checked for before its rows are: the file is readable and has a header
    row; the answer is how many rows it holds. An .xlsx is read no further than its header, its
    size taken from the sheet's dimension (blank rows included, so at most the real count): its
    100,000 rows take openpyxl about 17 s, too long to keep a request waiting. The rest is read
    whole (a .csv of 100,000 rows in about a second; an .xls holds at most 65,536 rows)."""
    if _file_kind(content, filename) != "xlsx":
        return len(read_table(content, filename, aliases).rows)
    first_rows, size = _xlsx_head(content)
    if size is None:  # a writer that left the dimension out
        return len(read_table(content, filename, aliases).rows)
    table = _with_header(first_rows, aliases)
    # Not refused on this count: a sheet formatted down to row 1,048,576 states that size with a
    # few hundred rows in it. The full read (a task, for a large file) counts and refuses.
    return max(size - table.header_row, len(table.rows))


def _file_kind(content: bytes, filename: str) -> str:
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in {".xlsx", ".xls", ".csv"}:
        raise UnsupportedFileType(details={"filename": filename})
    if not content or not content.strip():
        raise EmptyFile(details={"filename": filename})
    if suffix == ".csv":
        return "csv"
    if content.startswith(CFB_MAGIC):
        if suffix == ".xlsx":
            raise EncryptedWorkbook(details={"filename": filename})
        return "xls"
    if suffix == ".xlsx" and content.startswith(ZIP_MAGIC):
        return "xlsx"
    raise UnreadableFile(details={"filename": filename})


def _csv_rows(content: bytes):
    if b"\x00" in content[:4096]:
        raise UnreadableFile()
    for encoding in ("utf-8-sig", "gb18030"):  # GB18030 reads every GBK file
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise UnreadableFile()
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return list(csv.reader(io.StringIO(text), dialect))


def _open_xlsx(content: bytes):
    import openpyxl

    try:
        return openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001  (openpyxl raises many kinds for a broken file)
        raise UnreadableFile() from exc


def _xlsx_rows(content: bytes):
    workbook = _open_xlsx(content)
    try:
        return [list(row) for row in workbook.worksheets[0].iter_rows(values_only=True)]
    finally:
        workbook.close()


def _xlsx_head(content: bytes) -> tuple[list[list], int | None]:
    """The first rows of the first sheet, where the header is looked for, and its last row number
    as the sheet's dimension states it (None where the writer left it out)."""
    workbook = _open_xlsx(content)
    try:
        sheet = workbook.worksheets[0]
        try:
            first_rows = [list(row) for row in islice(sheet.iter_rows(values_only=True), HEADER_SCAN_ROWS + 1)]
        except Exception as exc:  # noqa: BLE001
            raise UnreadableFile() from exc
        return first_rows, sheet.max_row
    finally:
        workbook.close()


def _xls_rows(content: bytes):
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=content)
    except xlrd.XLRDError as exc:
        if "encrypt" in str(exc).lower():
            raise EncryptedWorkbook() from exc
        raise UnreadableFile() from exc
    except Exception as exc:  # noqa: BLE001
        raise UnreadableFile() from exc
    sheet = book.sheet_by_index(0)
    rows = []
    for number in range(sheet.nrows):
        cells = []
        for cell in sheet.row(number):
            if cell.ctype == xlrd.XL_CELL_DATE:
                cells.append(xlrd.xldate.xldate_as_datetime(cell.value, book.datemode))
            else:
                cells.append(cell.value)
        rows.append(cells)
    return rows


def _blank(row) -> bool:
    return all(cell is None or str(cell).strip() == "" for cell in row)


def _with_header(raw_rows, aliases) -> Table:
    lookup = {header_key(name): field_name for field_name, names in aliases.items()
              for name in (field_name, *names)}
    best, best_hits = None, 1  # a header names at least two known columns
    for index, row in enumerate(raw_rows[:HEADER_SCAN_ROWS]):
        hits = len({lookup[header_key(cell)] for cell in row if header_key(cell) in lookup})
        if hits > best_hits:
            best, best_hits = index, hits
    if best is None:
        examples = "、".join(names[0] for names in list(aliases.values())[:4])
        raise NoHeaderRow(NoHeaderRow.default_message % {"columns": examples})
    header = raw_rows[best]
    columns, seen = [], set()
    for cell in header:
        name = lookup.get(header_key(cell))
        columns.append(name if name not in seen else None)  # a repeated header: the first one counts
        seen.add(name)
    table = Table(columns=columns, source_headers=[str(cell or "").strip() for cell in header], header_row=best + 1)
    for index, row in enumerate(raw_rows[best + 1:], start=best + 2):
        if _blank(row):
            continue
        table.rows.append((index, list(row) + [None] * (len(columns) - len(row))))
        if len(table.rows) > MAX_ROWS:
            raise UnreadableFile(details={"max_rows": MAX_ROWS})
    return table
