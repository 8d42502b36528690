"""What an import found and did, row by row: shared by every kind of legacy file."""
from dataclasses import dataclass, field


@dataclass
class RowError:
    row: int  # spreadsheet row number (0: the file as a whole)
    column: str  # the header as written in the file ("" for the whole row)
    message: str


@dataclass
class FieldChange:
    key: str  # the record's code, as the file names it
    column: str  # the field's heading in the spreadsheet
    before: object  # text, or None / a bool (shown in the reader's language)
    after: object


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
