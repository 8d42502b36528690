"""A large file end to end with a real django-q2 cluster: `manage.py qcluster` runs beside the test
against the test database, picks up the queued check and then the import, and the job ends
imported. PostgreSQL only: the cluster is another process and needs a database it can reach."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from apps.customers.models import Customer
from apps.imports import services
from apps.imports.models import ImportJob

# Committed data, for the cluster to see; serialized_rollback: see tests/conftest.py.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
REPO = Path(__file__).resolve().parents[2]
LEGACY = REPO / "fixtures" / "legacy"


@pytest.fixture
def cluster(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    db = connection.settings_dict
    env = dict(os.environ, DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
               MEDIA_ROOT=str(tmp_path), SECRET_KEY=settings.SECRET_KEY, DEBUG="1", Q_WORKERS="1")
    process = subprocess.Popen([sys.executable, "manage.py", "qcluster"], cwd=REPO, env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(5)


def wait_for(job, status, process, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == status:
            return job
        assert process.poll() is None, process.stderr.read().decode()
        time.sleep(0.2)
    raise AssertionError(f"job still {job.status} after {seconds} s")


def test_the_cluster_checks_and_imports_a_large_file(cluster, monkeypatch):
    monkeypatch.setattr(services, "INLINE_ROWS", 2)
    from apps.accounts.models import User

    admin = User.objects.create_superuser("importer", password="x" * 20)
    job = services.import_check(kind="customers", actor=admin, upload=SimpleUploadedFile(
        "customers_gbk.csv", (LEGACY / "customers_gbk.csv").read_bytes()))
    assert job.status == ImportJob.Status.CHECKING
    job = wait_for(job, ImportJob.Status.CHECKED, cluster)
    assert (job.new, job.error_rows) == (3, 0) and not Customer.objects.exists()
    services.import_confirm(job_id=job.pk, actor=admin)
    job = wait_for(job, ImportJob.Status.IMPORTED, cluster)
    assert Customer.objects.filter(code__startswith="KH").count() == 3
