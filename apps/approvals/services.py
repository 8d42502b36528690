"""Every write to approvals. Each public service is one transaction that locks the order, then
the request (lock order in apps.orders.lock_objects), and records what happened on the order's
event timeline as well as in the approval's own rows."""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from guardian.shortcuts import get_users_with_perms

from apps.core.actors import actor_user
from apps.core.money import ZERO
from apps.orders.lock_objects import lock_order
from apps.orders.services import record_order_event, transition_locked_order

from .errors import (
    AlreadySigner,
    ApprovalNotFound,
    ApprovalNotPending,
    CommentRequired,
    IneligibleSigner,
    NotAnApprover,
    SelfApproval,
    StepAlreadyDecided,
)
from .lock_objects import lock_pending_requests_of, lock_request
from .models import (
    ApprovalAssignment,
    ApprovalDecision,
    ApprovalLevel,
    ApprovalPolicy,
    ApprovalRequest,
    ApprovalStep,
)

APPROVE_PERMISSION = "orders.approve_order"
SHOP_APPROVER_PERMISSION = "approve_for_shop"
MANAGER_CHAIN_DEPTH = 5  # how far up "reports to" an escalation looks for someone who can sign

A = ApprovalAssignment
Step = ApprovalStep


# ---------------------------------------------------------------------------------------------
# Which policies an order matches, and why


def discount_rate(order, lines) -> Decimal:
    """Share of the list value (quantity × unit price) given away by line and order discounts."""
    list_value = sum((line.unit_price * line.quantity for line in lines), ZERO)
    if list_value <= 0:
        return Decimal(0)
    given = sum((line.discount for line in lines), ZERO) + order.discount_total
    return (given / list_value).quantize(Decimal("0.0001"))


# A trigger is stored as data and worded in the reader's language when shown.
REASON_TEXTS = {
    "amount_above": gettext_lazy("amount %(value)s above %(limit)s"),
    "amount_at_most": gettext_lazy("amount %(value)s at most %(limit)s"),
    "credit_score_at_least": gettext_lazy("credit score %(value)s at least %(limit)s"),
    "credit_score_below": gettext_lazy("credit score %(value)s below %(limit)s"),
    "made_to_order": gettext_lazy("made-to-order items: %(value)s"),
    "no_made_to_order": gettext_lazy("no made-to-order items"),
    "discount_rate_at_least": gettext_lazy("discount %(value)s%% at least %(limit)s%%"),
    "shop": gettext_lazy("shop %(value)s"),
}


def reason_text(reason: dict) -> str:
    return str(REASON_TEXTS[reason["code"]]) % reason


def policy_reasons(policy: ApprovalPolicy, order, lines, shop_ids) -> list[dict] | None:
    """The conditions this order meets, as data ({"code", "value", "limit"}); None when one fails."""
    amount = order.grand_total
    score = order.customer.credit_score
    reasons = []

    def met(code, value, limit=None):
        reasons.append({"code": code, "value": str(value), **({"limit": str(limit)} if limit is not None else {})})

    if policy.amount_above is not None:
        if not amount > policy.amount_above:
            return None
        met("amount_above", amount, policy.amount_above)
    if policy.amount_at_most is not None:
        if not amount <= policy.amount_at_most:
            return None
        met("amount_at_most", amount, policy.amount_at_most)
    if policy.credit_score_at_least is not None:
        if not score >= policy.credit_score_at_least:
            return None
        met("credit_score_at_least", score, policy.credit_score_at_least)
    if policy.credit_score_below is not None:
        if not score < policy.credit_score_below:
            return None
        met("credit_score_below", score, policy.credit_score_below)
    if policy.made_to_order is not None:
        custom = [line.sku.code for line in lines if line.sku.is_made_to_order]
        if bool(custom) != policy.made_to_order:
            return None
        met("made_to_order", ", ".join(custom)) if custom else met("no_made_to_order", "")
    if policy.discount_rate_at_least is not None:
        rate = discount_rate(order, lines)
        if not rate >= policy.discount_rate_at_least:
            return None
        met("discount_rate_at_least", (rate * 100).quantize(Decimal("0.01")),
            (policy.discount_rate_at_least * 100).quantize(Decimal("0.01")))
    if shop_ids:
        if order.shop_id not in shop_ids:
            return None
        met("shop", order.shop.code)
    return reasons


