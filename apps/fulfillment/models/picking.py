"""Waves and scan-confirmed picking.

A Wave groups ready orders of one warehouse; its WaveOrder rows are the membership (one live wave
per order, enforced by a partial unique index, so two clerks building waves at the same moment can
never share an order). PickTasks are made from the orders' active reservations, one per
reservation, so a task names exactly the batch the stock service reserved. Every scan, confirmed
or refused, leaves a ScanLog row.

Rows here change only in apps.fulfillment.services, and only while the order they belong to is
locked (apps.orders.lock_objects): tasks and memberships sit with their order in the project-wide
lock order. The wave row itself is never locked; its state moves by conditional UPDATEs.
"""
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .carriers import Carrier


class Urgency(models.TextChoices):
    RED = "red", _("Red: 6 hours or less left, or overdue")
    AMBER = "amber", _("Amber: 24 hours or less left")
    GREEN = "green", _("Green: more than 24 hours left")


class Wave(models.Model):
    class State(models.TextChoices):
        PICKING = "picking", _("Picking")
        DONE = "done", _("Done")

    warehouse = models.ForeignKey("inventory.Warehouse", verbose_name=_("warehouse"), on_delete=models.PROTECT,
                                  related_name="waves")
    # What the wave was built from, kept so the pick list can say why these orders are together.
    carrier = models.ForeignKey(Carrier, verbose_name=_("carrier"), null=True, blank=True, on_delete=models.PROTECT,
                                related_name="waves")
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices, blank=True)
    cut_off = models.DateTimeField(_("cut-off"), null=True, blank=True,
                                   help_text=_("Only orders promised to ship by this time were taken."))
    size_limit = models.PositiveIntegerField(_("size limit"), null=True, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.PICKING)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True,
                                        help_text=_("When the last task was picked or reported short."))
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True,
                                   on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor label"), max_length=64)

    class Meta:
        verbose_name = _("wave")
        verbose_name_plural = _("waves")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=["picking", "done"]), name="wave_state_valid"),
            models.CheckConstraint(condition=Q(urgency__in=["", "red", "amber", "green"]), name="wave_urgency_valid"),
            models.CheckConstraint(condition=Q(size_limit__isnull=True) | Q(size_limit__gt=0),
                                   name="wave_size_limit_positive"),
            models.CheckConstraint(condition=Q(state="picking", completed_at__isnull=True)
                                   | Q(state="done", completed_at__gte=F("created_at")),
                                   name="wave_completed_when_done"),
        ]
        indexes = [models.Index(fields=["warehouse", "state", "created_at"], name="wave_warehouse_state")]

    def __str__(self):
        return self.code

    @property
    def code(self) -> str:
        return f"W{self.pk:06d}" if self.pk else "W-"


