"""Approvals (审批) for large or risky orders.

A policy is data: AND-ed conditions on the order and an outcome. Every active policy is evaluated
when an order passes review. The levels of the matching "require signatures" policies become the
request's steps, in policy priority then level position; when only "approve automatically"
policies match, the approval is recorded as automatic and the order moves on.

A step is answered by its signers: in "any" mode one approval completes it, in "all" mode (会签)
every signer's slot needs one. A slot belongs to the signer first assigned to it; a delegate, a
transferee or the manager it escalated to answers in that slot. Decisions are append-only.
"""
from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.money import MoneyField


class ApprovalPolicy(models.Model):
    class Outcome(models.TextChoices):
        REQUIRE = "require", _("Require signatures")
        AUTO_APPROVE = "auto_approve", _("Approve automatically")

    name = models.CharField(_("name"), max_length=100)
    priority = models.PositiveSmallIntegerField(_("priority"), default=100,
                                                help_text=_("Lower runs first; its steps come first."))
    is_active = models.BooleanField(_("active"), default=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices, default=Outcome.REQUIRE)
    # Conditions: each one left empty matches every order; all given ones must hold.
    amount_above = MoneyField(_("order amount above"), null=True, blank=True, default=None)
    amount_at_most = MoneyField(_("order amount at most"), null=True, blank=True, default=None)
    credit_score_at_least = models.PositiveSmallIntegerField(_("credit score at least"), null=True, blank=True)
    credit_score_below = models.PositiveSmallIntegerField(_("credit score below"), null=True, blank=True)
    made_to_order = models.BooleanField(
        _("made-to-order items"), null=True, blank=True,
        help_text=_("Yes: only orders with a made-to-order item; No: only orders without; empty: any."),
    )
    discount_rate_at_least = models.DecimalField(
        _("discount rate at least"), max_digits=5, decimal_places=4, null=True, blank=True,
        help_text=_("Share of the list value given away, e.g. 0.2000 for 20 %."),
    )
    shops = models.ManyToManyField("orders.Shop", verbose_name=_("shops"), blank=True,
                                   help_text=_("Empty: every shop."))

    class Meta:
        verbose_name = _("approval policy")
        verbose_name_plural = _("approval policies")
        ordering = ["priority", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(discount_rate_at_least__isnull=True)
                | Q(discount_rate_at_least__gte=0, discount_rate_at_least__lte=1),
                name="approvalpolicy_discount_rate_0_1",
            ),
        ]

    def __str__(self):
        return self.name


class ApprovalLevel(models.Model):
    class Mode(models.TextChoices):
        ANY = "any", _("Any one signer")
        ALL = "all", _("All signers (countersign)")

    class Escalation(models.TextChoices):
        NEXT_LEVEL = "next_level", _("Pass to the next level")
        MANAGER = "manager", _("Pass to the signer's manager")

    policy = models.ForeignKey(ApprovalPolicy, verbose_name=_("policy"), on_delete=models.CASCADE,
                               related_name="levels")
    position = models.PositiveSmallIntegerField(_("position"), default=1)
    name = models.CharField(_("name"), max_length=100)
    mode = models.CharField(_("mode"), max_length=8, choices=Mode.choices, default=Mode.ANY)
    approver_groups = models.ManyToManyField(Group, verbose_name=_("approver groups"), blank=True,
                                             related_name="+")
    approver_users = models.ManyToManyField(settings.AUTH_USER_MODEL, verbose_name=_("approvers"), blank=True,
                                            related_name="+")
    shop_scoped = models.BooleanField(
        _("only approvers of the order's shop"), default=True,
        help_text=_("Group members sign only if they approve for the order's shop."),
    )
    time_limit_hours = models.PositiveSmallIntegerField(_("time limit (hours)"), default=24)
    escalation = models.CharField(_("when unanswered"), max_length=16, choices=Escalation.choices,
                                  default=Escalation.MANAGER)

    class Meta:
        verbose_name = _("approval level")
        verbose_name_plural = _("approval levels")
        ordering = ["policy", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "position"], name="approvallevel_unique_position"),
            models.CheckConstraint(condition=Q(time_limit_hours__gt=0), name="approvallevel_time_limit_positive"),
        ]

    def __str__(self):
        return f"{self.policy} · {self.name}"


class ApprovalRequest(models.Model):
    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    order = models.ForeignKey("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                              related_name="approval_requests")
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PENDING)
    is_automatic = models.BooleanField(_("approved automatically"), default=False)
    triggers = models.JSONField(_("what triggered it"), default=list, blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    withdrawn_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("withdrawn by"), null=True,
                                     blank=True, on_delete=models.PROTECT, related_name="+")
    withdraw_reason = models.CharField(_("withdrawal reason"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(state="pending"),
                                    name="approvalrequest_one_pending_per_order"),
            models.CheckConstraint(condition=Q(state="pending", completed_at__isnull=True)
                                   | (~Q(state="pending") & Q(completed_at__isnull=False)),
                                   name="approvalrequest_completed_when_decided"),
        ]

    def __str__(self):
        return f"{self.order} · {self.get_state_display()}"