def matching_policies(order) -> list[tuple[ApprovalPolicy, list[str]]]:
    lines = list(order.lines.select_related("sku"))
    matched = []
    for policy in ApprovalPolicy.objects.filter(is_active=True).prefetch_related("shops").order_by("priority", "id"):
        reasons = policy_reasons(policy, order, lines, {shop.pk for shop in policy.shops.all()})
        if reasons is not None:
            matched.append((policy, reasons))
    return matched


# ---------------------------------------------------------------------------------------------
# Who may sign


def _approves_for_shop(user, shop) -> bool:
    return user.has_perm(f"orders.{SHOP_APPROVER_PERMISSION}", shop)


def signer_problem(user, order, *, shop_scoped: bool) -> str | None:
    """Why this user cannot sign for this order, or None when they can."""
    if user is None or not user.is_active:
        return "inactive"
    if order.created_by_id is not None and user.pk == order.created_by_id:
        return "own_order"
    if not user.has_perm(APPROVE_PERMISSION):
        return "no_approval_right"
    if shop_scoped and not _approves_for_shop(user, order.shop):
        return "outside_shop"
    return None


def _shop_approver_users(shop):
    """Users holding the approve-for-shop permission on `shop`, directly or through a group."""
    return get_users_with_perms(shop, only_with_perms_in=[SHOP_APPROVER_PERMISSION], with_group_users=True,
                                with_superusers=False)


def _level_signers(level: ApprovalLevel, order) -> list:
    """The named users, then the members of the named groups, who may sign for this order."""
    users = list(level.approver_users.filter(is_active=True).order_by("pk"))
    named = {u.pk for u in users}
    group_members = get_user_model().objects.filter(groups__in=level.approver_groups.all(), is_active=True)
    if level.shop_scoped:
        group_members = group_members.filter(pk__in=_shop_approver_users(order.shop).values("pk"))
    users += [u for u in group_members.distinct().order_by("pk") if u.pk not in named]
    # Named users are a deliberate choice and are not shop-scoped; group members were scoped by the
    # query above, so no per-person shop check again. Everyone must still hold the right.
    return [u for u in users if signer_problem(u, order, shop_scoped=False) is None]


def _escalation_target(user, order):
    """The first person up the user's "reports to" chain who may sign for this order."""
    seen = {user.pk}
    boss = user.manager
    for _depth in range(MANAGER_CHAIN_DEPTH):
        if boss is None or boss.pk in seen:
            return None
        if signer_problem(boss, order, shop_scoped=False) is None:
            return boss
        seen.add(boss.pk)
        boss = boss.manager
    return None


# ---------------------------------------------------------------------------------------------
# Opening a request (called by order review, with the order locked)


@dataclass(frozen=True)
class Routing:
    request: ApprovalRequest | None

    @property
    def needs_approval(self) -> bool:
        return self.request is not None and self.request.state == ApprovalRequest.State.PENDING


def approval_open_for_order(order) -> Routing:
    """Match the policies for an order that has just passed review. Returns the pending request to
    send the order to `pending_approval`, an automatic approval record, or nothing."""
    matched = matching_policies(order)
    if not matched:
        return Routing(request=None)
    now = timezone.now()
    triggers = [{"policy_id": p.pk, "policy": p.name, "outcome": p.outcome, "reasons": reasons}
                for p, reasons in matched]
    requiring = [p for p, _reasons in matched if p.outcome == ApprovalPolicy.Outcome.REQUIRE]
    levels = [level for p in requiring for level in p.levels.order_by("position", "id")]
    if not levels:
        request = ApprovalRequest.objects.create(order=order, state=ApprovalRequest.State.APPROVED, is_automatic=True,
                                                 triggers=triggers, requested_at=now, completed_at=now)
        record_order_event(order, name="approval_auto_approved",
                           payload={"approval_request": request.pk, "policies": [t["policy"] for t in triggers]})
        return Routing(request=request)

    request = ApprovalRequest.objects.create(order=order, triggers=triggers, requested_at=now)
    for position, level in enumerate(levels, start=1):
        step = Step.objects.create(request=request, position=position, name=level.name, policy=level.policy,
                                   mode=level.mode, escalation=level.escalation,
                                   time_limit_hours=level.time_limit_hours)
        signers = _level_signers(level, order)
        A.objects.bulk_create([A(step=step, user=u, slot_user=u, kind=A.Kind.POLICY, assigned_at=now) for u in signers])
    _activate_step(request.steps.order_by("position").first(), now=now)
    record_order_event(order, name="approval_requested",
                       payload={"approval_request": request.pk, "policies": [t["policy"] for t in triggers],
                                "steps": [level.name for level in levels]})
    return Routing(request=request)


