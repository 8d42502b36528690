"""django-q2 tasks of the legacy import: a large file is checked and imported off the request."""
from .services import run_import_job as _run


def run_import_job(job_id: int) -> str:
    return _run(job_id=job_id)
