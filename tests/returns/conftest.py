from decimal import Decimal
from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from apps.inventory import services as stock
from apps.orders import services as order_services
from apps.orders.models import Order, OrderLine
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, SKUFactory, make_user, stock_up


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def warehouse(shop):
    return shop.default_warehouse


@pytest.fixture
def ship_order(shop, warehouse):
    """An order shipped through the real services: stocked, reserved, issued (ledger lines)."""

    def build(lines, *, status="delivered", lot=None):
        total = sum((line_total for _qty, line_total in lines.values()), Decimal("0.00"))
        order = OrderFactory(shop=shop, status="ready", with_line=False, customer=CustomerFactory(),
                             goods_total=total, shipping_fee=Decimal("0.00"), grand_total=total, paid_amount=total,
                             payment_status="paid")
        for number, (sku, (quantity, line_total)) in enumerate(lines.items(), start=1):
            if not stock.StockLevel.objects.filter(sku=sku).exists():
                stock_up(warehouse, sku, quantity=50, lot=lot if sku.batch_tracked else None,
                         expires_on=__import__("datetime").date(2099, 1, 1) if sku.batch_tracked else None)
            unit = (line_total / quantity).quantize(Decimal("0.01"))
            OrderLine.objects.create(order=order, line_no=number, sku=sku, name=sku.name_zh, quantity=quantity,
                                     unit_price=max(unit, line_total / quantity).quantize(Decimal("0.01")),
                                     discount=Decimal("0.00"), line_total=line_total)
        stock.stock_reserve_order(order_id=order.pk, actor=None, on_shortfall="raise")
        Order.objects.filter(pk=order.pk).update(status="packed")
        order_services.order_transition(order_id=order.pk, name="ship", actor=None)
        Order.objects.filter(pk=order.pk).update(status=status)
        return Order.objects.get(pk=order.pk)

    return build


@pytest.fixture
def sku():
    return SKUFactory()


@pytest.fixture
def tracked_sku():
    return SKUFactory(batch_tracked=True, shelf_life_days=365)


@pytest.fixture
def people(shop, warehouse):
    return {
        "agent": make_user("cs_agent", shops=[shop]),
        "lead": make_user("cs_lead", shops=[shop]),
        "clerk": make_user("warehouse_clerk", warehouses=[warehouse]),
        "finance": make_user("finance", shops=[shop]),
    }


def png_bytes(size=(8, 8)) -> bytes:
    buffer = BytesIO()
    Image.new("RGB", size, "red").save(buffer, format="PNG")
    return buffer.getvalue()


def photo(name="p.png", content=None, content_type="image/png"):
    return SimpleUploadedFile(name, png_bytes() if content is None else content, content_type=content_type)
