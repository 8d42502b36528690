"""The clerk's wave list and scanner page: scope, roles, CSRF, scanning with and without htmx."""
import pytest
from django.test import Client
from django.urls import reverse

from apps.fulfillment.models import PickTask, ScanLog, Wave
from apps.orders.models import Order, OrderHold
from tests.factories import make_user
from tests.fulfillment.test_waves import Floor

pytestmark = pytest.mark.django_db


@pytest.fixture
def floor():
    return Floor()


def browser(user, **kwargs) -> Client:
    client = Client(**kwargs)
    client.force_login(user)
    return client


def built_wave(floor, lines=None) -> Wave:
    floor.order(lines or {floor.food: 2, floor.litter: 1})
    return floor.wave().wave


def scan_url(wave):
    return reverse("workbench:wave-scan", kwargs={"wave_id": wave.pk})


def submit_url(wave):
    return reverse("workbench:wave-scan-submit", kwargs={"wave_id": wave.pk})


def test_the_scan_page_shows_the_next_task_big_with_an_autofocused_input(floor):
    wave = built_wave(floor)
    page = browser(floor.clerk).get(scan_url(wave))
    html = page.content.decode()
    assert page.status_code == 200
    assert "A-01-3" in html and floor.litter.code in html and "豆腐猫砂" in html  # first on the path
    assert 'id="barcode"' in html and "autofocus" in html and "csrfmiddlewaretoken" in html
    assert "htmx" in html  # the partial swap; the plain form works without it
    assert 'name="lot_number"' not in html  # litter is not batch-tracked
    assert "B-02-1" in html  # the food task is listed next on the path


def test_another_warehouses_wave_is_not_found_and_other_roles_are_refused(floor):
    wave = built_wave(floor)
    stranger = make_user("warehouse_clerk")  # works no warehouse of this wave
    assert browser(stranger).get(scan_url(wave)).status_code == 404
    assert browser(stranger).post(submit_url(wave), {"barcode": floor.litter.barcode}).status_code == 404
    agent = make_user("cs_agent", shops=[floor.shop])
    assert browser(agent).get(scan_url(wave)).status_code == 403
    assert browser(agent).get(reverse("workbench:wave-list")).status_code == 403
    assert Client().get(scan_url(wave)).status_code == 302  # to the login page
    assert not ScanLog.objects.exists()


def test_a_wrong_barcode_shows_the_message_and_a_right_one_moves_on(floor):
    wave = built_wave(floor)
    client = browser(floor.clerk)
    task = PickTask.objects.get(wave=wave, sequence=1)

    response = client.post(submit_url(wave), {"barcode": floor.bowl.barcode, "task": task.pk})
    assert response.status_code == 302 and response["Location"] == scan_url(wave)
    html = client.get(scan_url(wave)).content.decode()
    assert 'class="scan-result bad"' in html and 'data-code="wrong_item"' in html
    assert floor.litter.code in html and floor.bowl.barcode in html and "陶瓷猫碗" in html
    assert 'class="scan-result' not in client.get(scan_url(wave)).content.decode()  # shown once, not on reload
    assert PickTask.objects.get(pk=task.pk).picked_quantity == 0

    client.post(submit_url(wave), {"barcode": floor.litter.barcode, "task": task.pk})
    html = client.get(scan_url(wave)).content.decode()
    assert 'class="scan-result good"' in html
    assert "B-02-1" in html and 'name="lot_number"' in html and "L2405A" in html  # the food: batch-tracked
    assert PickTask.objects.get(pk=task.pk).state == "picked"


def test_with_htmx_the_answer_is_the_panel_only(floor):
    wave = built_wave(floor, {floor.food: 1})
    client = browser(floor.clerk)
    task = PickTask.objects.get(wave=wave)

    wrong_lot = client.post(submit_url(wave), {"barcode": floor.food.barcode, "lot_number": "L2411B",
                                               "task": task.pk}, HTTP_HX_REQUEST="true")
    html = wrong_lot.content.decode()
    assert wrong_lot.status_code == 200 and html.startswith('<section id="scan-panel"')
    assert 'data-code="wrong_lot"' in html and "L2405A" in html and "<html" not in html

    right = client.post(submit_url(wave), {"barcode": floor.food.barcode, "lot_number": "L2405A", "task": task.pk},
                        HTTP_HX_REQUEST="true").content.decode()
    assert 'scan-result good' in right and "all-done" in right
    assert Order.objects.get(pk=task.order_id).status == "picked"


def test_posts_need_the_csrf_token(floor):
    wave = built_wave(floor)
    client = browser(floor.clerk, enforce_csrf_checks=True)
    assert client.post(submit_url(wave), {"barcode": floor.litter.barcode}).status_code == 403
    assert not ScanLog.objects.exists()


def test_a_short_pick_from_the_page_holds_the_order(floor):
    wave = built_wave(floor, {floor.litter: 3})
    task = PickTask.objects.get(wave=wave)
    client = browser(floor.clerk)
    url = reverse("workbench:task-short", kwargs={"wave_id": wave.pk, "task_id": task.pk})
    client.post(url, {"found": "1", "reason": "货位只有一包"})
    assert PickTask.objects.get(pk=task.pk).state == "short"
    assert OrderHold.objects.filter(order_id=task.order_id, type="short_pick", released_at__isnull=True).exists()
    assert 'class="scan-result good"' in client.get(scan_url(wave)).content.decode()


def test_the_wave_list_builds_a_wave_and_the_menu_leads_there(floor):
    floor.order()
    client = browser(floor.clerk)
    assert reverse("workbench:wave-list") in client.get(reverse("workbench:home")).content.decode()
    assert reverse("workbench:wave-list") not in browser(make_user("cs_agent")).get(
        reverse("workbench:home")).content.decode()

    response = client.post(reverse("workbench:wave-build"), {"warehouse": floor.warehouse.pk, "size_limit": "10"})
    wave = Wave.objects.get()
    assert response.status_code == 302 and response["Location"] == scan_url(wave)
    listing = client.get(reverse("workbench:wave-list")).content.decode()
    assert wave.code in listing

    nothing = client.post(reverse("workbench:wave-build"), {"warehouse": floor.warehouse.pk}, follow=True)
    assert 'class="error"' in nothing.content.decode() and Wave.objects.count() == 1
