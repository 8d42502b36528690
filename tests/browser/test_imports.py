"""An admin moves a legacy spreadsheet in through the real pages: upload, the check's counts and
preview, confirm; a large file shows a progress bar that the page's own script keeps up to date
and that gives way to the result when the background job is done."""
import re
import time
from pathlib import Path

import pytest

from apps.customers.models import Customer
from apps.imports import services
from apps.imports.models import ImportJob
from apps.imports.progress import write_progress
from apps.imports.tasks import run_import_job
from apps.orders.models import Order
from tests.factories import ShopFactory, WarehouseFactory, make_user

pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def upload(page, kind, name):
    page.click("header.top a[href='/imports/']")
    page.select_option("select[name=kind]", kind)
    page.set_input_files("input[name=file]", str(LEGACY / name))
    with page.expect_navigation():
        page.click("#upload button")


def test_an_admin_checks_a_customer_file_then_imports_it(screen):
    make_user("admin", username="admin")
    view = screen(1280)
    page = view.login("admin")
    upload(page, "customers", "customers_with_errors.csv")
    assert page.locator("#import-errors tbody tr").count() > 0
    assert page.locator("#confirm-import").count() == 0  # a file with errors cannot be imported
    view.shot("check-with-errors")
    upload(page, "customers", "customers.xlsx")
    assert page.locator("#import-preview tbody tr").count() > 0
    view.shot("checked")
    assert not Customer.objects.exists()
    with page.expect_navigation():
        page.click("#confirm-import button")
    view.shot("imported")
    job = ImportJob.objects.get(filename="customers.xlsx")
    assert job.status == ImportJob.Status.IMPORTED and Customer.objects.count() == job.new > 0


def test_an_admin_moves_in_products_opening_stock_and_open_orders(screen):
    warehouse = WarehouseFactory(code="HZ1", name="杭州一号仓")
    ShopFactory(code="dy-xinyuan", platform="douyin", default_warehouse=warehouse)
    make_user("admin", username="admin")
    view = screen(1280)
    page = view.login("admin")
    for kind, name in (("skus", "skus.xlsx"), ("opening_stock", "opening_stock_gbk.csv"),
                       ("open_orders", "open_orders.xlsx")):
        upload(page, kind, name)
        assert page.locator("#import-errors").count() == 0, page.inner_text("#import-errors")
        view.shot(f"{kind}-checked")
        with page.expect_navigation():
            page.click("#confirm-import button")
        assert ImportJob.objects.get(filename=name).status == ImportJob.Status.IMPORTED
    view.shot("open_orders-imported")
    assert dict(Order.objects.values_list("external_id", "status")) == {
        "dy_LEGACY000101": "pending_review", "dy_LEGACY000102": "pending_payment"}


def test_a_large_file_shows_its_progress_until_the_job_is_done(screen, monkeypatch):
    monkeypatch.setattr(services, "INLINE_ROWS", 2)  # the sample's three customers count as a large file
    make_user("admin", username="admin")
    view = screen(1280)
    page = view.login("admin")
    upload(page, "customers", "customers_gbk.csv")
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.CHECKING and page.locator("#import-progress .progress").is_visible()
    write_progress(job.pk, done=2, total=3, started=time.time() - 2)  # what the worker writes as it goes
    page.wait_for_function("document.getElementById('progress-text').textContent.includes('2 / 3')")
    assert page.locator("#import-progress .progress").get_attribute("aria-valuenow") == "2"
    assert re.search(r"每秒 1 行 · 约剩 1 秒", page.inner_text("#progress-text"))
    view.shot("checking")
    run_import_job(job.pk)  # the queued check, as the cluster would run it
    page.wait_for_selector("#confirm-import")  # the poll saw the job stop and reloaded the page
    view.shot("checked")
    with page.expect_navigation():
        page.click("#confirm-import button")
    assert page.locator("#import-progress").is_visible() and not Customer.objects.exists()
    run_import_job(job.pk)
    page.wait_for_selector("#import-progress", state="detached")
    view.shot("imported")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.IMPORTED and Customer.objects.count() == 3
