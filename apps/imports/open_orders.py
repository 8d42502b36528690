"""Open orders from a legacy sheet: one row per order line, grouped by shop and order number.

Each order is created through the orders app's intake service (orders_create_batch), so it enters the
lifecycle as an order from a platform does: unpaid → pending_payment; paid → pending_review, then
reviewed by the rules once committed; stock reserved FEFO, a shortfall held. Only open orders are
taken: a shipped, completed or cancelled order belongs to the old system's history.

Idempotent on shop + order number: an order already in the hub with the same contents is unchanged;
with other contents, an error at its first row (an order is changed in its page, not by a file).
"""
from collections import defaultdict
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.phones import InvalidPhone, normalise_phone

from . import cleaning
from .report import Rollback, RowError, kept_value

CHUNK = 5000  # keys per IN (...) query (SQLite's parameter limit)
PROGRESS_EVERY = 500
BATCH_ORDERS = 500  # orders written together
CENT = Decimal("0.01")


class OpenOrders:
    HEADERS = {
        "shop": ("店铺", "店铺编码", "店铺代码", "shop", "shop code"),
        "external_id": ("订单号", "订单编号", "平台订单号", "原始单号", "order number", "order no"),
        "placed_at": ("下单时间", "下单日期", "创建时间", "placed at", "order date"),
        "paid_at": ("付款时间", "支付时间", "paid at"),
        "status": ("订单状态", "状态", "status"),
        "customer_code": ("客户编码", "客户代码", "customer code"),
        "buyer": ("买家昵称", "买家", "buyer"),
        "receiver": ("收货人", "收件人", "receiver"),
        "phone": ("手机", "收货人手机", "联系电话", "电话", "phone", "mobile"),
        "province": ("省", "省份", "province"),
        "city": ("市", "城市", "city"),
        "district": ("区", "区县", "县区", "district"),
        "detail": ("详细地址", "地址", "收货地址", "address"),
        "sku": ("商品编码", "SKU编码", "货号", "sku", "sku code"),
        "quantity": ("数量", "购买数量", "quantity", "qty"),
        "unit_price": ("单价", "成交单价", "unit price", "price"),
        "discount": ("优惠", "优惠金额", "折扣金额", "discount"),
        "shipping_fee": ("运费", "邮费", "shipping", "shipping fee"),
        "buyer_remark": ("买家留言", "买家备注", "备注", "remark", "buyer remark"),
    }
    REQUIRED = ("shop", "external_id", "sku", "quantity", "unit_price", "receiver", "phone", "province", "city",
                "detail")
    KEY = ("shop", "external_id", "sku", "unit_price", "discount")  # one line of one order
    KEY_COLUMN = "sku"
    # What every row of an order repeats; a row that says otherwise is an error at that row.
    ORDER_FIELDS = ("placed_at", "paid_at", "paid", "customer_code", "buyer", "receiver", "phone", "province", "city",
                    "district", "detail", "shipping_fee", "buyer_remark")
    LONGEST = {"external_id": 64, "buyer": 64, "receiver": 64, "province": 32, "city": 32, "district": 32,
               "detail": 255, "buyer_remark": 1000}


UNPAID_WORDS = {"待付款", "未付款", "等待付款", "待支付", "等待买家付款", "pending payment", "unpaid"}
PAID_WORDS = {"已付款", "已支付", "待发货", "待审核", "待配货", "买家已付款", "等待卖家发货", "paid", "to ship"}


def _money(value, name, problems, *, default=None):
    try:
        amount = cleaning.parse_decimal(value)
    except ValueError:
        problems[name] = _("Not a number.")
        return default
    if amount is None:
        return default
    if amount < 0:
        problems[name] = _("Cannot be negative.")
    elif amount != amount.quantize(CENT):
        problems[name] = _("At most two decimal places.")
    return amount.quantize(CENT) if amount == amount.quantize(CENT) else default


