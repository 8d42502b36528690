"""The seed's approval rules written as data (used by the demo, and by the tests to prove the
model can say them):

- made-to-order items → production also signs;
- credit score ≥ 90 and amount ≤ ¥50,000 → approved automatically;
- amount > ¥5,000 (and not automatic) → the shop's regional manager;
- amount > ¥50,000 → two named managers countersign (会签).
"""
from decimal import Decimal

from .models import ApprovalLevel, ApprovalPolicy

LARGE = Decimal("5000.00")
VERY_LARGE = Decimal("50000.00")


EXAMPLE_NAMES = ("定制品：生产会签", "信用良好自动通过", "大额订单：区域经理审批", "超大额订单：双经理会签")


def install_example_policies(*, manager_group, production_group, countersigners) -> list[ApprovalPolicy]:
    """Create (or reset) the four policies. `countersigners` are the two managers of 会签."""
    ApprovalPolicy.objects.filter(name__in=EXAMPLE_NAMES).delete()
    policies = []

    def policy(priority, name, outcome=ApprovalPolicy.Outcome.REQUIRE, levels=(), **conditions):
        created = ApprovalPolicy.objects.create(priority=priority, name=name, outcome=outcome, **conditions)
        for position, (level_name, mode, groups, users, shop_scoped) in enumerate(levels, start=1):
            level = ApprovalLevel.objects.create(policy=created, position=position, name=level_name, mode=mode,
                                                 shop_scoped=shop_scoped, time_limit_hours=24,
                                                 escalation=ApprovalLevel.Escalation.MANAGER)
            level.approver_groups.set(groups)
            level.approver_users.set(users)
        policies.append(created)

    any_, all_ = ApprovalLevel.Mode.ANY, ApprovalLevel.Mode.ALL
    policy(10, "定制品：生产会签", made_to_order=True,
           levels=[("生产确认", any_, [production_group], [], False)])
    policy(20, "信用良好自动通过", outcome=ApprovalPolicy.Outcome.AUTO_APPROVE,
           amount_above=LARGE, amount_at_most=VERY_LARGE, credit_score_at_least=90)
    policy(30, "大额订单：区域经理审批", amount_above=LARGE, amount_at_most=VERY_LARGE, credit_score_below=90,
           levels=[("区域经理审批", any_, [manager_group], [], True)])
    policy(40, "超大额订单：双经理会签", amount_above=VERY_LARGE,
           levels=[("双经理会签", all_, [], list(countersigners), False)])
    return policies
