"""Open orders from an old shop ledger: one row per line grouped into orders, entering the lifecycle
through intake (unpaid → pending_payment, paid → pending_review with stock reserved), idempotent on
shop + order number, and every refusal at its row with nothing written."""
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from apps.imports.cleaning import parse_datetime
from apps.imports.services import import_file
from apps.inventory.models import Reservation
from apps.orders.models import Order
from tests.factories import ShopFactory, WarehouseFactory

pytestmark = pytest.mark.django_db
LEGACY = Path(__file__).resolve().parents[2] / "fixtures" / "legacy"
SHANGHAI = ZoneInfo("Asia/Shanghai")
HEADER = "店铺,订单号,下单时间,订单状态,收货人,手机,省,市,区,详细地址,商品编码,数量,单价\n"


@pytest.fixture
def shop():
    warehouse = WarehouseFactory(code="HZ1", name="杭州一号仓")
    for kind, name in (("skus", "skus.xlsx"), ("opening_stock", "opening_stock_gbk.csv")):
        assert import_file(kind=kind, content=(LEGACY / name).read_bytes(), filename=name, dry_run=False).written
    return ShopFactory(code="dy-xinyuan", platform="douyin", default_warehouse=warehouse)


def run(content=None, name="open_orders.xlsx", dry_run=False):
    return import_file(kind="open_orders", content=content or (LEGACY / name).read_bytes(), filename=name,
                       dry_run=dry_run)


def orders():
    return {order.external_id: (order.status, order.payment_status, order.receiver_phone, order.placed_at,
                                order.shipping_fee, order.grand_total,
                                [(line.sku.code, line.quantity, line.unit_price, line.discount)
                                 for line in order.lines.order_by("line_no")])
            for order in Order.objects.prefetch_related("lines__sku")}


def test_rows_become_orders_at_the_right_status_with_stock_reserved(shop):
    report = run()
    assert report.errors == [] and report.written
    assert (report.rows, report.new) == (4, 2)  # four line rows, one a pasted copy: two orders
    assert orders() == {
        "dy_LEGACY000101": ("pending_review", "paid", "13800138001", datetime(2026, 1, 18, 9, 30, tzinfo=SHANGHAI),
                            Decimal("8.00"), Decimal("49.22"),
                            [("XY-PF-0704", 2, Decimal("6.66"), Decimal("0.00")),
                             ("XY-CL-0001", 1, Decimal("29.90"), Decimal("2.00"))]),
        "dy_LEGACY000102": ("pending_payment", "unpaid", "13912345678", datetime(2026, 1, 19, 20, 5, tzinfo=SHANGHAI),
                            Decimal("0.00"), Decimal("117.00"), [("XY-IM-0100", 3, Decimal("39.00"), Decimal("0.00"))]),
    }
    paid = Order.objects.get(external_id="dy_LEGACY000101")
    assert sum(Reservation.objects.filter(order_line__order=paid).values_list("quantity", flat=True)) == 3
    assert [event.type for event in paid.events.order_by("pk")] == ["created", "transition"]


def test_importing_the_same_orders_twice_changes_nothing(shop):
    run()
    before = orders()
    again = run()
    assert (again.new, again.unchanged, again.errors, again.written) == (0, 2, [], True)
    assert orders() == before and Reservation.objects.count() == 3


def test_a_dry_run_counts_the_orders_but_writes_nothing(shop):
    report = run(dry_run=True)
    assert (report.new, report.errors, report.written) == (2, [], False)
    assert not Order.objects.exists() and not Reservation.objects.exists()
    first = report.preview[0]  # as the admin reads it: Shanghai time to the minute, blanks for empty cells
    assert (first["external_id"], first["placed_at"], first["paid_at"]) == ("dy_LEGACY000101", "2026-01-18 09:30", "")