def _activate_step(step, *, now):
    step.state = Step.State.PENDING
    step.activated_at = now
    step.due_at = now + timedelta(hours=step.time_limit_hours)
    step.save(update_fields=["state", "activated_at", "due_at"])
    if not step.assignments.filter(state=A.State.PENDING).exists():
        # Nobody left who may sign (everyone inactive, or the order's own author): don't wait
        # for the time limit to find that out.
        _escalate(step, now=now, why="no_signer")


# ---------------------------------------------------------------------------------------------
# Acting on a pending request


def _lock(request_id: int) -> tuple:
    """Lock the order, then the request; both must still be pending."""
    order_id = ApprovalRequest.objects.filter(pk=request_id).values_list("order_id", flat=True).first()
    if order_id is None:
        raise ApprovalNotFound(details={"request_id": request_id})
    order = lock_order(order_id)
    request = lock_request(request_id)
    if request.state != ApprovalRequest.State.PENDING:
        raise ApprovalNotPending(details={"request_id": request.pk, "state": request.state})
    step = request.steps.filter(state=Step.State.PENDING).first()
    return order, request, step


def _my_assignment(step, user):
    return step.assignments.filter(user=user, state=A.State.PENDING).order_by("pk").first() if step else None


def _require_comment(comment: str) -> str:
    comment = (comment or "").strip()
    if not comment:
        raise CommentRequired(details={"comment": [{"code": "required", "message": str(CommentRequired.default_message)}]})
    return comment


def _require_signer(order, step, actor, *, step_id=None):
    if step is None or (step_id is not None and step.pk != step_id):
        raise StepAlreadyDecided(details={"step_id": step_id})
    if order.created_by_id is not None and actor.pk == order.created_by_id:
        raise SelfApproval(details={"order": order.external_id})
    assignment = _my_assignment(step, actor)
    if assignment is None:
        raise NotAnApprover(details={"step_id": step.pk})
    problem = signer_problem(actor, order, shop_scoped=False)
    if problem is not None:
        raise NotAnApprover(details={"step_id": step.pk, "why": problem})
    return assignment


@transaction.atomic
def approval_decide(*, request_id: int, actor, outcome: str, comment: str, step_id: int | None = None) -> ApprovalRequest:
    """Approve or reject the current step in the actor's slot. `step_id`, when given, is the step the
    person was looking at: if it has been decided meanwhile, the answer is refused, not re-aimed."""
    if outcome not in ApprovalDecision.Outcome.values:
        raise CommentRequired(_("Choose approve or reject."), code="invalid_outcome",
                              details={"outcome": outcome, "allowed": ApprovalDecision.Outcome.values})
    comment = _require_comment(comment)
    order, request, step = _lock(request_id)
    assignment = _require_signer(order, step, actor, step_id=step_id)
    now = timezone.now()
    ApprovalDecision.objects.create(step=step, assignment=assignment, user=actor, slot_user=assignment.slot_user,
                                    outcome=outcome, comment=comment, decided_at=now)
    assignment.state = A.State.APPROVED if outcome == ApprovalDecision.Outcome.APPROVE else A.State.REJECTED
    assignment.save(update_fields=["state"])
    # Others waiting in the same slot (a delegate, or the delegator) have nothing left to answer.
    step.assignments.filter(slot_user=assignment.slot_user, state=A.State.PENDING).update(state=A.State.SUPERSEDED)
    record_order_event(order, name=f"approval_{outcome}", actor=actor,
                       payload={"approval_request": request.pk, "step": step.name, "comment": comment})

    if outcome == ApprovalDecision.Outcome.REJECT:
        _finish_step(step, Step.State.REJECTED, now=now)
        _finish_request(request, ApprovalRequest.State.REJECTED, now=now)
        transition_locked_order(order, name="reject", actor=actor, reason=comment,
                                payload={"approval_request": request.pk})
        return request
    if step.mode == ApprovalLevel.Mode.ALL and step.assignments.filter(state=A.State.PENDING).exists():
        return request  # countersign: other slots still to sign
    _finish_step(step, Step.State.APPROVED, now=now)
    _advance(order, request, actor=actor, now=now)
    return request


