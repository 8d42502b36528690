"""Each role logs in through the real form and does its main job in Chromium; the outcome is
checked on the page and in the database, and every step leaves a screenshot."""
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.approvals.models import ApprovalRequest
from apps.fulfillment import services as fulfillment
from apps.fulfillment.models import PickTask
from apps.inventory.alerts import stock_alerts_refresh
from apps.orders.models import CsNote
from tests.approvals.test_approvals import Team
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, SKUFactory, make_user, stock_up
from tests.fulfillment.factories import ready_order, stocked_sku

# The live server reads what the test writes, so each test commits; serialized_rollback puts back
# the rows the migrations wrote (roles, rules, carriers) after the flush.
pytestmark = [pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROLES = ("cs_agent", "cs_lead", "warehouse_clerk", "warehouse_lead", "finance", "manager", "admin")


def test_every_role_logs_in_to_its_home_and_switches_to_english(screen):
    shop = ShopFactory()
    for role in ROLES:
        make_user(role, username=role, shops=[shop], warehouses=[shop.default_warehouse])
    for role in ROLES:
        view = screen(1280)
        page = view.login(role)
        assert page.locator("html").get_attribute("lang") == "zh-hans"
        assert page.locator("header.top").is_visible()
        view.shot(f"home-{role}")
        with page.expect_navigation():
            page.select_option("select[name=language]", "en")
        assert page.locator("html").get_attribute("lang") == "en"
        assert "Log out" in page.inner_text("header.top")
        view.shot(f"home-{role}-en")
        view.context.close()


def test_an_agent_finds_an_order_by_phone_tail_and_adds_a_note(screen):
    shop = ShopFactory()
    agent = make_user("cs_agent", username="agent", shops=[shop])
    wanted = OrderFactory(shop=shop, status="ready", receiver_phone="13912345678", buyer_nickname="小猫咪")
    OrderFactory(shop=shop, status="ready", receiver_phone="13900001111")
    view = screen(1280)
    page = view.login("agent")
    page.click("a[href='/cs/orders/']")
    page.fill("input[name=q]", "5678")
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/cs/orders/?q=5678")
    rows = page.locator("table.list tbody tr")
    assert rows.count() == 1 and wanted.external_id in rows.first.inner_text()
    assert "139****5678" in rows.first.inner_text()
    view.shot("worklist-search")
    page.click(f"text={wanted.external_id}")
    page.fill("#add-note textarea[name=body]", "买家要求周五前送达，已承诺加急")
    page.click("#add-note button")
    page.wait_for_selector("ul.messages li.success")
    assert "买家要求周五前送达" in page.inner_text("ul.notes")
    view.shot("order-note-added")
    note = CsNote.objects.get(order=wanted)
    assert note.author == agent and note.body == "买家要求周五前送达，已承诺加急"
    page.click("#load-buyer-orders")
    page.wait_for_selector("#buyer-orders table")
    view.shot("order-buyer-orders")


@pytest.mark.parametrize("width", [1280, 360])
def test_a_clerk_scans_a_pick(screen, width):
    shop = ShopFactory()
    warehouse = shop.default_warehouse
    clerk = make_user("warehouse_clerk", username="clerk", warehouses=[warehouse])
    litter = stocked_sku(warehouse, location="A-01-3", name_zh="豆腐猫砂", barcode="6901234567908")
    order = ready_order(shop, {litter: 2})
    wave = fulfillment.wave_create(warehouse_id=warehouse.pk, actor=clerk).wave
    view = screen(width)
    page = view.login("clerk")
    page.goto(f"{view.base_url}/warehouse/waves/{wave.pk}/")
    assert "A-01-3" in page.inner_text("#scan-panel")
    assert view.fits_width(), "the scan page scrolls sideways"
    view.shot("scan-before")
    page.fill("#barcode", "6901234567908")
    page.fill("input[name=quantity]", "2")
    page.press("#barcode", "Enter")
    page.wait_for_selector(".scan-result.good")
    view.shot("scan-confirmed")
    assert view.fits_width()
    task = PickTask.objects.get(wave=wave)
    assert task.picked_quantity == 2 and task.state == "picked"
    order.refresh_from_db()
    assert order.status == "picked"


def test_a_manager_approves_from_the_inbox(screen):
    team = Team()
    order = team.order("8000.00")
    view = screen(1280)
    page = view.login("wang")
    page.click("a[href='/manager/approvals/']")
    assert order.external_id in page.inner_text("table.list")
    view.shot("inbox")
    page.click(f"text={order.external_id}")
    page.fill(f"form[action$='/approve/'] textarea[name=comment]", "价格与合同一致，同意")
    page.click("form[action$='/approve/'] button")
    page.wait_for_selector("ul.messages li.success")
    view.shot("approved")
    request = ApprovalRequest.objects.get(order=order)
    assert request.state == "approved"
    order.refresh_from_db()
    assert order.status == "ready"


def test_finance_opens_a_receivable(screen):
    shop = ShopFactory()
    make_user("finance", username="finance", shops=[shop])
    dealer = CustomerFactory(code="B2B-HZ", name="杭州宠物批发", credit_limit=Decimal("50000"), payment_terms_days=30)
    late = OrderFactory(shop=shop, customer=dealer, status="shipped", paid_amount=0,
                        placed_at=timezone.now() - timedelta(days=45))
    view = screen(1280)
    page = view.login("finance")
    page.click("header.top a[href='/finance/receivables/']")
    row = page.locator("#receivables tbody tr").first
    assert "杭州宠物批发" in row.inner_text() and "¥64.70" in row.inner_text()
    view.shot("receivables")
    page.click("#receivables a:has-text('杭州宠物批发')")
    page.wait_for_selector("#receivable-orders")
    assert late.external_id in page.inner_text("#receivable-orders tr.overdue-row")
    view.shot("receivable-detail")


@pytest.mark.parametrize("width", [1280, 360])
def test_a_warehouse_lead_opens_the_stock_alerts_and_sees_the_expired_lot_first(screen, width):
    shop = ShopFactory()
    warehouse = shop.default_warehouse
    make_user("warehouse_lead", username="lead", warehouses=[warehouse])
    today = timezone.localdate()
    formula = SKUFactory(code="FORMULA-1", name_zh="婴儿配方奶粉 900g", batch_tracked=True, shelf_life_days=720,
                         near_expiry_alert_days=60, safety_stock=10)
    stock_up(warehouse, formula, quantity=4, lot="L-OLD", expires_on=today - timedelta(days=2))
    stock_up(warehouse, formula, quantity=8, lot="L-NEAR", expires_on=today + timedelta(days=20))
    stock_alerts_refresh()
    view = screen(width)
    page = view.login("lead")
    page.click("a[href='/warehouse/stock-alerts/']")
    page.wait_for_selector("#alert-list")
    rows = page.locator("#alert-list tbody tr")
    assert rows.count() == 3  # the expired lot, the near one, and the SKU below its safety stock
    assert "批次已过期" in rows.nth(0).inner_text() and "已过期 2 天" in rows.nth(0).inner_text()
    assert "还剩 20 天" in rows.nth(1).inner_text() and "安全库存 10" in rows.nth(2).inner_text()
    assert view.fits_width(), "the alert list scrolls sideways"
    view.shot(f"stock-alerts-{width}")