class ApprovalStep(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", _("Not yet reached")
        PENDING = "pending", _("Waiting for signers")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        ESCALATED = "escalated", _("Passed to the next level")
        CLOSED = "closed", _("Closed without decision")

    request = models.ForeignKey(ApprovalRequest, verbose_name=_("request"), on_delete=models.CASCADE,
                                related_name="steps")
    position = models.PositiveSmallIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=100)
    policy = models.ForeignKey(ApprovalPolicy, verbose_name=_("policy"), null=True, on_delete=models.SET_NULL,
                               related_name="+")
    mode = models.CharField(_("mode"), max_length=8, choices=ApprovalLevel.Mode.choices)
    escalation = models.CharField(_("when unanswered"), max_length=16, choices=ApprovalLevel.Escalation.choices)
    time_limit_hours = models.PositiveSmallIntegerField(_("time limit (hours)"))
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.WAITING)
    activated_at = models.DateTimeField(_("reached at"), null=True, blank=True)
    due_at = models.DateTimeField(_("answer due by"), null=True, blank=True)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)
    escalation_count = models.PositiveSmallIntegerField(_("escalations"), default=0)

    class Meta:
        verbose_name = _("approval step")
        verbose_name_plural = _("approval steps")
        ordering = ["request", "position"]
        constraints = [
            models.UniqueConstraint(fields=["request", "position"], name="approvalstep_unique_position"),
            models.CheckConstraint(condition=~Q(state="pending") | Q(due_at__isnull=False),
                                   name="approvalstep_pending_has_due_time"),
        ]
        indexes = [models.Index(fields=["due_at"], condition=Q(state="pending"), name="approvalstep_pending_due")]

    def __str__(self):
        return f"{self.request_id}/{self.position} {self.name}"


class ApprovalAssignment(models.Model):
    """One person asked to sign a step, in their own slot or in someone else's."""

    class Kind(models.TextChoices):
        POLICY = "policy", _("Named by the policy")
        ADDED = "added", _("Signer added")
        DELEGATED = "delegated", _("Delegated")
        TRANSFERRED = "transferred", _("Transferred")
        ESCALATED = "escalated", _("Escalated")

    class State(models.TextChoices):
        PENDING = "pending", _("Waiting")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")
        SUPERSEDED = "superseded", _("Answered by someone else")
        HANDED_OVER = "handed_over", _("Handed over")

    step = models.ForeignKey(ApprovalStep, verbose_name=_("step"), on_delete=models.CASCADE,
                             related_name="assignments")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("signer"), on_delete=models.PROTECT,
                             related_name="approval_assignments")
    slot_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("signs in the slot of"),
                                  on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.POLICY)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.PENDING)
    assigned_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("assigned by"), null=True,
                                    blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(_("note"), max_length=500, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"))

    class Meta:
        verbose_name = _("approval assignment")
        verbose_name_plural = _("approval assignments")
        ordering = ["step", "assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["step", "user"], condition=Q(state="pending"),
                                    name="approvalassignment_one_pending_per_user"),
        ]
        indexes = [models.Index(fields=["user", "state"], name="approvalassignment_user_state")]

    def __str__(self):
        return f"{self.step} · {self.user}"


class ApprovalDecision(models.Model):
    """Append-only: written once, never changed (a database trigger refuses updates on PostgreSQL)."""

    class Outcome(models.TextChoices):
        APPROVE = "approve", _("Approve")
        REJECT = "reject", _("Reject")

    step = models.ForeignKey(ApprovalStep, verbose_name=_("step"), on_delete=models.PROTECT,
                             related_name="decisions")
    assignment = models.OneToOneField(ApprovalAssignment, verbose_name=_("assignment"), on_delete=models.PROTECT,
                                      related_name="decision")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("decided by"), on_delete=models.PROTECT,
                             related_name="+")
    slot_user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("in the slot of"),
                                  on_delete=models.PROTECT, related_name="+")
    outcome = models.CharField(_("decision"), max_length=8, choices=Outcome.choices)
    comment = models.TextField(_("comment"))
    decided_at = models.DateTimeField(_("decided at"))

    class Meta:
        verbose_name = _("approval decision")
        verbose_name_plural = _("approval decisions")
        ordering = ["step", "decided_at", "id"]
        constraints = [
            # One answer per slot: two people racing for the same slot cannot both be counted.
            models.UniqueConstraint(fields=["step", "slot_user"], name="approvaldecision_one_per_slot"),
            models.CheckConstraint(condition=~Q(comment=""), name="approvaldecision_comment_required"),
        ]

    def __str__(self):
        return f"{self.step} · {self.user} · {self.outcome}"

    def save(self, *args, **kwargs):
        # Decisions are evidence; an edit would rewrite history.
        if self.pk is not None and not self._state.adding:
            raise ValidationError(_("Approval decisions cannot be changed."))
        super().save(*args, **kwargs)
