"""Review rules (审单). Each rule looks at one order and says what is wrong, or nothing; the
service `orders.services.order_audit` turns findings into holds. Each rule is testable alone."""
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Sum
from django.utils.translation import gettext as _

from apps.core.money import to_money

from .models import PRE_SHIPMENT_STATUSES, AuditRule, HoldType, Order

DEFAULT_PRICE_TOLERANCE_PERCENT = Decimal("10")

OPEN_FOR_CREDIT_EXCLUDED = ("cancelled", "expired", "refused", "intercepted")


@dataclass
class Finding:
    hold_type: str
    reason: str
    details: dict = field(default_factory=dict)


def _stock_gaps(order) -> dict:
    """Reserve what has become available since intake; what is still missing, by hold type."""
    from apps.inventory.services import reserve_for_order, shortfall_holds

    result = reserve_for_order(order, actor=None, on_shortfall="report")
    return shortfall_holds(result.shortfalls)


def _stock_finding(gaps: dict, hold_type) -> Finding | None:
    gap = gaps.get(hold_type)
    return Finding(hold_type, *gap) if gap else None


def check_out_of_stock(order, rule) -> Finding | None:
    return _stock_finding(_stock_gaps(order), HoldType.OUT_OF_STOCK)


def check_expiry_conflict(order, rule) -> Finding | None:
    return _stock_finding(_stock_gaps(order), HoldType.EXPIRY_CONFLICT)


def check_price_mismatch(order, rule) -> Finding | None:
    """Lines whose price per unit (after the line discount) is further from the SKU's list price
    than the rule's tolerance, either way. SKUs without a list price are not judged."""
    tolerance = Decimal(str(rule.parameters.get("tolerance_percent", DEFAULT_PRICE_TOLERANCE_PERCENT))) / 100
    off = []
    for line in order.lines.select_related("sku").order_by("line_no"):
        list_price = line.sku.list_price
        if not list_price:
            continue
        unit = to_money(line.line_total / line.quantity)
        deviation = abs(unit - list_price) / list_price
        if deviation > tolerance:
            off.append({"line_no": line.line_no, "sku": line.sku.code, "unit_price": str(unit),
                        "list_price": str(list_price), "deviation_percent": str(round(deviation * 100, 1))})
    if not off:
        return None
    reason = _("; ").join(_("%(sku)s at %(unit)s, list price %(list)s") % {
        "sku": item["sku"], "unit": item["unit_price"], "list": item["list_price"]} for item in off)
    return Finding(HoldType.PRICE_MISMATCH, reason,
                   {"lines": off, "tolerance_percent": str(tolerance * 100)})


def check_address_unresolved(order, rule) -> Finding | None:
    """Review resolves the address first (apps.orders.normalisation.resolve_order_address); an
    order still without a region code could not be placed on the map."""
    if order.region_code:
        return None
    return Finding(HoldType.ADDRESS_UNRESOLVED,
                   _("The address “%(address)s” could not be matched to a province, city and district")
                   % {"address": " ".join(filter(None, [order.province, order.city, order.district,
                                                          order.address_detail]))})


def check_blacklisted(order, rule) -> Finding | None:
    customer = order.customer
    if not customer.is_blacklisted:
        return None
    return Finding(HoldType.BLACKLISTED, _("Customer %(code)s is blacklisted: %(why)s")
                   % {"code": customer.code, "why": customer.blacklist_reason or "-"})


def open_receivables(customer) -> Decimal:
    """Unpaid amounts of the customer's live orders, this one included."""
    total = (Order.objects.filter(customer=customer).exclude(status__in=OPEN_FOR_CREDIT_EXCLUDED)
             .aggregate(open=Sum(F("grand_total") - F("paid_amount")))["open"])
    return to_money(total or 0)  # SQLite sums money as REAL; back to cents


def check_over_credit_limit(order, rule) -> Finding | None:
    customer = order.customer
    if not customer.credit_limit and not customer.payment_terms_days:
        return None  # not a credit customer (consumers, cash on delivery)
    owed = open_receivables(customer)
    if owed <= customer.credit_limit:
        return None
    return Finding(HoldType.OVER_CREDIT_LIMIT,
                   _("Open receivables %(owed)s exceed the credit limit %(limit)s")
                   % {"owed": owed, "limit": customer.credit_limit},
                   {"open_receivables": str(owed), "credit_limit": str(customer.credit_limit)})


def _address_key(order) -> tuple:
    return (order.province, order.city, order.district, order.address_detail.strip(), order.receiver_phone)


def check_multiple_addresses(order, rule) -> Finding | None:
    others = (Order.objects.filter(customer_id=order.customer_id, status__in=PRE_SHIPMENT_STATUSES).exclude(pk=order.pk)
              .only("external_id", "province", "city", "district", "address_detail", "receiver_phone"))
    differing = sorted(o.external_id for o in others if _address_key(o) != _address_key(order))
    if not differing:
        return None
    return Finding(HoldType.MULTIPLE_ADDRESSES,
                   _("The same buyer has open orders to other addresses: %(orders)s")
                   % {"orders": ", ".join(differing[:5])}, {"orders": differing})


CHECKS = {
    AuditRule.Code.OUT_OF_STOCK: check_out_of_stock,
    AuditRule.Code.EXPIRY_CONFLICT: check_expiry_conflict,
    AuditRule.Code.PRICE_MISMATCH: check_price_mismatch,
    AuditRule.Code.ADDRESS_UNRESOLVED: check_address_unresolved,
    AuditRule.Code.BLACKLISTED: check_blacklisted,
    AuditRule.Code.OVER_CREDIT_LIMIT: check_over_credit_limit,
    AuditRule.Code.MULTIPLE_ADDRESSES: check_multiple_addresses,
}


# Both stock rules read the same reservation pass: evaluate runs it once for the two.
STOCK_RULES = {AuditRule.Code.OUT_OF_STOCK: HoldType.OUT_OF_STOCK,
               AuditRule.Code.EXPIRY_CONFLICT: HoldType.EXPIRY_CONFLICT}


def evaluate(order) -> list[tuple[AuditRule, Finding]]:
    """Every active rule's finding for this order."""
    findings, stock_gaps = [], None
    for rule in AuditRule.objects.filter(is_active=True):
        if rule.code in STOCK_RULES:
            if stock_gaps is None:
                stock_gaps = _stock_gaps(order)
            finding = _stock_finding(stock_gaps, STOCK_RULES[rule.code])
        else:
            finding = CHECKS[rule.code](order, rule)
        if finding:
            findings.append((rule, finding))
    return findings
