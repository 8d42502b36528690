"""Two managers deciding the same step at the same instant, on a real PostgreSQL."""
import pytest

from apps.approvals import services
from apps.approvals.errors import ApprovalNotPending
from apps.approvals.models import ApprovalDecision, ApprovalRequest
from apps.orders.models import Order
from tests.approvals.test_approvals import Team
from tests.orders.test_concurrency_pg import run_together

# serialized_rollback: the roles and review rules are migration data, which a flush would take away.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize("outcomes", [("approve", "approve"), ("approve", "reject")])
def test_exactly_one_decision_wins_an_any_one_step(outcomes):
    team = Team()
    order = team.order("8000.00")
    request_id = ApprovalRequest.objects.get(order=order).pk
    deciders = [team.wang, team.li]

    results = run_together(2, lambda i: services.approval_decide(
        request_id=request_id, actor=deciders[i], outcome=outcomes[i], comment=f"decision {i}"))

    winners = [r for r in results if isinstance(r, ApprovalRequest)]
    losers = [r for r in results if isinstance(r, ApprovalNotPending)]
    assert len(winners) == 1 and len(losers) == 1, results
    decision = ApprovalDecision.objects.get()
    expected = {"approve": "ready", "reject": "cancelled"}[decision.outcome]
    assert Order.objects.get(pk=order.pk).status == expected
    assert order.events.filter(name__in=["approve", "reject"]).count() == 1


def test_countersigners_signing_at_once_are_both_counted():
    team = Team()
    order = team.order("80000.00")
    request_id = ApprovalRequest.objects.get(order=order).pk
    deciders = [team.wang, team.li]

    results = run_together(2, lambda i: services.approval_decide(
        request_id=request_id, actor=deciders[i], outcome="approve", comment="会签同意"))

    assert all(isinstance(r, ApprovalRequest) for r in results), results
    assert ApprovalDecision.objects.count() == 2
    assert Order.objects.get(pk=order.pk).status == "ready"
    assert ApprovalRequest.objects.get(pk=request_id).state == "approved"
