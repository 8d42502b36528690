"""What an import found and did, row by row: shared by every kind of legacy file."""
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone


def kept_value(value):
    """A cell as a report (and the job after it) keeps it for the admin: yes/no as a bool (worded
    in the reader's language by the selectors), empty as "", a time in Shanghai to the minute,
    anything else as its text."""
    if isinstance(value, bool):
        return value
    if value is None:
        return ""
    if isinstance(value, datetime):
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M")
    return str(value)


@dataclass
class RowError:
    row: int  # spreadsheet row number (0: the file as a whole)
    column: str  # the header as written in the file ("" for the whole row)
    message: str


@dataclass
class FieldChange:
    key: str  # the record's code, as the file names it
    column: str  # the field's heading in the spreadsheet
    before: str | bool  # kept_value()
    after: str | bool


CHANGES_KEPT = 200  # changes to existing records listed for the admin; the counts cover them all


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
    changes: list[FieldChange] = field(default_factory=list)
    written: bool = False
    source_headers: list[str] = field(default_factory=list)
    source_rows: list[tuple[int, list]] = field(default_factory=list)

    @property
    def error_rows(self) -> int:
        return len({error.row for error in self.errors})

    def finish(self, preview: list[dict]):
        """The closing lines of every import: the preview, whether it was written, errors in file order."""
        self.preview = preview
        self.written = not self.dry_run and not self.errors
        self.errors.sort(key=lambda error: (error.row, error.column))


class Rollback(Exception):
    """Leaves the import's transaction: a dry run, or a file with any wrong row."""