class WaveOrder(models.Model):
    """An order's membership of a wave. It ends (`left_at`) when the order goes back to ready; an
    order has at most one live membership, which the database guarantees."""

    wave = models.ForeignKey(Wave, verbose_name=_("wave"), on_delete=models.PROTECT, related_name="memberships")
    order = models.ForeignKey("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                              related_name="wave_memberships")
    position = models.PositiveIntegerField(_("position"), help_text=_("Rank by promised ship-by time."))
    left_at = models.DateTimeField(_("left the wave at"), null=True, blank=True)

    class Meta:
        verbose_name = _("wave order")
        verbose_name_plural = _("wave orders")
        ordering = ["wave", "position"]
        constraints = [
            models.UniqueConstraint(fields=["order"], condition=Q(left_at__isnull=True),
                                    name="waveorder_one_live_wave_per_order"),
            models.UniqueConstraint(fields=["wave", "order"], name="waveorder_unique_order_per_wave"),
        ]

    def __str__(self):
        return f"{self.wave_id}:{self.order_id}"


class PickTask(models.Model):
    """Take `quantity` units of one SKU (and the reserved batch) from one location for one order
    line. Confirmed unit by unit by scanning (`picked_quantity`); reported short with what was
    found; released when its order leaves the wave."""

    class State(models.TextChoices):
        OPEN = "open", _("To pick")
        PICKED = "picked", _("Picked")
        SHORT = "short", _("Short")
        RELEASED = "released", _("Released")

    wave = models.ForeignKey(Wave, verbose_name=_("wave"), on_delete=models.PROTECT, related_name="tasks")
    wave_order = models.ForeignKey(WaveOrder, verbose_name=_("wave order"), on_delete=models.PROTECT,
                                   related_name="tasks")
    order = models.ForeignKey("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                              related_name="pick_tasks")
    order_line = models.ForeignKey("orders.OrderLine", verbose_name=_("order line"), on_delete=models.PROTECT,
                                   related_name="pick_tasks")
    reservation = models.ForeignKey("inventory.Reservation", verbose_name=_("reservation"),
                                    on_delete=models.PROTECT, related_name="pick_tasks")
    sku = models.ForeignKey("catalog.SKU", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey("inventory.Batch", verbose_name=_("batch"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    # Copied from the stock level when the wave is built, so the list keeps its walking order even
    # if someone re-slots the stock meanwhile.
    location_code = models.CharField(_("pick location"), max_length=32, blank=True)
    sequence = models.PositiveIntegerField(_("sequence"), help_text=_("Position on the pick path."))
    quantity = models.PositiveIntegerField(_("quantity"))
    picked_quantity = models.PositiveIntegerField(_("picked"), default=0)
    found_quantity = models.PositiveIntegerField(_("found"), null=True, blank=True,
                                                 help_text=_("Units at the location when the pick was reported short."))
    short_reason = models.CharField(_("short-pick reason"), max_length=255, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("pick task")
        verbose_name_plural = _("pick tasks")
        ordering = ["wave", "sequence"]
        constraints = [
            models.UniqueConstraint(fields=["wave", "sequence"], name="picktask_unique_sequence"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="picktask_quantity_positive"),
            models.CheckConstraint(condition=Q(picked_quantity__lte=F("quantity")), name="picktask_no_over_pick"),
            models.CheckConstraint(condition=Q(state__in=["open", "picked", "short", "released"]),
                                   name="picktask_state_valid"),
            models.CheckConstraint(condition=~Q(state="picked") | Q(picked_quantity=F("quantity")),
                                   name="picktask_picked_is_complete"),
            models.CheckConstraint(
                condition=~Q(state="short") | Q(found_quantity__isnull=False, found_quantity__lt=F("quantity"),
                                               found_quantity__gte=F("picked_quantity")),
                name="picktask_short_records_found",
            ),
            models.CheckConstraint(condition=Q(state="open", closed_at__isnull=True)
                                   | (~Q(state="open") & Q(closed_at__isnull=False)),
                                   name="picktask_closed_when_not_open"),
        ]
        indexes = [
            models.Index(fields=["wave", "state", "sequence"], name="picktask_wave_state"),
            models.Index(fields=["wave_order", "state"], name="picktask_member_state"),
        ]

    def __str__(self):
        return f"{self.wave_id}#{self.sequence} {self.sku_id} × {self.quantity}"

    @property
    def quantity_left(self) -> int:
        return self.quantity - self.picked_quantity


class ScanLog(models.Model):
    """Every scan at the picking scanner, confirmed or refused: the refused ones are the wrong
    items that did not leave the building, which the health board counts per SKU."""

    OK = "ok"

    wave = models.ForeignKey(Wave, verbose_name=_("wave"), on_delete=models.PROTECT, related_name="scans")
    task = models.ForeignKey(PickTask, verbose_name=_("pick task"), null=True, blank=True, on_delete=models.PROTECT,
                             related_name="scans")
    sku = models.ForeignKey("catalog.SKU", verbose_name=_("expected SKU"), null=True, blank=True,
                            on_delete=models.PROTECT, related_name="+")
    barcode = models.CharField(_("scanned barcode"), max_length=128)
    lot_number = models.CharField(_("scanned lot"), max_length=64, blank=True)
    quantity = models.IntegerField(_("quantity"))
    outcome = models.CharField(_("outcome"), max_length=32, help_text=_("“ok” or the refusal's error code."))
    details = models.JSONField(_("details"), default=dict, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor label"), max_length=64)
    created_at = models.DateTimeField(_("time"), default=timezone.now)

    class Meta:
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["wave", "created_at"], name="scanlog_wave_time"),
            models.Index(fields=["sku", "created_at"], condition=~Q(outcome="ok"), name="scanlog_refused_by_sku"),
        ]

    def __str__(self):
        return f"{self.barcode} {self.outcome}"