def clean(values: dict) -> tuple[dict, dict[str, str]]:
    row = {name: cleaning.text(values.get(name)) for name in OpenOrders.HEADERS if name not in ("placed_at", "paid_at")}
    problems = {}
    for name in OpenOrders.REQUIRED:
        if not row.get(name):
            problems[name] = _("Required.")
    for name in ("placed_at", "paid_at"):
        try:
            row[name] = cleaning.parse_datetime(values.get(name))
        except ValueError:
            problems[name] = _("Not a date and time (use 2026-01-18 14:30 or 2026/1/18 14:30).")
            row[name] = None
    status = row.pop("status").lower()
    if status in PAID_WORDS or (not status and row["paid_at"]):
        row["paid"] = True
    elif status in UNPAID_WORDS or not status:
        row["paid"] = False
    else:
        problems["status"] = _("Only open orders are imported (unpaid, or paid and not yet shipped).")
        row["paid"] = False
    if row.get("phone"):
        try:
            row["phone"] = normalise_phone(row["phone"])
        except InvalidPhone:
            problems["phone"] = _("Not a phone number.")
    try:
        quantity = cleaning.parse_int(row.get("quantity"))
    except ValueError:
        problems["quantity"] = _("Not a whole number.")
        quantity = None
    if quantity is not None and not 1 <= quantity <= 100_000:
        problems["quantity"] = _("Between 1 and 100,000.")
    row["quantity"] = quantity
    row["unit_price"] = _money(row.get("unit_price"), "unit_price", problems)
    row["discount"] = _money(row.get("discount"), "discount", problems, default=Decimal("0.00"))
    row["shipping_fee"] = _money(row.get("shipping_fee"), "shipping_fee", problems, default=Decimal("0.00"))
    priced = quantity and row["unit_price"] is not None and not {"unit_price", "discount"} & problems.keys()
    if priced and row["discount"] > row["unit_price"] * quantity:
        problems["discount"] = _("The discount is larger than the line amount.")
    for name, longest in OpenOrders.LONGEST.items():
        if len(row.get(name) or "") > longest:
            problems[name] = _("At most %(count)d characters.") % {"count": longest}
    return row, problems


def _payload(shop_code, external_id, members) -> dict:
    """The order as the file gives it, in plain values: its digest tells a replay from a change."""
    first = members[0][0]
    return {"source": "legacy_import", "shop": shop_code, "external_id": external_id,
            **{name: str(first[name]) if first[name] is not None else None for name in OpenOrders.ORDER_FIELDS},
            "lines": [[row["sku"], row["quantity"], str(row["unit_price"]), str(row["discount"])]
                      for row, _number in members]}


def _intake_data(first, external_id, members, skus, customers) -> dict:
    """An order's rows as the intake service takes them (what the API's serializer gives it)."""
    return {
        "external_id": external_id,
        "placed_at": first["placed_at"],
        "paid_at": (first["paid_at"] or first["placed_at"] or timezone.now()) if first["paid"] else None,
        "customer": customers.get(first["customer_code"]),
        "buyer": {"nickname": first["buyer"]} if first["buyer"] else {},
        "address": {"receiver": first["receiver"], "phone": first["phone"], "province": first["province"],
                    "city": first["city"], "district": first["district"], "detail": first["detail"]},
        "lines": [{"sku": skus[row["sku"]], "quantity": row["quantity"], "unit_price": row["unit_price"],
                   "discount": row["discount"], "line_total": row["unit_price"] * row["quantity"] - row["discount"]}
                  for row, _number in members],
        "shipping_fee": first["shipping_fee"],
        "discount_total": Decimal("0.00"),
        "buyer_remark": first["buyer_remark"],
    }


