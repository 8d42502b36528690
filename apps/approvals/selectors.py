"""Reads of approvals, scoped to the user: requests of the shops they approve for or serve, and
any request they have been asked to sign. Out of scope reads as "not found"."""
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.utils import timezone
from guardian.shortcuts import get_objects_for_user

from apps.core.money import ZERO, to_money
from apps.orders.audit import open_receivables
from apps.orders.models import Order, OrderStatus, Shop
from apps.orders.selectors import orders_visible_to
from apps.returns.models import ReturnRequest, ReturnState

from .errors import ApprovalNotFound
from .models import ApprovalAssignment, ApprovalDecision, ApprovalRequest, ApprovalStep

HISTORY_DAYS = 365


def approved_shops(user) -> QuerySet[Shop]:
    return get_objects_for_user(user, "orders.approve_for_shop", klass=Shop, accept_global_perms=False,
                                with_superuser=False)


def approval_requests_visible_to(user) -> QuerySet[ApprovalRequest]:
    if user is None or not user.is_authenticated:
        return ApprovalRequest.objects.none()
    if user.is_superuser:
        return ApprovalRequest.objects.all()
    asked = ApprovalAssignment.objects.filter(step__request=OuterRef("pk"), user=user)
    return ApprovalRequest.objects.filter(
        Q(order__shop__in=approved_shops(user).values("pk"))
        | Q(order__in=orders_visible_to(user).values("pk"))
        | Exists(asked)
    )


def waiting_for(user) -> Q:
    """Requests whose current step waits for this user's signature."""
    return Q(Exists(ApprovalAssignment.objects.filter(
        step__request=OuterRef("pk"), step__state=ApprovalStep.State.PENDING, user=user,
        state=ApprovalAssignment.State.PENDING)))


INBOX_TABS = ("mine", "pending", "decided")


def approval_inbox(*, user, tab: str = "mine") -> QuerySet[ApprovalRequest]:
    """mine: waiting for my signature; pending: every open request I can see; decided: closed ones."""
    requests = approval_requests_visible_to(user).select_related("order__shop", "order__customer")
    if tab == "decided":
        return requests.exclude(state=ApprovalRequest.State.PENDING).order_by("-completed_at", "-pk")
    requests = requests.filter(state=ApprovalRequest.State.PENDING)
    if tab == "mine":
        requests = requests.filter(waiting_for(user))
    current = ApprovalStep.objects.filter(state=ApprovalStep.State.PENDING).order_by("position").prefetch_related(
        "decisions", Prefetch("assignments", queryset=ApprovalAssignment.objects.filter(
            state=ApprovalAssignment.State.PENDING).select_related("user"), to_attr="waiting"))
    return (requests.prefetch_related(Prefetch("steps", queryset=current, to_attr="current_steps"))
            .order_by("order__promised_ship_by", "requested_at", "pk"))


def inbox_counts(*, user) -> dict[str, int]:
    pending = approval_requests_visible_to(user).filter(state=ApprovalRequest.State.PENDING)
    return {"mine": pending.filter(waiting_for(user)).count(), "pending": pending.count()}


def ensure_in_scope(*, user, request_id: int) -> None:
    """Not found unless the user may see the request (a check before acting, without the detail's
    prefetches)."""
    if not approval_requests_visible_to(user).filter(pk=request_id).exists():
        raise ApprovalNotFound(details={"request_id": request_id})


def approval_detail(*, user, request_id: int) -> ApprovalRequest:
    request = (
        approval_requests_visible_to(user)
        .select_related("order__shop", "order__customer", "withdrawn_by")
        .prefetch_related(
            Prefetch("steps", queryset=ApprovalStep.objects.order_by("position").prefetch_related(
                Prefetch("assignments", queryset=ApprovalAssignment.objects.select_related(
                    "user", "slot_user", "assigned_by").order_by("assigned_at", "pk")),
                Prefetch("decisions", queryset=ApprovalDecision.objects.select_related("user", "slot_user")),
            )),
            "order__lines__sku",
        )
        .filter(pk=request_id)
        .first()
    )
    if request is None:
        raise ApprovalNotFound(details={"request_id": request_id})
    return request


@dataclass
class Margin:
    revenue: Decimal  # of the lines whose cost is known
    cost: Decimal
    costed_lines: int
    lines: int

    @property
    def amount(self) -> Decimal:
        return self.revenue - self.cost

    @property
    def rate(self) -> Decimal | None:
        return (self.amount / self.revenue * 100).quantize(Decimal("0.1")) if self.revenue else None

    @property
    def complete(self) -> bool:
        return self.costed_lines == self.lines


