from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from apps.core.models import TimeStampedModel


class Warehouse(TimeStampedModel):
    code = models.CharField(_("warehouse code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=128)
    province = models.CharField(_("province"), max_length=32, blank=True)
    city = models.CharField(_("city"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=255, blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("warehouse")
        verbose_name_plural = _("warehouses")
        permissions = [("work_warehouse", _("Can handle orders of this warehouse"))]

    def __str__(self):
        return f"{self.name} ({self.code})"


class WarehouseUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Warehouse, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("warehouse permission of a user")
        verbose_name_plural = _("warehouse permissions of users")


class WarehouseGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Warehouse, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("warehouse permission of a group")
        verbose_name_plural = _("warehouse permissions of groups")


class Batch(models.Model):
    """A lot of one SKU with its dates; stock of batch-tracked SKUs lives in per-batch levels."""

    sku = models.ForeignKey("catalog.SKU", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="batches")
    lot_number = models.CharField(_("lot number"), max_length=64)
    manufactured_on = models.DateField(_("manufactured on"), null=True, blank=True)
    expires_on = models.DateField(_("expires on"), null=True, blank=True)
    quarantined_at = models.DateTimeField(_("quarantined at"), null=True, blank=True)
    quarantine_reason = models.CharField(_("quarantine reason"), max_length=255, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
        constraints = [
            models.UniqueConstraint(fields=["sku", "lot_number"], name="batch_unique_lot_per_sku"),
            models.CheckConstraint(
                condition=Q(manufactured_on__isnull=True) | Q(expires_on__isnull=True)
                | Q(expires_on__gt=F("manufactured_on")),
                name="batch_expires_after_manufacture",
            ),
        ]
        indexes = [models.Index(fields=["sku", "expires_on"], name="batch_sku_expiry")]

    def __str__(self):
        return f"{self.lot_number} ({self.expires_on or '-'})"


class StockLevel(models.Model):
    """Stock of one SKU (and batch) in one warehouse. Changed only by inventory.services, which
    write a StockMove for every change: the ledger sums to these numbers."""

    class Bucket(models.TextChoices):
        SELLABLE = "sellable", _("Sellable")
        QUARANTINE = "quarantine", _("Quarantine")

    warehouse = models.ForeignKey(Warehouse, verbose_name=_("warehouse"), on_delete=models.PROTECT,
                                  related_name="stock_levels")
    # db_index=False: stocklevel_sku_warehouse leads with sku_id (migration 0009).
    sku = models.ForeignKey("catalog.SKU", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="+",
                            db_index=False)
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), null=True, blank=True, on_delete=models.PROTECT,
                              related_name="levels")
    bucket = models.CharField(_("bucket"), max_length=16, choices=Bucket.choices, default=Bucket.SELLABLE)
    on_hand = models.IntegerField(_("on hand"), default=0)
    reserved = models.IntegerField(_("reserved"), default=0)
    # Where pickers find this SKU (and lot) in the warehouse, e.g. "A-03-2-05" (zone-aisle-shelf-bin).
    # A code on the level rather than a Location table: one lot of one SKU sits in one pick face,
    # pick lists only need to sort and show it, and codes compare as text in path order.
    location_code = models.CharField(
        _("pick location"), max_length=32, blank=True,
        help_text=_("Where pickers find this stock, e.g. A-03-2-05; pick lists are sorted by it."),
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("stock level")
        verbose_name_plural = _("stock levels")
        permissions = [
            ("receive_stock", _("Can receive goods into stock")),
            ("adjust_stock", _("Can adjust stock after a count")),
            ("transfer_stock", _("Can transfer stock between warehouses")),
            ("quarantine_stock", _("Can quarantine a batch")),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(reserved__gte=0, reserved__lte=F("on_hand")),
                                   name="stocklevel_reserved_within_on_hand"),
            models.CheckConstraint(condition=Q(bucket="sellable") | Q(reserved=0),
                                   name="stocklevel_quarantine_never_reserved"),
            models.UniqueConstraint(fields=["warehouse", "sku", "batch", "bucket"], condition=Q(batch__isnull=False),
                                    name="stocklevel_unique_batch"),
            models.UniqueConstraint(fields=["warehouse", "sku", "bucket"], condition=Q(batch__isnull=True),
                                    name="stocklevel_unique_no_batch"),
        ]
        indexes = [models.Index(fields=["sku", "warehouse"], name="stocklevel_sku_warehouse")]

    def __str__(self):
        return f"{self.warehouse_id}/{self.sku_id}/{self.batch_id or '-'} {self.on_hand}-{self.reserved}"

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class Reservation(models.Model):
    class State(models.TextChoices):
        ACTIVE = "active", _("Active")
        RELEASED = "released", _("Released")
        ISSUED = "issued", _("Issued")

    order_line = models.ForeignKey("orders.OrderLine", verbose_name=_("order line"), on_delete=models.PROTECT,
                                   related_name="reservations", db_index=False)  # reservation_line_state leads with it
    stock_level = models.ForeignKey(StockLevel, verbose_name=_("stock level"), on_delete=models.PROTECT,
                                    related_name="reservations")
    quantity = models.PositiveIntegerField(_("quantity"))
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True,
                                      help_text=_("Set while the order is unpaid; empty once it is firm."))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.ACTIVE)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("reservation")
        verbose_name_plural = _("reservations")
        constraints = [models.CheckConstraint(condition=Q(quantity__gt=0), name="reservation_quantity_positive")]
        indexes = [models.Index(fields=["order_line", "state"], name="reservation_line_state")]

    def __str__(self):
        return f"{self.order_line_id} × {self.quantity} ({self.state})"


class StockMove(models.Model):
    """The append-only stock ledger. Every change of on_hand or reserved is one line here."""

    class Type(models.TextChoices):
        RECEIPT = "receipt", _("Receipt")
        RESERVE = "reserve", _("Reserve")
        RELEASE = "release", _("Release")
        ISSUE = "issue", _("Issue on shipment")
        ADJUSTMENT = "adjustment", _("Count adjustment")
        RETURN_IN = "return_in", _("Return in")
        QUARANTINE = "quarantine", _("Quarantine")
        SCRAP = "scrap", _("Scrap")
        TRANSFER = "transfer", _("Transfer")

    stock_level = models.ForeignKey(StockLevel, verbose_name=_("stock level"), on_delete=models.PROTECT,
                                    related_name="moves")
    sku = models.ForeignKey("catalog.SKU", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="+",
                            db_index=False)  # stockmove_sku_time leads with it
    type = models.CharField(_("move type"), max_length=16, choices=Type.choices)
    on_hand_delta = models.IntegerField(_("on-hand change"), default=0)
    reserved_delta = models.IntegerField(_("reserved change"), default=0)
    order = models.ForeignKey("orders.Order", verbose_name=_("order"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="stock_moves")
    reservation = models.ForeignKey(Reservation, verbose_name=_("reservation"), null=True, blank=True,
                                    on_delete=models.PROTECT, related_name="moves")
    reference = models.CharField(_("reference"), max_length=128, blank=True)
    note = models.CharField(_("note"), max_length=255, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor label"), max_length=64)
    is_intervention = models.BooleanField(_("manual intervention"), default=False)
    created_at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("stock move")
        verbose_name_plural = _("stock moves")
        constraints = [
            models.CheckConstraint(condition=~Q(on_hand_delta=0, reserved_delta=0), name="stockmove_changes_something"),
        ]
        indexes = [models.Index(fields=["sku", "created_at"], name="stockmove_sku_time")]

    def __str__(self):
        return f"{self.type} {self.sku_id} {self.on_hand_delta:+}/{self.reserved_delta:+}"


class StockAlert(models.Model):
    """What the board and workbenches show: open until its condition clears."""

    class Kind(models.TextChoices):
        LOW_STOCK = "low_stock", _("Below safety stock")
        REPLENISHMENT = "replenishment", _("Replenishment request")
        NEAR_EXPIRY = "near_expiry", _("Batch near expiry")
        EXPIRED = "expired", _("Batch expired")

    kind = models.CharField(_("alert type"), max_length=16, choices=Kind.choices)
    warehouse = models.ForeignKey(Warehouse, verbose_name=_("warehouse"), on_delete=models.CASCADE,
                                  related_name="alerts")
    sku = models.ForeignKey("catalog.SKU", verbose_name=_("SKU"), on_delete=models.CASCADE, related_name="+")
    batch = models.ForeignKey(Batch, verbose_name=_("batch"), null=True, blank=True, on_delete=models.CASCADE)
    available = models.IntegerField(_("available"), default=0)
    suggested_quantity = models.PositiveIntegerField(_("suggested quantity"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)

    class Meta:
        verbose_name = _("stock alert")
        verbose_name_plural = _("stock alerts")
        constraints = [
            models.UniqueConstraint(fields=["kind", "warehouse", "sku"], condition=Q(resolved_at__isnull=True,
                                    batch__isnull=True), name="stockalert_one_open_per_sku"),
            models.UniqueConstraint(fields=["kind", "warehouse", "sku", "batch"], condition=Q(
                resolved_at__isnull=True, batch__isnull=False), name="stockalert_one_open_per_batch"),
        ]

    def __str__(self):
        return f"{self.kind} {self.warehouse_id}/{self.sku_id}"
