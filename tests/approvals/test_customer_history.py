"""The approver's 12-month history counts what came back once per order: refused or intercepted
parcels, refunds, and return requests that were not rejected."""
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.approvals.selectors import customer_history
from apps.returns.models import ReasonNode, ReturnRequest
from tests.factories import CustomerFactory, OrderFactory

pytestmark = pytest.mark.django_db


def returned(order, state):
    ReturnRequest.objects.create(order=order, kind="refund_only", state=state, state_changed_at=timezone.now(),
                                 reason=ReasonNode.objects.get(code="buyer.changed_mind"))


def test_returns_refusals_and_refunds_count_once_per_order():
    customer = CustomerFactory()
    plain = OrderFactory(customer=customer, status="completed")
    refused_and_refunded = OrderFactory(customer=customer, status="refused", payment_status="refunded")
    with_return = OrderFactory(customer=customer, status="completed")
    returned(with_return, "closed")
    returned(with_return, "requested")  # a second request on the same order: still one order
    rejected_only = OrderFactory(customer=customer, status="delivered")
    returned(rejected_only, "rejected")
    history = customer_history(customer)
    assert history["orders"] == 4
    assert history["returned"] == 2  # refused_and_refunded, with_return
    assert history["with_returns"] == 1
    assert history["return_rate"] == Decimal("50.0")
    assert history["amount"] == 4 * plain.grand_total  # the return join does not repeat orders
    assert refused_and_refunded.pk in {row["pk"] for row in history["recent"]}
