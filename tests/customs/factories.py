"""Builders for customs tests: orders whose SKUs carry customs data, a warehouse with a sender."""
from decimal import Decimal

from apps.catalog.models import SKU
from apps.fulfillment.models import SenderProfile
from apps.orders.models import OrderLine
from tests.factories import OrderFactory, SKUFactory

# A microwave oven: heading 8516 is under a mandatory Thai standard (TISI) in the TH profile.
MICROWAVE = {"code": "MW-20", "name_zh": "微波炉 20L", "name_en": "Microwave oven 20 L", "hs_code": "8516500000",
             "weight_grams": 11250, "origin_country": "CN", "unit": "台"}
# A face cream: no Thai standard applies.
CREAM = {"code": "FC-50", "name_zh": "保湿面霜 50ml", "name_en": "Moisturising face cream 50 ml",
         "hs_code": "3304990099", "weight_grams": 120, "origin_country": "FR", "unit": "瓶"}


def sku(**fields) -> SKU:
    existing = SKU.objects.filter(code=fields.get("code")).first() if fields.get("code") else None
    return existing or SKUFactory(**fields)


def cross_border_order(*lines, status="ready", shop=None, customer=None, sender=True):
    """An order with the given (sku fields, quantity, line total) lines; by default a microwave and
    three creams at 100.00 the three (33.3333 each)."""
    lines = lines or ((MICROWAVE, 1, Decimal("899.00")), (CREAM, 3, Decimal("100.00")))
    extra = {key: value for key, value in (("shop", shop), ("customer", customer)) if value is not None}
    goods = sum((total for _fields, _qty, total in lines), Decimal("0"))
    order = OrderFactory(status=status, with_line=False, goods_total=goods, shipping_fee=Decimal("0"),
                         grand_total=goods, receiver_name="Somchai Jaidee", receiver_phone="13812345678", **extra)
    for line_no, (fields, quantity, total) in enumerate(lines, start=1):
        item = sku(**fields)
        OrderLine.objects.create(order=order, line_no=line_no, sku=item, name=item.name_zh, quantity=quantity,
                                 unit_price=(total / quantity).quantize(Decimal("0.01")), line_total=total)
    if sender and not SenderProfile.objects.filter(warehouse=order.warehouse).exists():
        SenderProfile.objects.create(warehouse=order.warehouse, name="杭州一号仓", phone="0571-88886666",
                                     company="示例商贸有限公司", province="浙江省", city="杭州市", district="余杭区",
                                     address_detail="仓前街道文一西路 1 号")
    return order


# What a Thai declaration of the default order lacks after preparing it: the consignee's tax
# number, the legal units, Thai names, and the TISI number of the microwave.
TH_COMPLETION = {
    "consignee_tax_id": "0105556012345",
    "lines": [
        {"line_no": 1, "legal_unit": "台", "legal_quantity": Decimal("1"), "local_names": {"th": "เตาไมโครเวฟ 20 ลิตร"},
         "extras": {"tisi_number": "TIS 1773-2548"}},
        {"line_no": 2, "legal_unit": "千克", "legal_quantity": Decimal("0.360"),
         "local_names": {"th": "ครีมบำรุงผิวหน้า 50 มล."}},
    ],
}
# The same for a US declaration: only the legal units.
US_COMPLETION = {"lines": [{"line_no": 1, "legal_unit": "台", "legal_quantity": Decimal("1")},
                           {"line_no": 2, "legal_unit": "千克", "legal_quantity": Decimal("0.360")}]}
