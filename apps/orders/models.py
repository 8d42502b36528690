import hashlib
import re
import secrets
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q, Value
from django.utils.translation import gettext_lazy as _
from django_fsm import RETURN_VALUE, FSMField, transition
from guardian.models import GroupObjectPermissionBase, UserObjectPermissionBase

from apps.accounts.roles import ROLE_LABELS
from apps.core.crypto import decrypt_text
from apps.core.models import TimeStampedModel
from apps.core.money import DEFAULT_CURRENCY, MoneyField

from .platforms import DEFAULT_SHIP_PROMISE_HOURS, ORDER_NUMBER_PATTERNS, SHIP_PROMISE_HOURS, Platform


def validate_regex(value):
    try:
        re.compile(value)
    except re.error as exc:
        raise ValidationError(_("Not a valid regular expression: %(error)s"), params={"error": exc}) from exc


class Shop(TimeStampedModel):
    code = models.CharField(_("shop code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=128)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    order_number_pattern = models.CharField(
        _("order-number pattern"),
        max_length=200,
        blank=True,
        validators=[validate_regex],
        help_text=_("Regular expression an order number must match; empty means the platform's usual shape."),
    )
    default_warehouse = models.ForeignKey(
        "inventory.Warehouse",
        verbose_name=_("default warehouse"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    fallback_warehouses = models.ManyToManyField(
        "inventory.Warehouse",
        verbose_name=_("warehouses in order of preference"),
        through="ShopWarehouse",
        blank=True,
        related_name="+",
    )
    ship_promise_hours = models.PositiveIntegerField(
        _("ship-by promise (hours)"), null=True, blank=True,
        help_text=_("Hours from order to shipment the shop promises; empty means the platform's usual promise."),
    )
    payment_window_minutes = models.PositiveIntegerField(
        _("payment window (minutes)"), default=5,
        help_text=_("Unpaid orders release their stock and expire after this long."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        permissions = [
            ("serve_shop", _("Can serve orders of this shop")),
            ("approve_for_shop", _("Can approve orders of this shop")),
        ]

    def __str__(self):
        return f"{self.name} ({self.get_platform_display()})"

    @property
    def effective_ship_promise_hours(self) -> int:
        return self.ship_promise_hours or SHIP_PROMISE_HOURS.get(self.platform, DEFAULT_SHIP_PROMISE_HOURS)

    @property
    def effective_order_number_pattern(self) -> str:
        return self.order_number_pattern or ORDER_NUMBER_PATTERNS[self.platform]

    def accepts_order_number(self, number: str) -> bool:
        return re.fullmatch(self.effective_order_number_pattern, number or "") is not None


class ShopWarehouse(models.Model):
    """A shop's ordered list of warehouses: an order goes to the first that can serve every line."""

    shop = models.ForeignKey(Shop, on_delete=models.CASCADE, related_name="warehouse_preferences")
    warehouse = models.ForeignKey("inventory.Warehouse", verbose_name=_("warehouse"), on_delete=models.CASCADE)
    priority = models.PositiveSmallIntegerField(_("priority"), default=0)

    class Meta:
        verbose_name = _("shop warehouse")
        verbose_name_plural = _("shop warehouses")
        ordering = ["shop", "priority", "id"]
        constraints = [models.UniqueConstraint(fields=["shop", "warehouse"], name="shopwarehouse_unique")]

    def __str__(self):
        return f"{self.shop_id} → {self.warehouse_id} ({self.priority})"


class ShopUserObjectPermission(UserObjectPermissionBase):
    content_object = models.ForeignKey(Shop, on_delete=models.CASCADE)

    class Meta(UserObjectPermissionBase.Meta):
        verbose_name = _("shop permission of a user")
        verbose_name_plural = _("shop permissions of users")


class ShopGroupObjectPermission(GroupObjectPermissionBase):
    content_object = models.ForeignKey(Shop, on_delete=models.CASCADE)

    class Meta(GroupObjectPermissionBase.Meta):
        verbose_name = _("shop permission of a group")
        verbose_name_plural = _("shop permissions of groups")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class ShopApiToken(models.Model):
    """A platform integration's credential for one shop. Only a hash is stored; the token is shown once."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=64)
    prefix = models.CharField(_("prefix"), max_length=16, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL
    )
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("shop API token")
        verbose_name_plural = _("shop API tokens")

    def __str__(self):
        return f"{self.shop.code}:{self.prefix}…"

    @staticmethod
    def generate() -> tuple[str, str, str]:
        """A new raw token with its display prefix and its hash."""
        prefix = secrets.token_hex(4)
        raw = f"oh_{prefix}_{secrets.token_urlsafe(32)}"
        return raw, prefix, hash_token(raw)


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Pending payment")
    PENDING_REVIEW = "pending_review", _("Pending review")
    PENDING_APPROVAL = "pending_approval", _("Pending approval")
    READY = "ready", _("Ready for warehouse")
    PICKING = "picking", _("Picking")
    PICKED = "picked", _("Picked")
    PACKED = "packed", _("Packed")
    SHIPPED = "shipped", _("Shipped")
    IN_TRANSIT = "in_transit", _("In transit")
    OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
    DELIVERED = "delivered", _("Delivered")
    COMPLETED = "completed", _("Completed")
    INTERCEPTING = "intercepting", _("Intercepting")
    INTERCEPTED = "intercepted", _("Intercepted")
    REFUSED = "refused", _("Refused")
    CANCELLED = "cancelled", _("Cancelled")
    EXPIRED = "expired", _("Expired")


S = OrderStatus
PRE_SHIPMENT_STATUSES = [S.PENDING_PAYMENT, S.PENDING_REVIEW, S.PENDING_APPROVAL, S.READY, S.PICKING, S.PICKED, S.PACKED]
INTERCEPTABLE_STATUSES = [S.SHIPPED, S.IN_TRANSIT, S.OUT_FOR_DELIVERY]
TERMINAL_STATUSES = [S.COMPLETED, S.INTERCEPTED, S.REFUSED, S.CANCELLED, S.EXPIRED]


TRANSITION_LABELS = {
    "pay": _("Record payment"),
    "confirm": _("Confirm without payment"),
    "expire": _("Expire unpaid order"),
    "pass_review": _("Pass review"),
    "require_approval": _("Send for approval"),
    "approve": _("Approve"),
    "reject": _("Reject"),
    "start_picking": _("Start picking"),
    "return_to_ready": _("Return to ready"),
    "finish_picking": _("Finish picking"),
    "pack": _("Pack"),
    "ship": _("Ship"),
    "transit": _("In transit"),
    "out_for_delivery": _("Out for delivery"),
    "deliver": _("Delivered"),
    "refuse": _("Refused by buyer"),
    "complete": _("Complete"),
    "request_intercept": _("Request intercept"),
    "intercept_succeeded": _("Intercept succeeded"),
    "intercept_failed": _("Intercept failed"),
    "cancel": _("Cancel"),
}


class PaymentStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    DEPOSIT_PAID = "deposit_paid", _("Deposit paid")
    PAID = "paid", _("Paid")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


PAYABLE = F("goods_total") + F("shipping_fee") - F("discount_total")
HALF_CENT = Value(Decimal("0.005"))


class Order(TimeStampedModel):
    """An order from any channel. Status changes only through apps.orders.services.order_transition."""

    shop = models.ForeignKey(Shop, verbose_name=_("shop"), on_delete=models.PROTECT, related_name="orders",
                             db_index=False)  # order_shop_status leads with it
    external_id = models.CharField(_("order number"), max_length=64)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="orders",
        db_index=False,  # order_customer_placed leads with it
    )
    buyer_nickname = models.CharField(_("buyer nickname"), max_length=64, blank=True)
    warehouse = models.ForeignKey(
        "inventory.Warehouse",
        verbose_name=_("warehouse"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,  # order_warehouse_status leads with it
    )

    status = FSMField(
        _("status"), max_length=20, choices=OrderStatus.choices, default=S.PENDING_PAYMENT, editable=False
    )
    status_changed_at = models.DateTimeField(_("status changed at"))
    status_before_intercept = models.CharField(_("status before intercept"), max_length=20, blank=True,
                                               editable=False)
    payment_status = models.CharField(
        _("payment status"), max_length=20, choices=PaymentStatus.choices, default=PaymentStatus.UNPAID
    )

    receiver_name = models.CharField(_("receiver"), max_length=64)
    receiver_phone = models.CharField(_("receiver phone"), max_length=32)
    phone_tail = models.CharField(_("phone last four digits"), max_length=4, editable=False)  # order_phone_tail
    province = models.CharField(_("province"), max_length=32)
    city = models.CharField(_("city"), max_length=32)
    district = models.CharField(_("district"), max_length=32)
    address_detail = models.CharField(_("street address"), max_length=255)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)

    currency = models.CharField(_("currency"), max_length=3, default=DEFAULT_CURRENCY)
    goods_total = MoneyField(_("goods total"))
    shipping_fee = MoneyField(_("shipping fee"))
    discount_total = MoneyField(_("order discount"))
    grand_total = MoneyField(_("amount payable"))
    paid_amount = MoneyField(_("amount paid"))

    buyer_remark = models.TextField(_("buyer remark"), blank=True)
    seller_remark = models.TextField(_("seller remark"), blank=True)
    placed_at = models.DateTimeField(_("placed at"))
    paid_at = models.DateTimeField(_("paid at"), null=True, blank=True)
    payment_due_at = models.DateTimeField(_("payment due by"), null=True, blank=True)
    promised_ship_by = models.DateTimeField(_("promised ship-by"), null=True, blank=True)
    intake_digest = models.CharField(_("intake payload digest"), max_length=64, blank=True, editable=False)
    region_code = models.CharField(
        _("region code"), max_length=6, blank=True, editable=False,
        help_text=_("Administrative code of the district, set when review resolves the address."),
    )
    address_unlocked_at = models.DateTimeField(
        _("address unlocked at"), null=True, blank=True, editable=False,
        help_text=_("Set when a warehouse lead unlocks a packed order's address for one change; the change "
                    "locks it again."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("entered by"), null=True, blank=True, editable=False,
        on_delete=models.PROTECT, related_name="+",
        help_text=_("The person who keyed the order in; empty for platform feeds. They may not approve it."),
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        constraints = [
            models.UniqueConstraint(fields=["shop", "external_id"], name="order_unique_shop_external_id"),
            models.CheckConstraint(
                condition=Q(goods_total__gte=0, shipping_fee__gte=0, discount_total__gte=0, grand_total__gte=0),
                name="order_amounts_non_negative",
            ),
            # Exact on PostgreSQL (numeric); the half-cent band only absorbs SQLite's REAL storage.
            models.CheckConstraint(
                condition=Q(grand_total__gt=PAYABLE - HALF_CENT, grand_total__lt=PAYABLE + HALF_CENT),
                name="order_grand_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(paid_amount__gte=0, paid_amount__lte=F("grand_total")), name="order_paid_within_total"
            ),
        ]
        indexes = [
            models.Index(fields=["shop", "status"], name="order_shop_status"),
            models.Index(fields=["status", "status_changed_at"], name="order_status_since"),
            models.Index(fields=["placed_at"], name="order_placed_at"),
            models.Index(fields=["customer", "placed_at"], name="order_customer_placed"),
            models.Index(fields=["warehouse", "status"], name="order_warehouse_status"),
            models.Index(fields=["payment_due_at"], condition=Q(status="pending_payment"), name="order_payment_due"),
            models.Index(fields=["promised_ship_by"], name="order_promised_ship_by"),
            models.Index(fields=["phone_tail"], name="order_phone_tail"),  # equality only: no LIKE twin
            # The agents' search by the start of an order number (LIKE 'dy_1234%'); PostgreSQL needs
            # the pattern operator class for that under a non-C collation.
            models.Index(fields=["external_id"], opclasses=["varchar_pattern_ops"], name="order_external_id_prefix"),
        ]
        permissions = [
            ("pay_order", _("Can record payment or confirm an order")),
            ("review_order", _("Can review an order")),
            ("approve_order", _("Can approve or reject an order")),
            ("pick_order", _("Can pick an order")),
            ("pack_order", _("Can pack an order")),
            ("ship_order", _("Can ship an order")),
            ("track_order", _("Can record carrier tracking on an order")),
            ("intercept_order", _("Can request and settle intercepts")),
            ("cancel_order", _("Can cancel an order")),
            ("expire_order", _("Can expire an unpaid order")),
            ("view_personal_data", _("Can see full phone numbers and addresses")),
            ("change_shipping_address", _("Can change an order's shipping address")),
            ("unlock_address", _("Can unlock the address of a packed order")),
            ("record_complaint", _("Can record a buyer's complaint on an order")),
            ("mark_urgent", _("Can mark an order urgent")),
            ("view_finance", _("Can see payments, refunds and receivables")),
            ("view_operations_board", _("Can see open holds by type and age and late orders")),
        ]

    def __str__(self):
        return self.external_id

    # Transitions: pure state changes. Locking, hold checks, events and side effects live in
    # apps.orders.services.order_transition, the only caller.
    @transition(field=status, source=S.PENDING_PAYMENT, target=S.PENDING_REVIEW, permission="orders.pay_order")
    def pay(self):
        self.payment_due_at = None

    @transition(field=status, source=S.PENDING_PAYMENT, target=S.PENDING_REVIEW, permission="orders.pay_order")
    def confirm(self):
        """Cash on delivery or credit terms: reviewed before any money arrives, never expired."""
        self.payment_due_at = None

    @transition(field=status, source=S.PENDING_PAYMENT, target=S.EXPIRED, permission="orders.expire_order")
    def expire(self):
        pass

    @transition(field=status, source=S.PENDING_REVIEW, target=S.READY, permission="orders.review_order")
    def pass_review(self):
        pass

    @transition(field=status, source=S.PENDING_REVIEW, target=S.PENDING_APPROVAL, permission="orders.review_order")
    def require_approval(self):
        pass

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.READY, permission="orders.approve_order")
    def approve(self):
        pass

    @transition(field=status, source=S.PENDING_APPROVAL, target=S.CANCELLED, permission="orders.approve_order")
    def reject(self):
        pass

    @transition(field=status, source=S.READY, target=S.PICKING, permission="orders.pick_order")
    def start_picking(self):
        pass

    @transition(field=status, source=S.PICKING, target=S.READY, permission="orders.pick_order")
    def return_to_ready(self):
        pass

    @transition(field=status, source=S.PICKING, target=S.PICKED, permission="orders.pick_order")
    def finish_picking(self):
        pass

    @transition(field=status, source=S.PICKED, target=S.PACKED, permission="orders.pack_order")
    def pack(self):
        pass

    @transition(field=status, source=S.PACKED, target=S.SHIPPED, permission="orders.ship_order")
    def ship(self):
        pass

    @transition(field=status, source=S.SHIPPED, target=S.IN_TRANSIT, permission="orders.track_order")
    def transit(self):
        pass

    @transition(field=status, source=S.IN_TRANSIT, target=S.OUT_FOR_DELIVERY, permission="orders.track_order")
    def out_for_delivery(self):
        pass

    @transition(
        field=status, source=[S.IN_TRANSIT, S.OUT_FOR_DELIVERY], target=S.DELIVERED, permission="orders.track_order"
    )
    def deliver(self):
        pass

    @transition(
        field=status, source=[S.IN_TRANSIT, S.OUT_FOR_DELIVERY], target=S.REFUSED, permission="orders.track_order"
    )
    def refuse(self):
        pass

    @transition(field=status, source=S.DELIVERED, target=S.COMPLETED, permission="orders.track_order")
    def complete(self):
        pass

    @transition(
        field=status, source=INTERCEPTABLE_STATUSES, target=S.INTERCEPTING, permission="orders.intercept_order"
    )
    def request_intercept(self):
        self.status_before_intercept = self.status

    @transition(field=status, source=S.INTERCEPTING, target=S.INTERCEPTED, permission="orders.intercept_order")
    def intercept_succeeded(self):
        self.status_before_intercept = ""

    @transition(
        field=status,
        source=S.INTERCEPTING,
        target=RETURN_VALUE(*INTERCEPTABLE_STATUSES),
        permission="orders.intercept_order",
    )
    def intercept_failed(self):
        previous, self.status_before_intercept = self.status_before_intercept, ""
        return previous

    @transition(field=status, source=PRE_SHIPMENT_STATUSES, target=S.CANCELLED, permission="orders.cancel_order")
    def cancel(self):
        pass


class OrderLine(models.Model):
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="lines",
                              db_index=False)  # orderline_unique_line_no leads with it
    line_no = models.PositiveSmallIntegerField(_("line"))
    sku = models.ForeignKey("catalog.SKU", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("product name"), max_length=200)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit_price = MoneyField(_("unit price"))
    discount = MoneyField(_("line discount"))
    line_total = MoneyField(_("line total"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="orderline_unique_line_no"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="orderline_quantity_positive"),
            models.CheckConstraint(
                condition=Q(unit_price__gte=0, discount__gte=0, line_total__gte=0),
                name="orderline_amounts_non_negative",
            ),
        ]

    def __str__(self):
        return f"{self.order_id}#{self.line_no} {self.sku_id} × {self.quantity}"


class OrderEvent(models.Model):
    """Append-only history of an order: transitions, holds, overrides. What the ORI counts."""

    class Type(models.TextChoices):
        CREATED = "created", _("Created")
        TRANSITION = "transition", _("Status change")
        HOLD_OPENED = "hold_opened", _("Hold opened")
        HOLD_RELEASED = "hold_released", _("Hold released")
        NOTE = "note", _("Note")

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="events",
                              db_index=False)  # orderevent_order_time leads with it
    type = models.CharField(_("event type"), max_length=20, choices=Type.choices)
    name = models.CharField(_("action"), max_length=40, blank=True)
    from_status = models.CharField(_("from status"), max_length=20, blank=True, choices=OrderStatus.choices)
    to_status = models.CharField(_("to status"), max_length=20, blank=True, choices=OrderStatus.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("actor"), null=True, blank=True, on_delete=models.PROTECT
    )
    actor_label = models.CharField(_("actor label"), max_length=64)
    payload = models.JSONField(_("details"), default=dict, blank=True)
    is_intervention = models.BooleanField(_("manual intervention"), default=False)
    created_at = models.DateTimeField(_("time"), db_index=True)

    class Meta:
        verbose_name = _("order event")
        verbose_name_plural = _("order events")
        ordering = ["order", "created_at", "id"]
        indexes = [models.Index(fields=["order", "created_at"], name="orderevent_order_time")]

    def __str__(self):
        return f"{self.order_id} {self.type} {self.name}"


class CsNote(models.Model):
    """A customer-service agent's private note on an order: only customer-service roles read it,
    and its text is stored encrypted (apps.core.crypto), never in the order's event payloads."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="cs_notes")
    body_encrypted = models.TextField(_("note (encrypted)"), editable=False)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.PROTECT,
                               related_name="+")
    created_at = models.DateTimeField(_("time"), auto_now_add=True)

    class Meta:
        verbose_name = _("private note")
        verbose_name_plural = _("private notes")
        ordering = ["order", "-created_at", "-id"]
        indexes = [models.Index(fields=["order", "-created_at"], name="csnote_order_time")]

    def __str__(self):
        return f"{self.order_id} note {self.pk}"

    @property
    def body(self) -> str:
        return decrypt_text(self.body_encrypted)


class AuditRule(models.Model):
    """An admin-editable review rule: whether it runs, who owns the hold it opens, its settings."""

    class Code(models.TextChoices):
        OUT_OF_STOCK = "out_of_stock", _("Out of stock")
        EXPIRY_CONFLICT = "expiry_conflict", _("Expiry conflict")
        BLACKLISTED = "blacklisted", _("Blacklisted customer")
        OVER_CREDIT_LIMIT = "over_credit_limit", _("Over credit limit")
        MULTIPLE_ADDRESSES = "multiple_addresses", _("Several addresses for one buyer")
        PRICE_MISMATCH = "price_mismatch", _("Price away from the price list")
        ADDRESS_UNRESOLVED = "address_unresolved", _("Address unresolved")

    code = models.CharField(_("rule"), max_length=32, choices=Code.choices, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    owner_role = models.CharField(_("owner role"), max_length=32, choices=list(ROLE_LABELS.items()))
    parameters = models.JSONField(_("parameters"), default=dict, blank=True)

    class Meta:
        verbose_name = _("audit rule")
        verbose_name_plural = _("audit rules")
        ordering = ["code"]

    def __str__(self):
        return self.get_code_display()


class RemarkKeyword(models.Model):
    """A word in buyer or seller remarks that tags the order (发票 → invoice), editable by admins."""

    keyword = models.CharField(_("keyword"), max_length=32, unique=True)
    tag = models.SlugField(_("tag"), max_length=32)
    label = models.CharField(_("label"), max_length=32)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("remark keyword")
        verbose_name_plural = _("remark keywords")
        ordering = ["tag", "keyword"]

    def __str__(self):
        return f"{self.keyword} → {self.tag}"


class OrderTag(models.Model):
    # Looked up through ordertag_unique (order, tag) and ordertag_tag_order (tag, order): no index of their own.
    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="tags",
                              db_index=False)
    tag = models.SlugField(_("tag"), max_length=32, db_index=False)
    source = models.CharField(_("source"), max_length=64, blank=True, help_text=_("The keyword that set it"))

    class Meta:
        verbose_name = _("order tag")
        verbose_name_plural = _("order tags")
        constraints = [models.UniqueConstraint(fields=["order", "tag"], name="ordertag_unique")]
        indexes = [models.Index(fields=["tag", "order"], name="ordertag_tag_order")]

    def __str__(self):
        return f"{self.order_id}:{self.tag}"


class HoldType(models.TextChoices):
    OUT_OF_STOCK = "out_of_stock", _("Out of stock")
    EXPIRY_CONFLICT = "expiry_conflict", _("Expiry conflict")
    ADDRESS_UNRESOLVED = "address_unresolved", _("Address unresolved")
    BLACKLISTED = "blacklisted", _("Blacklisted customer")
    OVER_CREDIT_LIMIT = "over_credit_limit", _("Over credit limit")
    PRICE_MISMATCH = "price_mismatch", _("Price mismatch")
    MULTIPLE_ADDRESSES = "multiple_addresses", _("Several addresses for one buyer")
    # Customs data missing: apps.customs opens it automatically while an order's declaration is
    # incomplete (and releases it), people may open it by hand. Named "missing_customs_data" until
    # declarations arrived; migration 0011 renamed existing rows.
    CUSTOMS_INCOMPLETE = "customs_incomplete", _("Missing customs data")
    STALLED_IN_TRANSIT = "stalled_in_transit", _("Stalled in transit")
    SHORT_PICK = "short_pick", _("Short pick")
    QUARANTINED_STOCK = "quarantined_stock", _("Quarantined stock picked")
    BUYER_REQUEST = "buyer_request", _("Buyer request")
    MANUAL = "manual", _("Manual hold")


def hold_type_label(value: str) -> str:
    """A hold type's words; a type HoldType no longer names shows as stored."""
    return HoldType(value).label if value in HoldType.values else value


class OrderHold(models.Model):
    """An exception that stops an order's forward transitions while open; it keeps the order's place."""

    order = models.ForeignKey(Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="holds")
    type = models.CharField(_("hold type"), max_length=32, choices=HoldType.choices)
    reason = models.CharField(_("reason"), max_length=500)
    owner_role = models.CharField(_("owner role"), max_length=32, blank=True, choices=list(ROLE_LABELS.items()))
    details = models.JSONField(_("details"), default=dict, blank=True)
    is_automatic = models.BooleanField(_("opened automatically"), default=False)
    opened_at = models.DateTimeField(_("opened at"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    released_at = models.DateTimeField(_("released at"), null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("released by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    resolution = models.CharField(_("resolution"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("order hold")
        verbose_name_plural = _("order holds")
        ordering = ["order", "opened_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "type"], condition=Q(released_at__isnull=True), name="orderhold_one_open_per_type"
            ),
            models.CheckConstraint(
                condition=Q(released_at__isnull=True) | Q(released_at__gte=F("opened_at")),
                name="orderhold_released_after_opened",
            ),
        ]
        indexes = [
            models.Index(fields=["type", "opened_at"], condition=Q(released_at__isnull=True), name="orderhold_open")
        ]

    def __str__(self):
        return f"{self.order_id} {self.type}"

    @property
    def is_open(self) -> bool:
        return self.released_at is None
