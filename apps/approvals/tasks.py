"""django-q2 jobs for approvals."""
from .services import approval_escalate_overdue


def escalate_overdue_approvals() -> int:
    """Schedule `escalate-overdue-approvals`: idempotent, safe to run twice or at once."""
    return approval_escalate_overdue()
