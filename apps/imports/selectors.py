from django.db.models import QuerySet

from .models import ImportJob


def import_jobs(*, actor) -> QuerySet[ImportJob]:
    """Imports are an admin's: whoever may import sees every job, nobody else any."""
    if actor is None or not actor.has_perm("imports.add_importjob"):
        return ImportJob.objects.none()
    return ImportJob.objects.select_related("created_by")
