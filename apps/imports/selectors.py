from django.db.models import QuerySet

from .models import ImportJob


def import_jobs(*, actor) -> QuerySet[ImportJob]:
    """Imports are an admin's: whoever may import sees every job, nobody else any."""
    if actor is None or not actor.has_perm("imports.add_importjob"):
        return ImportJob.objects.none()
    return ImportJob.objects.select_related("created_by")


def preview_columns(job: ImportJob) -> list[str]:
    """The preview's columns under the spreadsheet headings the admin knows (客户编码, not code)."""
    from .services import IMPORTERS

    headers = IMPORTERS[job.kind].columns.HEADERS if job.kind in IMPORTERS else {}
    return [headers[name][0] if name in headers else name for name in (job.preview[0] if job.preview else [])]