def _finish_step(step, state, *, now):
    step.state = state
    step.completed_at = now
    step.save(update_fields=["state", "completed_at"])
    step.assignments.filter(state=A.State.PENDING).update(state=A.State.SUPERSEDED)


def _finish_request(request, state, *, now):
    request.state = state
    request.completed_at = now
    request.save(update_fields=["state", "completed_at", "withdrawn_by", "withdraw_reason"])


def _advance(order, request, *, actor, now):
    """Reach the next step, or approve the order when none is left."""
    following = request.steps.filter(state=Step.State.WAITING).order_by("position").first()
    if following is not None:
        _activate_step(following, now=now)
        return
    _finish_request(request, ApprovalRequest.State.APPROVED, now=now)
    transition_locked_order(order, name="approve", actor=actor, payload={"approval_request": request.pk})


def _eligible_newcomer(order, step, user_id, *, why_field: str):
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is None:
        raise IneligibleSigner(details={why_field: user_id, "why": "unknown_user"})
    problem = signer_problem(user, order, shop_scoped=True)
    if problem:
        raise IneligibleSigner(details={why_field: user_id, "why": problem})
    if step.assignments.filter(user=user, state=A.State.PENDING).exists():
        raise AlreadySigner(details={why_field: user_id})
    return user


@transaction.atomic
def approval_delegate(*, request_id: int, actor, to_user_id: int, comment: str, transfer: bool = False) -> ApprovalAssignment:
    """Let someone else answer in the actor's slot. A delegation keeps the actor able to answer too;
    a transfer hands the slot over entirely."""
    comment = _require_comment(comment)
    order, request, step = _lock(request_id)
    mine = _require_signer(order, step, actor)
    newcomer = _eligible_newcomer(order, step, to_user_id, why_field="to_user")
    if transfer:
        mine.state = A.State.HANDED_OVER
        mine.save(update_fields=["state"])
    kind = A.Kind.TRANSFERRED if transfer else A.Kind.DELEGATED
    assignment = A.objects.create(step=step, user=newcomer, slot_user=mine.slot_user, kind=kind, assigned_by=actor,
                                  note=comment, assigned_at=timezone.now())
    record_order_event(order, name=f"approval_{kind}", actor=actor,
                       payload={"approval_request": request.pk, "step": step.name, "to": newcomer.get_username(),
                                "comment": comment})
    return assignment


@transaction.atomic
def approval_add_signer(*, request_id: int, actor, user_id: int, comment: str) -> ApprovalAssignment:
    """Ask one more person to sign the current step (in a countersign step, their approval is then
    needed too). A signer of the step, or an approver of the shop, may add one."""
    comment = _require_comment(comment)
    order, request, step = _lock(request_id)
    if step is None:
        raise StepAlreadyDecided(details={"request_id": request.pk})
    if _my_assignment(step, actor) is None and signer_problem(actor, order, shop_scoped=True) is not None:
        raise NotAnApprover(details={"step_id": step.pk})
    newcomer = _eligible_newcomer(order, step, user_id, why_field="user")
    assignment = A.objects.create(step=step, user=newcomer, slot_user=newcomer, kind=A.Kind.ADDED, assigned_by=actor,
                                  note=comment, assigned_at=timezone.now())
    record_order_event(order, name="approval_signer_added", actor=actor,
                       payload={"approval_request": request.pk, "step": step.name, "signer": newcomer.get_username(),
                                "comment": comment})
    return assignment


