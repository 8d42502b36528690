"""After-sales returns: the reason tree, return requests with their lines, photos and history.

A request changes only through apps.returns.services, under its order's row lock
(apps.orders.lock_objects.lock_order); requests, lines, photos and events are never locked
themselves. The state graph (django-fsm-2, not protected; ReturnRequest's transition methods are
pure state changes, the services are the only callers):

    requested ─approve→ approved ─reject─┐ (from requested) → rejected (final)
    refund_only:        approved ─refund→ refunded ─close→ closed
    reship:             approved ─reship→ reshipped ─close→ closed
    return_and_refund:  approved ─await_return→ awaiting_return ─receive→ received ─inspect→ inspected
                        ─refund→ refunded ─close→ closed
    exchange:           … inspected ─exchange→ exchanged ─close→ closed
"""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_fsm import FSMField, transition

from apps.core.models import TimeStampedModel
from apps.core.money import MoneyField

MAX_LEVEL = 3
CODE_PATTERN = r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){0,2}$"


class ReasonNode(models.Model):
    """One node of the return-reason tree: category (level 1) → reason (2) → detail (3). Only
    active leaves can be chosen; "other" leaves require a text. Seeded from
    fixtures/returns/reasons.json (apps.returns.reasons), editable by admins."""

    parent = models.ForeignKey("self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    code = models.CharField(_("code"), max_length=64, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64)
    level = models.PositiveSmallIntegerField(_("level"))
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    platform_codes = models.JSONField(_("platform codes"), default=dict, blank=True,
                                      help_text=_("Platform → that platform's reason code or label."))
    keywords = models.JSONField(
        _("complaint keywords"), default=list, blank=True,
        help_text=_("Words in a buyer's earlier complaint that point to this reason (suggestions)."))
    requires_text = models.BooleanField(_("requires text"), default=False,
                                        help_text=_("An “other” leaf: the request must say what happened."))
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("return reason")
        verbose_name_plural = _("return reasons")
        ordering = ["level", "position", "code"]
        constraints = [
            models.CheckConstraint(condition=Q(level__gte=1, level__lte=MAX_LEVEL), name="reasonnode_level_1_to_3"),
            models.CheckConstraint(condition=Q(level=1, parent__isnull=True) | Q(level__gt=1, parent__isnull=False),
                                   name="reasonnode_root_iff_level_1"),
            models.CheckConstraint(condition=Q(code__regex=CODE_PATTERN), name="reasonnode_code_format"),
        ]

    def __str__(self):
        return f"{self.code} {self.name_zh}"


class ReturnKind(models.TextChoices):
    REFUND_ONLY = "refund_only", _("Refund only")
    RETURN_AND_REFUND = "return_and_refund", _("Return and refund")
    EXCHANGE = "exchange", _("Exchange")
    RESHIP = "reship", _("Reship")


class ReturnState(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    AWAITING_RETURN = "awaiting_return", _("Awaiting return")
    RECEIVED = "received", _("Received")
    INSPECTED = "inspected", _("Inspected")
    REFUNDED = "refunded", _("Refunded")
    EXCHANGED = "exchanged", _("Exchanged")
    RESHIPPED = "reshipped", _("Reshipped")
    CLOSED = "closed", _("Closed")


K = ReturnKind
RS = ReturnState
GOODS_KINDS = frozenset({K.RETURN_AND_REFUND, K.EXCHANGE})  # the buyer sends goods back
REFUND_KINDS = frozenset({K.REFUND_ONLY, K.RETURN_AND_REFUND})
FINAL_STATES = frozenset({RS.REJECTED, RS.CLOSED})  # a request in any other state is open


def _needs_goods(request) -> bool:
    return request.kind in GOODS_KINDS


def _may_refund(request) -> bool:
    return ((request.kind == K.REFUND_ONLY and request.state == RS.APPROVED)
            or (request.kind == K.RETURN_AND_REFUND and request.state == RS.INSPECTED))


def _is_exchange(request) -> bool:
    return request.kind == K.EXCHANGE


def _is_reship(request) -> bool:
    return request.kind == K.RESHIP


class ReturnRequest(TimeStampedModel):
    order = models.ForeignKey("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                              related_name="return_requests")
    kind = models.CharField(_("kind"), max_length=20, choices=ReturnKind.choices)
    state = FSMField(_("state"), max_length=20, choices=ReturnState.choices, default=RS.REQUESTED, editable=False)
    state_changed_at = models.DateTimeField(_("state changed at"))
    reason = models.ForeignKey(ReasonNode, verbose_name=_("reason"), on_delete=models.PROTECT,
                               related_name="return_requests")
    reason_text = models.TextField(_("reason text"), blank=True)
    return_tracking_no = models.CharField(_("return tracking number"), max_length=64, blank=True)
    refund_amount = MoneyField(_("refund amount"))
    refunded_at = models.DateTimeField(_("refunded at"), null=True, blank=True)
    linked_order = models.OneToOneField(
        "orders.Order", verbose_name=_("linked outbound order"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="originating_return", help_text=_("The exchange order, or the zero-price reship order."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("return request")
        verbose_name_plural = _("return requests")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ReturnKind.values), name="returnrequest_kind_known"),
            models.CheckConstraint(condition=Q(state__in=ReturnState.values), name="returnrequest_state_known"),
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="returnrequest_refund_non_negative"),
            models.CheckConstraint(condition=Q(refund_amount=0) | Q(kind__in=sorted(REFUND_KINDS)),
                                   name="returnrequest_refund_only_for_refund_kinds"),
        ]
        indexes = [models.Index(fields=["order", "state"], name="returnrequest_order_state"),
                   models.Index(fields=["state", "state_changed_at"], name="returnrequest_state_since")]
        permissions = [
            ("approve_returnrequest", _("Can approve or reject a return")),
            ("receive_returnrequest", _("Can receive returned goods")),
            ("inspect_returnrequest", _("Can inspect returned goods")),
            ("settle_returnrequest", _("Can refund, exchange, reship and close a return")),
        ]

    def __str__(self):
        return f"R{self.pk} {self.order_id} {self.kind} {self.state}"

    @property
    def is_open(self) -> bool:
        return self.state not in FINAL_STATES

    # Transitions: pure state changes; apps.returns.services checks permissions and records events.
    @transition(field=state, source=RS.REQUESTED, target=RS.APPROVED, permission="returns.approve_returnrequest")
    def approve(self):
        pass

    @transition(field=state, source=RS.REQUESTED, target=RS.REJECTED, permission="returns.approve_returnrequest")
    def reject(self):
        pass

    @transition(field=state, source=RS.APPROVED, target=RS.AWAITING_RETURN, conditions=[_needs_goods],
                permission="returns.add_returnrequest")
    def await_return(self):
        pass

    @transition(field=state, source=RS.AWAITING_RETURN, target=RS.RECEIVED, conditions=[_needs_goods],
                permission="returns.receive_returnrequest")
    def receive(self):
        pass

    @transition(field=state, source=RS.RECEIVED, target=RS.INSPECTED, conditions=[_needs_goods],
                permission="returns.inspect_returnrequest")
    def inspect(self):
        pass

    @transition(field=state, source=[RS.APPROVED, RS.INSPECTED], target=RS.REFUNDED, conditions=[_may_refund],
                permission="returns.settle_returnrequest")
    def refund(self):
        pass

    @transition(field=state, source=RS.INSPECTED, target=RS.EXCHANGED, conditions=[_is_exchange],
                permission="returns.settle_returnrequest")
    def exchange(self):
        pass

    @transition(field=state, source=RS.APPROVED, target=RS.RESHIPPED, conditions=[_is_reship],
                permission="returns.settle_returnrequest")
    def reship(self):
        pass

    @transition(field=state, source=[RS.REFUNDED, RS.EXCHANGED, RS.RESHIPPED], target=RS.CLOSED,
                permission="returns.settle_returnrequest")
    def close(self):
        pass


class InspectionOutcome(models.TextChoices):
    GOOD = "good", _("Good: back to its batch")
    DAMAGED = "damaged", _("Damaged: quarantine")
    SCRAP = "scrap", _("Scrap")


class ReturnLine(models.Model):
    request = models.ForeignKey(ReturnRequest, verbose_name=_("return request"), on_delete=models.CASCADE,
                                related_name="lines")
    order_line = models.ForeignKey("orders.OrderLine", verbose_name=_("order line"), on_delete=models.PROTECT,
                                   related_name="return_lines")
    quantity = models.PositiveIntegerField(_("quantity"))
    outcome = models.CharField(_("inspection outcome"), max_length=16, choices=InspectionOutcome.choices, blank=True)
    refund_amount = MoneyField(_("refund amount"))

    class Meta:
        verbose_name = _("return line")
        verbose_name_plural = _("return lines")
        ordering = ["request", "order_line__line_no"]
        constraints = [
            models.UniqueConstraint(fields=["request", "order_line"], name="returnline_unique_order_line"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="returnline_quantity_positive"),
            models.CheckConstraint(condition=Q(outcome="") | Q(outcome__in=InspectionOutcome.values),
                                   name="returnline_outcome_known"),
            models.CheckConstraint(condition=Q(refund_amount__gte=0), name="returnline_refund_non_negative"),
        ]

    def __str__(self):
        return f"R{self.request_id} {self.order_line_id} × {self.quantity}"


class ReturnPhoto(models.Model):
    request = models.ForeignKey(ReturnRequest, verbose_name=_("return request"), on_delete=models.CASCADE,
                                related_name="photos")
    image = models.ImageField(_("image"), upload_to="returns/%Y/%m/")
    content_type = models.CharField(_("content type"), max_length=32)
    size_bytes = models.PositiveIntegerField(_("size in bytes"))
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("return photo")
        verbose_name_plural = _("return photos")
        ordering = ["request", "id"]

    def __str__(self):
        return self.image.name


class ReturnEvent(models.Model):
    """Append-only history of a request: every step, with its actor."""

    request = models.ForeignKey(ReturnRequest, verbose_name=_("return request"), on_delete=models.CASCADE,
                                related_name="events")
    name = models.CharField(_("action"), max_length=32)
    from_state = models.CharField(_("from state"), max_length=20, blank=True, choices=ReturnState.choices)
    to_state = models.CharField(_("to state"), max_length=20, choices=ReturnState.choices)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor label"), max_length=64)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("return event")
        verbose_name_plural = _("return events")
        ordering = ["request", "created_at", "id"]

    def __str__(self):
        return f"R{self.request_id} {self.name}"
