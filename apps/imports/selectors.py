from django.db.models import QuerySet
from django.utils.translation import gettext

from .models import ImportJob
from .report import CHANGES_KEPT


def import_jobs(*, actor) -> QuerySet[ImportJob]:
    """Imports are an admin's: whoever may import sees every job, nobody else any."""
    if actor is None or not actor.has_perm("imports.add_importjob"):
        return ImportJob.objects.none()
    return ImportJob.objects.select_related("created_by")


def preview_table(job: ImportJob) -> tuple[list[str], list[list[str]]]:
    """The preview's headings (the spreadsheet's own, 客户编码 rather than code) and rows, in the
    importer's column order: PostgreSQL's jsonb keeps a stored row's keys in an order of its own."""
    from .services import IMPORTERS

    if not job.preview:
        return [], []
    headers = IMPORTERS[job.kind].columns.HEADERS
    names = [name for name in headers if name in job.preview[0]]
    names += sorted(set(job.preview[0]) - set(names))
    return [headers[name][0] if name in headers else name for name in names], [
        [_shown(row.get(name)) for name in names] for row in job.preview]


def changes_table(job: ImportJob) -> tuple[list[dict], bool]:
    """The changes the file makes to existing records, values as the reader reads them, and
    whether the list stops at CHANGES_KEPT."""
    return ([{**change, "before": _shown(change["before"]), "after": _shown(change["after"])} for change in job.changes],
            len(job.changes) >= CHANGES_KEPT)


def _shown(value) -> str:
    """A kept_value() in the reader's language (jobs checked before kept_value may hold None)."""
    if isinstance(value, bool):
        return gettext("Yes") if value else gettext("No")
    return "" if value is None else value