def test_an_order_changed_since_its_import_is_refused_not_overwritten(shop):
    run()
    before = orders()
    content = (HEADER + "dy-xinyuan,dy_LEGACY000102,2026/1/19 20:05,待付款,李四,13912345678,广东省,广州市,天河区,"
               "天河路 1 号,XY-IM-0100,5,39.00\n").encode()
    report = run(content, name="changed.csv")
    assert [(e.row, e.column) for e in report.errors] == [(2, "订单号")]
    assert orders() == before


def test_wrong_rows_are_named_and_a_failure_in_the_last_row_writes_nothing(shop):
    good = "dy-xinyuan,dy_LEGACY000201,2026-01-20 10:00,已付款,王五,13800001111,浙江省,杭州市,西湖区,文一路 1 号,"
    content = (HEADER
               + good + "XY-PF-0704,1,6.66\n"
               + good.replace("王五", "王六") + "XY-CL-0001,1,29.90\n"  # the order's receiver differs
               + "dy-nowhere,dy_LEGACY000202,2026-01-20,已付款,赵,13800001112,浙江省,杭州市,西湖区,路 2 号,XY-PF-0704,1,6.66\n"
               + "dy-xinyuan,dy_LEGACY000203,2026-01-20,已发货,赵,13800001113,浙江省,杭州市,西湖区,路 3 号,XY-PF-0704,1,6.66\n"
               + "dy-xinyuan,12345,2026-01-20,已付款,赵,13800001114,浙江省,杭州市,西湖区,路 4 号,XY-PF-0704,1,6.66\n"
               + "dy-xinyuan,dy_LEGACY000205,2026-01-20,已付款,赵,13800001115,浙江省,杭州市,西湖区,路 5 号,NO-SUCH,1,6.66\n"
               ).encode("gbk")
    report = run(content, name="bad.csv")
    assert {(e.row, e.column) for e in report.errors} == {(3, "收货人"), (4, "店铺"), (5, "订单状态"), (6, "订单号"),
                                                          (7, "商品编码")}
    assert not Order.objects.exists()

    only_last_wrong = (HEADER + good + "XY-PF-0704,1,6.66\n" + good.replace("201", "202") + "XY-PF-0704,1,-1\n").encode()
    report = run(only_last_wrong, name="last.csv")
    assert [(e.row, e.column) for e in report.errors] == [(3, "单价")]
    assert not Order.objects.exists() and not Reservation.objects.exists()


@pytest.mark.parametrize("value, expected", [
    ("2026-01-18 14:30", datetime(2026, 1, 18, 14, 30)),
    ("2026/1/18 14:30:05", datetime(2026, 1, 18, 14, 30, 5)),
    ("2026年1月18日 9时5分", datetime(2026, 1, 18, 9, 5)),
    ("２０２６-０１-１８", datetime(2026, 1, 18)),
    (46040.75, datetime(2026, 1, 18, 18, 0)),
    (datetime(2026, 1, 18, 8, 0), datetime(2026, 1, 18, 8, 0)),
])
def test_times_of_day_in_legacy_spellings(value, expected):
    assert parse_datetime(value) == expected.replace(tzinfo=SHANGHAI)


def test_a_time_that_is_not_one_is_refused():
    with pytest.raises(ValueError):
        parse_datetime("2026-01-18 25:00")


def test_the_paid_orders_are_reviewed_by_one_queued_task_after_commit(shop, django_capture_on_commit_callbacks):
    from django_q.models import OrmQ

    from apps.orders.tasks import audit_orders

    with django_capture_on_commit_callbacks(execute=True):
        run()
    [queued] = [task.task for task in OrmQ.objects.all()]
    paid = Order.objects.get(external_id="dy_LEGACY000101")
    assert (queued["func"], queued["args"]) == ("apps.orders.tasks.audit_orders", ([paid.pk],))
    assert audit_orders(*queued["args"]) == 1
    paid.refresh_from_db()
    assert paid.status == "ready" and not paid.holds.exists()  # reviewed: stock held, every rule passed
