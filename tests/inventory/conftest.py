from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import models
from django.utils import timezone

from apps.inventory.services import ledger_matches_levels
from apps.orders.models import Order, OrderLine
from tests.factories import CustomerFactory, OrderFactory, ShopFactory, SKUFactory


@pytest.fixture
def today():
    return timezone.localdate()


@pytest.fixture
def shop():
    return ShopFactory()


@pytest.fixture
def warehouse(shop):
    return shop.default_warehouse


@pytest.fixture
def make_order(shop):
    """An order in `status` wanting the given {sku: quantity}, with nothing reserved yet."""

    def build(lines, *, status="ready", customer=None, order_shop=None, payment_due_at=None):
        order = OrderFactory(shop=order_shop or shop, status=status, with_line=False,
                             customer=customer or CustomerFactory(), payment_due_at=payment_due_at,
                             goods_total=Decimal("10.00"), shipping_fee=Decimal("0.00"), grand_total=Decimal("10.00"))
        for number, (sku, quantity) in enumerate(lines.items(), start=1):
            OrderLine.objects.create(order=order, line_no=number, sku=sku, name=sku.name_zh, quantity=quantity,
                                     unit_price=Decimal("0.00"), line_total=Decimal("0.00"))
        return Order.objects.get(pk=order.pk)

    return build


@pytest.fixture
def tracked_sku():
    return SKUFactory(batch_tracked=True, shelf_life_days=365)


def days(n):
    return timezone.localdate() + timedelta(days=n)


def assert_ledger_consistent():
    assert ledger_matches_levels() == []
    from apps.inventory.models import StockLevel

    assert not StockLevel.objects.filter(reserved__gt=models.F("on_hand")).exists()
    assert not StockLevel.objects.filter(reserved__lt=0).exists()
