"""Review rules (审单). Each rule looks at one order and says what is wrong, or nothing; the
service `orders.services.order_audit` turns findings into holds. Each rule is testable alone."""
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import F, Sum
from django.utils.translation import gettext as _

from apps.core.money import to_money

from .models import PRE_SHIPMENT_STATUSES, AuditRule, HoldType, Order

OPEN_FOR_CREDIT_EXCLUDED = ("cancelled", "expired", "refused", "intercepted")


@dataclass
class Finding:
    hold_type: str
    reason: str
    details: dict = field(default_factory=dict)


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
    AuditRule.Code.BLACKLISTED: check_blacklisted,
    AuditRule.Code.OVER_CREDIT_LIMIT: check_over_credit_limit,
    AuditRule.Code.MULTIPLE_ADDRESSES: check_multiple_addresses,
}


def evaluate(order) -> list[tuple[AuditRule, Finding]]:
    """Every active rule's finding for this order."""
    findings = []
    for rule in AuditRule.objects.filter(is_active=True):
        finding = CHECKS[rule.code](order, rule)
        if finding:
            findings.append((rule, finding))
    return findings
