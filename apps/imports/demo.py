"""The admin's import page in the demo: the messy sample files of fixtures/legacy/ uploaded and
checked by the same service the page runs (apps.core.demo calls `build_demo_imports` once the demo
admin exists). Checks write nothing but the job and its kept file, so the admin finds:

- products (skus.xlsx): two new and one that would update the demo's XY-PF-0704, ready to import;
- customers (customers_gbk.csv, a GBK CSV with full-width digits): ready to import;
- customers with errors (customers_with_errors.csv): every error by row and column, and the report
  to download.

Opening stock and open orders name products the first file brings, so they are left for the admin
to upload once the products are in (the walk-through in the README).
"""
from pathlib import Path

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q

from .models import ImportJob
from .services import import_check

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"
DEMO_FILES = (("skus", "skus.xlsx"), ("customers", "customers_gbk.csv"), ("customers", "customers_with_errors.csv"))


def build_demo_imports(*, admin) -> dict[str, int]:
    jobs = [import_check(kind=kind, actor=admin, upload=SimpleUploadedFile(name, (SAMPLES / name).read_bytes()))
            for kind, name in DEMO_FILES]
    return {"import files checked": len(jobs)}


def reset_demo_imports(users) -> int:
    """The demo users' import jobs and their kept files (the jobs protect the users)."""
    jobs = ImportJob.objects.filter(Q(created_by__in=users) | Q(imported_by__in=users))
    for job in jobs:
        job.file.delete(save=False)
    return jobs.delete()[1].get(ImportJob._meta.label, 0)
