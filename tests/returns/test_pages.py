"""After-sales pages: an agent starts a return from the order (suggestions shown, errors keep the
form), a lead approves, a clerk finds the parcel by its tracking number, receives and inspects it;
everything scoped like the order."""
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from apps.inventory.models import StockMove
from apps.returns.models import ReturnRequest
from tests.factories import ShopFactory, make_user
from tests.returns.conftest import png_bytes

pytestmark = pytest.mark.django_db


def browser(user) -> Client:
    client = Client(enforce_csrf_checks=False)
    client.force_login(user)
    return client


@pytest.fixture
def delivered(ship_order, sku):
    return ship_order({sku: (3, Decimal("30.00"))})


def start_url(order):
    return reverse("workbench:order-returns", kwargs={"order_id": order.pk})


def test_the_order_page_offers_the_lines_kinds_and_three_suggestions(delivered, people):
    found = browser(people["agent"]).get(reverse("workbench:return-list"), {"q": delivered.external_id})
    assert found.context["order_hit"] == delivered and start_url(delivered) in found.content.decode()
    page = browser(people["agent"]).get(start_url(delivered))
    assert page.status_code == 200
    assert len(page.context["suggestions"]) == 3
    html = page.content.decode()
    line = delivered.lines.get()
    assert f'name="qty-{line.pk}"' in html and 'max="3"' in html
    assert html.count('class="suggestion"') == 3
    assert "138****5678" in html and "13812345678" not in html  # agents see the masked phone


def test_an_agent_starts_a_return_with_a_photo_and_lands_on_it(delivered, people):
    line = delivered.lines.get()
    photo = SimpleUploadedFile("box.png", png_bytes(), content_type="image/png")
    answer = browser(people["agent"]).post(start_url(delivered), {
        f"qty-{line.pk}": "2", "kind": "return_and_refund", "reason": ["logistics.crushed", ""],
        "reason_text": "", "photos": [photo]})
    created = ReturnRequest.objects.get(order=delivered)
    assert answer.status_code == 302 and answer["Location"] == reverse("workbench:return-detail",
                                                                      kwargs={"return_id": created.pk})
    assert created.reason.code == "logistics.crushed" and created.lines.get().quantity == 2
    detail = browser(people["agent"]).get(answer["Location"])
    assert detail.status_code == 200
    photo_url = reverse("workbench:return-photo", kwargs={"return_id": created.pk,
                                                          "photo_id": created.photos.get().pk})
    assert photo_url in detail.content.decode()
    assert browser(people["agent"]).get(photo_url)["Content-Type"] == "image/png"


def test_a_refused_form_keeps_what_was_typed_and_writes_nothing(delivered, people):
    line = delivered.lines.get()
    answer = browser(people["agent"]).post(start_url(delivered), {
        f"qty-{line.pk}": "9", "kind": "refund_only", "reason": ["", "product.other"], "reason_text": "说不清"})
    assert answer.status_code == 400
    assert not ReturnRequest.objects.exists()
    assert answer.context["form"]["reason"] == "product.other"
    assert answer.context["form"]["quantities"] == {str(line.pk): "9"}
    assert 'value="9"' in answer.content.decode()


def test_other_needs_text(delivered, people):
    line = delivered.lines.get()
    answer = browser(people["agent"]).post(start_url(delivered), {
        f"qty-{line.pk}": "1", "kind": "refund_only", "reason": "product.other", "reason_text": " "})
    assert answer.status_code == 400 and not ReturnRequest.objects.exists()


def test_a_clerk_scans_the_parcel_receives_and_inspects_it_back_into_stock(delivered, people, sku):
    from apps.returns import services

    line = delivered.lines.get()
    request = services.return_create(order_id=delivered.pk, kind="return_and_refund", reason_code="logistics.crushed",
                                     lines=[{"order_line_id": line.pk, "quantity": 2}], actor=people["agent"])
    lead = browser(people["lead"])
    assert lead.post(reverse("workbench:return-step", kwargs={"return_id": request.pk, "step": "approve"}),
                     {"note": "ok"}).status_code == 302
    lead.post(reverse("workbench:return-step", kwargs={"return_id": request.pk, "step": "await_return"}),
              {"tracking_no": "YT0001"})
    clerk = browser(people["clerk"])
    found = clerk.get(reverse("workbench:return-list"), {"tab": "warehouse", "q": "YT0001"})
    detail_url = reverse("workbench:return-detail", kwargs={"return_id": request.pk})
    assert found.status_code == 302 and found["Location"] == detail_url
    page = clerk.get(detail_url)
    assert [step for step, _label in page.context["steps"]] == ["receive"]  # the clerk's own step only
    clerk.post(reverse("workbench:return-step", kwargs={"return_id": request.pk, "step": "receive"}), {})
    return_line = request.lines.get()
    clerk.post(reverse("workbench:return-step", kwargs={"return_id": request.pk, "step": "inspect"}),
               {f"outcome-{return_line.pk}": "good"})
    request.refresh_from_db()
    assert request.state == "inspected"
    assert StockMove.objects.filter(type="return_in", reference=f"return:{request.pk}").count() == 1
    # A step the clerk may not take is refused with the message, and changes nothing.
    answer = clerk.post(reverse("workbench:return-step", kwargs={"return_id": request.pk, "step": "refund"}),
                        follow=True)
    request.refresh_from_db()
    assert request.state == "inspected" and request.refunded_at is None
    assert any(m.level_tag == "error" for m in answer.context["messages"])


def test_other_shops_returns_are_not_found(delivered, people):
    from apps.returns import services

    line = delivered.lines.get()
    request = services.return_create(order_id=delivered.pk, kind="refund_only", reason_code="logistics.crushed",
                                     lines=[{"order_line_id": line.pk, "quantity": 1}], actor=people["agent"])
    stranger = browser(make_user("cs_agent", shops=[ShopFactory()]))
    for url in (start_url(delivered), reverse("workbench:return-detail", kwargs={"return_id": request.pk})):
        assert stranger.get(url).status_code == 404
    assert stranger.post(reverse("workbench:return-step", kwargs={"return_id": request.pk, "step": "approve"})
                         ).status_code == 404
    assert not stranger.get(reverse("workbench:return-list")).context["page"].object_list
    request.refresh_from_db()
    assert request.state == "requested"


def test_the_pages_need_a_login_and_post_needs_csrf(delivered, people):
    assert Client().get(start_url(delivered)).status_code == 302
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(people["agent"])
    line = delivered.lines.get()
    assert strict.post(start_url(delivered), {f"qty-{line.pk}": "1", "kind": "refund_only",
                                              "reason": "logistics.crushed"}).status_code == 403
    assert not ReturnRequest.objects.exists()
