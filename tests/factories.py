"""Test data builders. Orders are built directly in a given status, as the lifecycle tests need."""
from decimal import Decimal

import factory
from django.db import transaction
from django.contrib.auth.models import Group
from django.utils import timezone
from guardian.shortcuts import assign_perm

from apps.accounts.models import User
from apps.catalog.models import SKU
from apps.core.phones import phone_tail
from apps.customers.models import Customer
from apps.inventory.models import Warehouse
from apps.orders.models import Order, OrderLine, Shop, ShopApiToken


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse

    code = factory.Sequence(lambda n: f"WH{n}")
    name = factory.Sequence(lambda n: f"仓库{n}")


class ShopFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Shop

    code = factory.Sequence(lambda n: f"shop{n}")
    name = factory.Sequence(lambda n: f"店铺{n}")
    platform = "douyin"
    default_warehouse = factory.SubFactory(WarehouseFactory)


class SKUFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SKU

    code = factory.Sequence(lambda n: f"SKU{n:05d}")
    barcode = factory.Sequence(lambda n: f"69{n:011d}")
    name_zh = factory.Sequence(lambda n: f"商品{n}")
    name_en = factory.Sequence(lambda n: f"Product {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    code = factory.Sequence(lambda n: f"C{n:05d}")
    name = factory.Sequence(lambda n: f"客户{n}")


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order
        skip_postgeneration_save = True

    shop = factory.SubFactory(ShopFactory)
    external_id = factory.Sequence(lambda n: f"dy_{n:010d}")
    platform = factory.SelfAttribute("shop.platform")
    customer = factory.SubFactory(CustomerFactory)
    warehouse = factory.SelfAttribute("shop.default_warehouse")
    status_changed_at = factory.LazyFunction(timezone.now)
    placed_at = factory.LazyFunction(timezone.now)
    receiver_name = "张三"
    receiver_phone = "13812345678"
    phone_tail = factory.LazyAttribute(lambda o: phone_tail(o.receiver_phone))
    province = "浙江省"
    city = "杭州市"
    district = "西湖区"
    address_detail = "文三路 90 号 2 幢"
    goods_total = Decimal("59.70")
    shipping_fee = Decimal("5.00")
    discount_total = Decimal("0.00")
    grand_total = Decimal("64.70")

    @factory.post_generation
    def with_line(order, create, extracted, **kwargs):
        if create and extracted is not False:
            OrderLine.objects.create(order=order, line_no=1, sku=SKUFactory(), name="商品", quantity=3,
                                     unit_price=Decimal("19.90"), line_total=Decimal("59.70"))


def make_user(role: str | None = None, *, shops=(), warehouses=(), superuser=False, username=None) -> User:
    user = User.objects.create_user(username=username or f"{role or 'user'}-{User.objects.count() + 1}",
                                    password="test-pass-123", is_superuser=superuser, is_staff=superuser)
    if role:
        user.groups.add(Group.objects.get(name=role))
    for shop in shops:
        assign_perm("orders.serve_shop", user, shop)
    for warehouse in warehouses:
        assign_perm("inventory.work_warehouse", user, warehouse)
    return User.objects.get(pk=user.pk)  # drop cached permissions


def make_token(shop, *, revoked=False) -> str:
    raw, prefix, key_hash = ShopApiToken.generate()
    ShopApiToken.objects.create(shop=shop, name="test", prefix=prefix, key_hash=key_hash,
                                revoked_at=timezone.now() if revoked else None)
    return raw


def stock_up(warehouse, *skus, quantity=100, lot=None, expires_on=None, manufactured_on=None):
    """Receive stock through the real service (so the ledger stays consistent)."""
    from apps.inventory.services import stock_receive

    return [stock_receive(warehouse_id=warehouse.pk, sku_id=sku.pk, quantity=quantity, actor=None,
                          lot_number=lot or "", expires_on=expires_on, manufactured_on=manufactured_on)
            for sku in skus]


def reserve_fully(order, *, quantity=100):
    """Stock the order's warehouse and reserve every line, as intake would have."""
    from apps.inventory.services import reserve_for_order

    for line in order.lines.select_related("sku"):
        stock_up(order.warehouse, line.sku, quantity=quantity)
    status = order.status
    Order.objects.filter(pk=order.pk).update(status="ready")
    order.refresh_from_db()
    with transaction.atomic():  # the service expects its caller's transaction
        result = reserve_for_order(order, actor=None, on_shortfall="raise")
    Order.objects.filter(pk=order.pk).update(status=status)
    order.refresh_from_db()
    return result