def write(rows, numbers, header_of, report, *, dry_run, actor, progress):
    """Create the file's orders through the intake service's batch path, BATCH_ORDERS at a time, inside
    one transaction, rolled back for a dry run or any error, so a dry run meets every refusal the real
    import would."""
    from apps.catalog.models import SKU
    from apps.core.errors import DomainError
    from apps.customers.models import Customer
    from apps.orders.models import Order, Shop
    from apps.orders.services import intake_digest, orders_create_batch

    def error(number, name, message):
        report.errors.append(RowError(number, header_of.get(name, name), str(message)))

    orders = defaultdict(list)
    for row, number in zip(rows, numbers):
        orders[(row["shop"], row["external_id"])].append((row, number))
    shops = {shop.code: shop for shop in Shop.objects.filter(code__in={row["shop"] for row in rows})}
    skus, customers, existing = {}, {}, {}
    sku_codes = list({row["sku"] for row in rows})
    customer_codes = list({row["customer_code"] for row in rows if row["customer_code"]})
    for start in range(0, len(sku_codes), CHUNK):
        skus.update((sku.code, sku) for sku in SKU.objects.filter(code__in=sku_codes[start:start + CHUNK],
                                                                   is_active=True))
    for start in range(0, len(customer_codes), CHUNK):
        customers.update((c.code, c) for c in Customer.objects.filter(code__in=customer_codes[start:start + CHUNK]))
    numbers_by_shop = defaultdict(list)
    for shop_code, external_id in orders:
        if shop_code in shops:
            numbers_by_shop[shops[shop_code].pk].append(external_id)
    for shop_id, external_ids in numbers_by_shop.items():
        for start in range(0, len(external_ids), CHUNK):
            existing.update(((shop_id, external_id), digest) for external_id, digest in Order.objects.filter(
                shop_id=shop_id, external_id__in=external_ids[start:start + CHUNK]).values_list("external_id",
                                                                                                "intake_digest"))
    done, batch = 0, []

    def create(batch):
        try:
            with transaction.atomic():
                orders_create_batch(items=batch, actor=actor)
        except DomainError as exc:  # the same for every order of the batch (the actor may not mark orders paid)
            error(0, "", exc.message)
        except IntegrityError:
            error(0, "", _("An order of this file was created meanwhile (by a platform or a person): check the "
                           "file again."))
        else:
            report.new += len(batch)

    try:
        with transaction.atomic():
            for (shop_code, external_id), members in orders.items():
                done += len(members)
                if progress is not None and done // PROGRESS_EVERY != (done - len(members)) // PROGRESS_EVERY:
                    progress(done)
                first, first_number = members[0]
                errors_before = len(report.errors)
                shop = shops.get(shop_code)
                if shop is None:
                    error(first_number, "shop", _("Unknown shop code."))
                elif not shop.accepts_order_number(external_id):
                    error(first_number, "external_id", _("Not an order number of this shop's platform (%(platform)s).")
                          % {"platform": shop.get_platform_display()})
                if first["customer_code"] and first["customer_code"] not in customers:
                    error(first_number, "customer_code", _("Unknown customer code (import the customers first)."))
                for row, number in members:
                    if row["sku"] not in skus:
                        error(number, "sku", _("Unknown SKU code (import the products first)."))
                    for name in OpenOrders.ORDER_FIELDS:
                        if row[name] != first[name]:
                            error(number, name, _("Differs from row %(row)d of the same order.")
                                  % {"row": first_number})
                if len(report.errors) > errors_before:
                    continue
                payload = _payload(shop_code, external_id, members)
                digest = existing.get((shop.pk, external_id))
                if digest is not None:
                    if digest == intake_digest(payload):
                        report.unchanged += 1
                    else:
                        error(first_number, "external_id", _("This order is already in the order hub with other "
                                                             "contents; change it on its page."))
                    continue
                if report.errors:
                    continue  # nothing will be written: only the remaining rows' errors are wanted
                batch.append((shop, _intake_data(first, external_id, members, skus, customers), payload))
                if len(batch) == BATCH_ORDERS:
                    create(batch)
                    batch = []
            if batch and not report.errors:
                create(batch)
            if dry_run or report.errors:
                raise Rollback
    except Rollback:
        pass
    report.finish([{name: kept_value(row.get(name)) for name in OpenOrders.HEADERS if name != "status"}
                   for row in rows[:10]])

