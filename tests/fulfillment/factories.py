"""Builders for fulfillment tests (tests/factories.py stays the shared base)."""
from decimal import Decimal

import factory

from apps.fulfillment.models import Carrier, SenderProfile
from tests.factories import OrderFactory, WarehouseFactory

CARRIER_CODES = ["sf", "zto", "yto", "yunda", "jt", "deppon", "ems"]

# The company's own settings per carrier, as an administrator would enter them.
ACCOUNTS = {
    "sf": {"monthly_account": "0210012345", "cod_account": "0210098765"},
    "deppon": {"monthly_account": "DB8812345", "cod_account": "6222020200112233445"},
    "ems": {"monthly_account": "11000123456"},
}


class SenderProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SenderProfile

    warehouse = factory.SubFactory(WarehouseFactory)
    name = "杭州一号仓"
    phone = "0571-88886666"
    company = "示例商贸有限公司"
    province = "浙江省"
    city = "杭州市"
    district = "余杭区"
    address_detail = "仓前街道文一西路 1 号"


def configure_accounts():
    for code, values in ACCOUNTS.items():
        Carrier.objects.filter(code=code).update(**values)


def point_at(code: str, url: str) -> Carrier:
    Carrier.objects.filter(code=code).update(api_base_url=url)
    return Carrier.objects.get(code=code)


def shippable_order(status="packed", **kwargs):
    """An order ready for its e-waybill (packed), its warehouse with sender details."""
    order = OrderFactory(status=status, **kwargs)
    SenderProfileFactory(warehouse=order.warehouse)
    return order


def first_service(carrier) -> str:
    spec = next(spec for spec in carrier.waybill_schema["fields"] if spec["path"] == "service_type")
    return next(iter(spec["choices"]))


def valid_payload(carrier, **overrides) -> dict:
    """An e-waybill every carrier accepts, with each optional field filled where the carrier has it."""
    payload = {
        "service_type": first_service(carrier),
        "monthly_account": ACCOUNTS.get(carrier.code, {}).get("monthly_account", ""),
        "sender": {"name": "杭州一号仓", "phone": "0571-88886666", "company": "示例商贸有限公司",
                   "province": "浙江省", "city": "杭州市", "district": "余杭区", "detail": "仓前街道文一西路 1 号"},
        "receiver": {"name": "张三", "phone": "138 1234 5678", "province": "上海市", "city": "上海市",
                     "district": "浦东新区", "detail": "世纪大道 100 号 8 楼", "postal_code": "200120"},
        "cargo": {"name": "宠物食品", "packages": 2},
        "weight": Decimal("1.25"),
        "insured_value": Decimal("300"),
    }
    payload.update(overrides)
    return payload


# --- waves and picking ----------------------------------------------------------------------------

def stocked_sku(warehouse, *, location: str, quantity: int = 100, lot: str | None = None,
                expires_in_days: int = 365, **sku_fields):
    """A SKU with stock received through the real service, at a pick location. With `lot` it is
    batch-tracked and the stock is that lot."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.inventory.models import StockLevel
    from tests.factories import SKUFactory, stock_up

    if lot:
        sku_fields.setdefault("batch_tracked", True)
        sku_fields.setdefault("shelf_life_days", 720)
    sku = SKUFactory(**sku_fields)
    stock_up(warehouse, sku, quantity=quantity, lot=lot,
             expires_on=timezone.localdate() + timedelta(days=expires_in_days) if lot else None)
    StockLevel.objects.filter(warehouse=warehouse, sku=sku).update(location_code=location)
    return sku


def add_lot(warehouse, sku, *, lot: str, location: str, quantity: int = 100, expires_in_days: int = 365):
    """Another lot of a batch-tracked SKU, at its own location."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.inventory.models import StockLevel
    from tests.factories import stock_up

    stock_up(warehouse, sku, quantity=quantity, lot=lot,
             expires_on=timezone.localdate() + timedelta(days=expires_in_days))
    StockLevel.objects.filter(warehouse=warehouse, sku=sku, batch__lot_number=lot).update(location_code=location)


def ready_order(shop, lines: dict, *, hours_left: float = 48, **fields):
    """A reviewed order in `ready` wanting {sku: quantity}, its stock reserved FEFO by the real service."""
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from apps.inventory.services import reserve_for_order
    from apps.orders.models import Order, OrderLine

    order = OrderFactory(shop=shop, status="ready", with_line=False,
                         promised_ship_by=timezone.now() + timedelta(hours=hours_left), **fields)
    for number, (sku, quantity) in enumerate(lines.items(), start=1):
        OrderLine.objects.create(order=order, line_no=number, sku=sku, name=sku.name_zh, quantity=quantity,
                                 unit_price=Decimal("19.90"), line_total=Decimal("19.90") * quantity)
    with transaction.atomic():  # the service expects its caller's transaction and the order's lock
        reserve_for_order(order, actor=None, on_shortfall="raise")
    return Order.objects.get(pk=order.pk)