def order_margin(order) -> Margin | None:
    """Margin over the lines whose SKU has a known cost; None when no cost is known at all."""
    lines = list(order.lines.all())
    costed = [line for line in lines if line.sku.unit_cost is not None]
    if not costed:
        return None
    return Margin(revenue=sum((line.line_total for line in costed), ZERO),
                  cost=to_money(sum((line.sku.unit_cost * line.quantity for line in costed), ZERO)),
                  costed_lines=len(costed), lines=len(lines))


def customer_history(customer, *, exclude_order_id=None, now=None) -> dict:
    """The customer's last 12 months: orders, money, and how many came back."""
    since = (now or timezone.now()) - timedelta(days=HISTORY_DAYS)
    orders = Order.objects.filter(customer=customer, placed_at__gte=since).exclude(pk=exclude_order_id)
    # A return request counts unless it was rejected; an order counts once however it came back.
    refused = Q(status__in=["refused", "intercepted"])
    refunded = Q(payment_status__in=["refunded", "partially_refunded"])
    with_return = Q(has_return=True)
    figures = orders.annotate(has_return=Exists(
        ReturnRequest.objects.filter(order=OuterRef("pk")).exclude(state=ReturnState.REJECTED))).aggregate(
        orders=Count("pk"),
        amount=Sum("grand_total"),
        completed=Count("pk", filter=Q(status__in=["delivered", "completed"])),
        cancelled=Count("pk", filter=Q(status__in=["cancelled", "expired"])),
        refused=Count("pk", filter=refused),
        refunded=Count("pk", filter=refunded),
        with_returns=Count("pk", filter=with_return),
        returned=Count("pk", filter=refused | refunded | with_return),
    )
    figures["amount"] = to_money(figures["amount"] or 0)
    figures["return_rate"] = (Decimal(figures["returned"] * 100) / figures["orders"]).quantize(Decimal("0.1")) \
        if figures["orders"] else None
    labels = dict(OrderStatus.choices)
    figures["recent"] = [{**row, "status_label": labels.get(row["status"], row["status"])}
                         for row in orders.order_by("-placed_at").values(
                             "pk", "external_id", "placed_at", "status", "grand_total")[:10]]
    return figures


def approval_context(request: ApprovalRequest) -> dict:
    """What an approver decides with: the trigger, the customer's credit, history and the margin."""
    order = request.order
    customer = order.customer
    # open_receivables counts this order too (it is live); the approver wants it apart.
    this_order = order.grand_total - order.paid_amount
    used = open_receivables(customer) - this_order
    from .services import reason_text

    return {
        "triggers": [{**trigger, "reasons": [reason_text(r) for r in trigger["reasons"]]}
                     for trigger in request.triggers],
        "credit": {
            "limit": customer.credit_limit,
            "used": used,
            "this_order": this_order,
            "available": customer.credit_limit - used - this_order,
            "score": customer.credit_score,
            "payment_terms_days": customer.payment_terms_days,
            "blacklisted": customer.is_blacklisted,
        },
        "history": customer_history(customer, exclude_order_id=order.pk),
        "margin": order_margin(order),
    }


def current_step(request: ApprovalRequest) -> ApprovalStep | None:
    """The step waiting for signers, from the request's (prefetched) steps."""
    return next((s for s in request.steps.all() if s.state == ApprovalStep.State.PENDING), None)


@dataclass
class Actions:
    """What the page offers this user on this request (the services check again when they act)."""
    step: ApprovalStep | None
    can_decide: bool
    can_add_signer: bool
    can_withdraw: bool
    own_order: bool


def actions_for(request: ApprovalRequest, user) -> Actions:
    from .services import signer_problem

    pending = request.state == ApprovalRequest.State.PENDING
    step = current_step(request) if pending else None
    own = request.order.created_by_id is not None and request.order.created_by_id == user.pk
    mine = step is not None and any(a.user_id == user.pk and a.state == ApprovalAssignment.State.PENDING
                                    for a in step.assignments.all())
    return Actions(
        step=step,
        can_decide=mine and not own,
        can_add_signer=step is not None and (mine or signer_problem(user, request.order, shop_scoped=True) is None),
        can_withdraw=pending and user.has_perm("orders.cancel_order"),
        own_order=own,
    )


def signer_candidates(request: ApprovalRequest) -> list:
    """People a signer may delegate to or add: those who may sign for the order's shop and are not
    yet waiting on the current step."""
    from .services import shop_approvers

    if request.state != ApprovalRequest.State.PENDING:
        return []
    step = current_step(request)
    # Everyone already waiting on the step or who has answered it is out: they have their say.
    taken = {a.user_id for a in step.assignments.all() if a.state != ApprovalAssignment.State.HANDED_OVER} if step else set()
    return [user for user in shop_approvers(request.order) if user.pk not in taken]