@transaction.atomic
def approval_withdraw(*, request_id: int, actor, reason: str) -> ApprovalRequest:
    """The order's author (or anyone who may cancel it) withdraws the request: the order is
    cancelled and its stock released, because an order waiting for nobody must not hold goods."""
    reason = _require_comment(reason)
    order, request, step = _lock(request_id)
    _close_request(request, now=timezone.now(), by=actor, reason=reason)
    # The cancel transition checks the actor's right to cancel; a stranger is refused there and
    # the whole withdrawal rolls back.
    transition_locked_order(order, name="cancel", actor=actor, reason=reason,
                            payload={"approval_request": request.pk, "withdrawn": True})
    return request


def _close_request(request, *, now, by=None, reason=""):
    for step in request.steps.filter(state__in=[Step.State.PENDING, Step.State.WAITING]):
        _finish_step(step, Step.State.CLOSED, now=now)
    request.withdrawn_by = actor_user(by)
    request.withdraw_reason = reason
    _finish_request(request, ApprovalRequest.State.WITHDRAWN, now=now)


def close_requests_of_ended_order(order, *, at):
    """An order cancelled or otherwise ended while waiting for approval leaves nothing to approve.
    Called by order transitions with the order locked."""
    for request in lock_pending_requests_of(order):
        _close_request(request, now=at, reason=_("Order ended"))


# ---------------------------------------------------------------------------------------------
# Escalation


def _escalate(step, *, now, why="overdue") -> bool:
    """Pass an unanswered step on: to the next level, or each waiting signer's manager. Pushes the
    due time forward so a second run right after changes nothing."""
    request = step.request
    following = request.steps.filter(state=Step.State.WAITING, position__gt=step.position).order_by("position").first()
    order = request.order
    if step.escalation == ApprovalLevel.Escalation.NEXT_LEVEL and following is not None:
        _finish_step(step, Step.State.ESCALATED, now=now)
        record_order_event(order, name="approval_escalated",
                           payload={"approval_request": request.pk, "step": step.name, "to_step": following.name,
                                    "why": why})
        _activate_step(following, now=now)
        return True
    moved = []
    waiting = list(step.assignments.filter(state=A.State.PENDING).select_related("user__manager"))
    answered_slots = set(step.decisions.values_list("slot_user_id", flat=True))
    for assignment in waiting:
        boss = _escalation_target(assignment.user, order)
        if boss is None or step.assignments.filter(user=boss, state=A.State.PENDING).exists():
            continue
        A.objects.create(step=step, user=boss, slot_user=assignment.slot_user, kind=A.Kind.ESCALATED,
                         note=_("Unanswered by %(user)s") % {"user": assignment.user.get_username()}, assigned_at=now)
        moved.append({"from": assignment.user.get_username(), "to": boss.get_username()})
    if not waiting and not answered_slots:
        # Nobody could sign at all: the shop's approvers inherit the step.
        for user in shop_approvers(order):
            A.objects.create(step=step, user=user, slot_user=user, kind=A.Kind.ESCALATED,
                             note=_("No signer was available"), assigned_at=now)
            moved.append({"from": None, "to": user.get_username()})
    step.escalation_count += 1
    step.due_at = now + timedelta(hours=step.time_limit_hours)
    step.save(update_fields=["escalation_count", "due_at"])
    record_order_event(order, name="approval_escalated",
                       payload={"approval_request": request.pk, "step": step.name, "to": moved, "why": why})
    return True


def shop_approvers(order) -> list:
    """Who may sign for the order's shop (the query already checks the shop permission)."""
    return [u for u in _shop_approver_users(order.shop).order_by("pk")
            if signer_problem(u, order, shop_scoped=False) is None]


def approval_escalate_overdue(*, now=None) -> int:
    """The schedule: every pending step past its due time escalates once. Each step in its own
    transaction, re-checked under the lock, so two runs at once escalate a step once."""
    now = now or timezone.now()
    due = list(Step.objects.filter(state=Step.State.PENDING, due_at__lte=now)
               .values_list("request_id", "pk", named=False))
    escalated = 0
    for request_id, step_id in due:
        with transaction.atomic():
            try:
                _order, _request, step = _lock(request_id)
            except (ApprovalNotPending, ApprovalNotFound):
                continue
            if step is None or step.pk != step_id or step.due_at > now:
                continue
            escalated += _escalate(step, now=now)
    return escalated

