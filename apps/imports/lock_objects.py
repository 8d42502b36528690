"""Row locks for imports: a job alone (its confirmation must run once)."""
from apps.core.errors import NotFound

from .models import ImportJob


def lock_job(job_id: int) -> ImportJob:
    job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
    if job is None:
        raise NotFound(details={"job_id": job_id})
    return job
