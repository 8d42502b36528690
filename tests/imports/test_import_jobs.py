"""Large files are checked and imported by a django-q2 task: the upload and the confirmation only
queue it, the task writes its progress for the page's poll, a second delivery changes nothing, and
a crash is reported on the job with nothing written."""
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.customers.models import Customer
from apps.imports import services
from apps.imports.models import ImportJob
from apps.imports.progress import read_progress, write_progress
from apps.imports.tasks import run_import_job
from tests.factories import make_user

pytestmark = pytest.mark.django_db
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"


@pytest.fixture(autouse=True)
def small_inline_limit(settings, tmp_path, monkeypatch):
    settings.MEDIA_ROOT = tmp_path
    monkeypatch.setattr(services, "INLINE_ROWS", 2)  # the sample's three customers count as a large file


def queued_tasks():
    from django_q.models import OrmQ

    tasks = [task.task for task in OrmQ.objects.order_by("pk")]
    OrmQ.objects.all().delete()
    return [(task["func"], task["args"], task.get("timeout")) for task in tasks]


def test_a_large_file_is_checked_then_imported_by_queued_tasks(django_capture_on_commit_callbacks):
    admin = make_user("admin")
    with django_capture_on_commit_callbacks(execute=True):
        job = services.import_check(kind="customers", actor=admin, upload=SimpleUploadedFile(
            "customers_gbk.csv", (LEGACY / "customers_gbk.csv").read_bytes()))
    assert (job.status, job.rows, job.new) == ("checking", 3, 0)
    assert queued_tasks() == [("apps.imports.tasks.run_import_job", (job.pk,), services.TASK_TIMEOUT)]

    assert run_import_job(job.pk) == "checked"
    job.refresh_from_db()
    assert (job.new, job.error_rows, len(job.preview)) == (3, 0, 3) and not Customer.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        job = services.import_confirm(job_id=job.pk, actor=admin)
    assert job.status == "importing" and not Customer.objects.exists()
    assert queued_tasks() == [("apps.imports.tasks.run_import_job", (job.pk,), services.TASK_TIMEOUT)]
    assert run_import_job(job.pk) == "imported"
    job.refresh_from_db()
    assert (job.imported_by, job.new) == (admin, 3) and Customer.objects.count() == 3

    assert run_import_job(job.pk) == "imported"  # the task delivered twice: nothing more happens
    assert Customer.objects.count() == 3 and queued_tasks() == []


def test_progress_gives_rows_done_rate_and_time_left():
    job = ImportJob.objects.create(kind="customers", filename="big.csv", rows=10_000, status="importing",
                                   created_by=make_user("admin"))
    assert read_progress(job) == {"status": "importing", "running": True, "done": 0, "total": 10_000, "percent": 0,
                                  "rows_per_second": None, "seconds_left": None}
    write_progress(job.pk, done=2_500, total=10_000, started=time.time() - 5)
    state = read_progress(job)
    assert (state["done"], state["percent"]) == (2_500, 25)
    assert 450 <= state["rows_per_second"] <= 500 and 15 <= state["seconds_left"] <= 17


def test_a_crashing_job_is_refused_with_its_reason_and_writes_nothing(monkeypatch):
    admin = make_user("admin")
    job = services.import_check(kind="customers", actor=admin, upload=SimpleUploadedFile(
        "customers_gbk.csv", (LEGACY / "customers_gbk.csv").read_bytes()))
    run_import_job(job.pk)
    services.import_confirm(job_id=job.pk, actor=admin)

    def broken(*args, **kwargs):
        Customer.objects.create(code="HALF", name="written before the crash")
        raise RuntimeError("disk full")

    monkeypatch.setattr(services, "import_file", broken)
    assert run_import_job(job.pk) == "refused"
    job.refresh_from_db()
    assert "disk full" in job.errors[0]["message"] and not Customer.objects.exists()


def test_the_page_shows_a_progress_bar_and_polls_while_the_job_runs():
    client = Client()
    client.force_login(make_user("admin"))
    response = client.post(reverse("workbench:import-list"), {
        "kind": "customers", "file": SimpleUploadedFile("customers_gbk.csv", (LEGACY / "customers_gbk.csv").read_bytes())})
    job = ImportJob.objects.get()
    page = client.get(response.url).content.decode()
    assert 'id="import-progress"' in page and reverse("workbench:import-progress", args=[job.pk]) in page
    assert 'id="confirm-import"' not in page  # nothing to confirm before the check is done
    write_progress(job.pk, done=2, total=3, started=time.time() - 1)
    state = client.get(reverse("workbench:import-progress", args=[job.pk])).json()
    assert (state["running"], state["done"], state["total"]) == (True, 2, 3)
    run_import_job(job.pk)
    assert client.get(reverse("workbench:import-progress", args=[job.pk])).json()["running"] is False
    assert 'id="confirm-import"' in client.get(response.url).content.decode()


def big_customer_workbook(rows: int) -> bytes:
    import io

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["2025 年客户资料"])  # a title banner above the header, as exported
    sheet.append(["客户编码", "客户名称", "手机"])
    for n in range(rows):
        sheet.append([f"KHX{n:05d}", f"客户{n}", f"138{n:08d}"])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_a_large_xlsx_is_counted_from_its_header_and_dimension_not_read_in_the_request(monkeypatch):
    from apps.imports import readers

    content = big_customer_workbook(3000)
    whole_reads = []
    real_rows = readers._xlsx_rows
    monkeypatch.setattr(readers, "_xlsx_rows", lambda data: whole_reads.append(1) or real_rows(data))
    monkeypatch.setattr(services, "INLINE_ROWS", 2000)
    job = services.import_check(kind="customers", actor=make_user("admin"),
                                upload=SimpleUploadedFile("big.xlsx", content))
    assert (job.status, job.rows, whole_reads) == ("checking", 3000, [])  # the upload parsed its first rows only
    run_import_job(job.pk)
    job.refresh_from_db()
    assert (job.status, job.rows, job.new, job.error_rows, whole_reads) == ("checked", 3000, 3000, 0, [1])


def test_an_xlsx_without_a_header_is_refused_at_upload_without_reading_it_whole():
    import io

    import openpyxl

    from apps.imports.errors import NoHeaderRow
    from apps.imports.readers import count_rows

    book = openpyxl.Workbook()
    for n in range(50):
        book.active.append([n, n * 2, "x"])
    buffer = io.BytesIO()
    book.save(buffer)
    with pytest.raises(NoHeaderRow):
        count_rows(buffer.getvalue(), "numbers.xlsx", services.IMPORTERS["customers"].columns.HEADERS)
