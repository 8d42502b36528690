"""The admin's upload → check → confirm pages: counts and errors shown before anything is written,
confirm imports once, the error report downloads, other roles are refused."""
import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.customers.models import Customer
from apps.imports.models import ImportJob
from tests.factories import make_user

pytestmark = pytest.mark.django_db
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path


def admin_client():
    client = Client()
    client.force_login(make_user("admin"))
    return client


def upload(client, name, kind="customers"):
    return client.post(reverse("workbench:import-list"), {
        "kind": kind, "file": SimpleUploadedFile(name, (LEGACY / name).read_bytes())})


def test_upload_checks_without_writing_then_confirm_imports_once():
    client = admin_client()
    response = upload(client, "customers.xlsx")
    job = ImportJob.objects.get()
    assert response["Location"] == reverse("workbench:import-detail", args=[job.pk])
    assert (job.status, job.rows, job.new, job.error_rows) == ("checked", 4, 3, 0)
    assert not Customer.objects.filter(code__startswith="KH").exists()
    response_page = client.get(response["Location"])
    page = response_page.content.decode()
    assert 'id="confirm-import"' in page and "KH0001" in page  # the preview
    # the spreadsheet's headings in the file's order (PostgreSQL's jsonb reorders the stored keys)
    assert response_page.context["columns"][:3] == ["客户编码", "客户名称", "客户类型"]
    assert response_page.context["preview"][0][:3] == ["KH0001", "杭州宠物批发有限公司", "b2b"]
    client.post(reverse("workbench:import-confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "imported" and Customer.objects.filter(code__startswith="KH").count() == 3
    response = client.post(reverse("workbench:import-confirm", args=[job.pk]), follow=True)
    assert [m.level_tag for m in response.context["messages"]][-1] == "error"  # already imported
    assert Customer.objects.filter(code__startswith="KH").count() == 3


def test_the_preview_shows_blanks_and_yes_no_not_python_values():
    client = admin_client()
    response = upload(client, "skus.xlsx", kind="skus")
    context = client.get(response["Location"]).context
    cat_litter = dict(zip(context["columns"], context["preview"][1]))  # no barcode, no shelf life, no batches
    assert (cat_litter["商品编码"], cat_litter["条码"], cat_litter["保质期(天)"], cat_litter["批次管理"]) == (
        "XY-CL-0001", "", "", "否")


def test_the_check_lists_what_would_change_in_existing_records():
    from tests.factories import SKUFactory

    SKUFactory(code="XY-IM-0100", barcode="4987654321098", name_zh="Imported cat treats 冻干", unit="包",
               weight_grams=50, shelf_life_days=540, batch_tracked=False, origin_country="JP", list_price="35.00")
    client = admin_client()
    response = upload(client, "skus.xlsx", kind="skus")
    page = client.get(response["Location"])
    assert [(c["key"], c["column"], c["before"], c["after"]) for c in page.context["changes"]] == [
        ("XY-IM-0100", "批次管理", "否", "是"), ("XY-IM-0100", "售价", "35.00", "39.00")]
    assert 'id="import-changes"' in page.content.decode()


def test_a_file_with_errors_shows_them_offers_the_report_and_cannot_be_confirmed():
    client = admin_client()
    upload(client, "customers_with_errors.csv")
    job = ImportJob.objects.get()
    page = client.get(reverse("workbench:import-detail", args=[job.pk])).content.decode()
    assert 'id="confirm-import"' not in page and 'id="import-errors"' in page and "信用额度" in page
    report = client.get(reverse("workbench:import-errors", args=[job.pk]))
    rows = list(openpyxl.load_workbook(io.BytesIO(report.content)).active.iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [3, 4, 5]
    client.post(reverse("workbench:import-confirm", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "checked" and not Customer.objects.filter(code__startswith="KH01").exists()


def test_an_unreadable_file_is_one_message_and_nothing_kept():
    client = admin_client()
    response = client.post(reverse("workbench:import-list"), {
        "kind": "customers", "file": SimpleUploadedFile("x.xlsx", b"not a workbook")}, follow=True)
    assert [m.level_tag for m in response.context["messages"]] == ["error"]
    assert not ImportJob.objects.exists()


def test_only_admins_import():
    for role in ("cs_lead", "manager", "finance", "warehouse_lead"):
        client = Client()
        client.force_login(make_user(role))
        assert upload(client, "customers.xlsx").status_code == 403
    assert not ImportJob.objects.exists()
