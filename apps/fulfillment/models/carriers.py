from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.orders.models import validate_regex


class Carrier(TimeStampedModel):
    """A carrier we request e-waybills from. Name, schema and tracking-number pattern are reference
    data loaded from fixtures/carriers/ (apps.fulfillment.carrier_data); the account numbers and the
    endpoint are this company's settings and survive a reload."""

    code = models.SlugField(_("carrier code"), max_length=16, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64)
    is_active = models.BooleanField(_("active"), default=True)
    monthly_account = models.CharField(
        _("monthly account"), max_length=32, blank=True,
        help_text=_("月结账号: the company's settlement account with this carrier."),
    )
    cod_account = models.CharField(
        _("cash-on-delivery account"), max_length=32, blank=True,
        help_text=_("The account the carrier pays collected cash-on-delivery amounts into, where it needs one."),
    )
    api_base_url = models.URLField(
        _("API address"), max_length=200, blank=True,
        help_text=_("Where the carrier adapter sends requests in the format of docs/carriers.md."),
    )
    webhook_secret = models.CharField(
        _("webhook secret"), max_length=128, blank=True,
        help_text=_("Shared with the carrier: it signs each tracking webhook with HMAC-SHA256 of the body "
                    "under this secret. Empty: the carrier's webhooks are refused."),
    )
    waybill_schema = models.JSONField(_("e-waybill field schema"), default=dict)
    tracking_number_pattern = models.CharField(_("tracking-number pattern"), max_length=200,
                                               validators=[validate_regex])

    class Meta:
        verbose_name = _("carrier")
        verbose_name_plural = _("carriers")
        ordering = ["code"]

    def __str__(self):
        return f"{self.name_zh} ({self.code})"


class SenderProfile(TimeStampedModel):
    """The sender printed on e-waybills for parcels leaving a warehouse. Kept here rather than on
    Warehouse because only the carrier side needs a full, carrier-valid sender."""

    warehouse = models.OneToOneField("inventory.Warehouse", verbose_name=_("warehouse"), on_delete=models.CASCADE,
                                     related_name="sender_profile")
    name = models.CharField(_("sender name"), max_length=64)
    phone = models.CharField(_("sender phone"), max_length=32)
    company = models.CharField(_("company"), max_length=64, blank=True)
    province = models.CharField(_("province"), max_length=32)
    city = models.CharField(_("city"), max_length=32)
    district = models.CharField(_("district"), max_length=32, blank=True)
    address_detail = models.CharField(_("street address"), max_length=255)

    class Meta:
        verbose_name = _("sender profile")
        verbose_name_plural = _("sender profiles")

    def __str__(self):
        return f"{self.warehouse_id}: {self.name}"


class Shipment(models.Model):
    """One e-waybill for an order. Created `requested` before the carrier is called and `issued`
    once its answer is stored (apps.fulfillment.services); the tracking number always comes from
    the carrier, never from a person."""

    class State(models.TextChoices):
        REQUESTED = "requested", _("Requested")
        ISSUED = "issued", _("Issued")
        CANCELLED = "cancelled", _("Cancelled")

    order = models.ForeignKey("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                              related_name="shipments")
    carrier = models.ForeignKey(Carrier, verbose_name=_("carrier"), on_delete=models.PROTECT,
                                related_name="shipments")
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.REQUESTED)
    request_id = models.UUIDField(
        _("request id"), unique=True, editable=False,
        help_text=_("Sent with every attempt; the carrier answers a repeated id with the same waybill."),
    )
    service_type = models.CharField(_("service type"), max_length=32)
    tracking_number = models.CharField(_("tracking number"), max_length=32, blank=True)
    sort_code = models.CharField(_("sort code"), max_length=32, blank=True, help_text=_("三段码"))
    package_centre = models.CharField(_("package centre"), max_length=64, blank=True, help_text=_("集包地"))
    short_address = models.CharField(_("short address"), max_length=64, blank=True, help_text=_("大头笔"))
    request_payload = models.JSONField(_("request as sent"), encoder=DjangoJSONEncoder)
    weight = models.DecimalField(_("weight (kg)"), max_digits=9, decimal_places=3)
    cod_amount = models.DecimalField(_("cash on delivery"), max_digits=14, decimal_places=2, null=True, blank=True)
    insured_value = models.DecimalField(_("insured value"), max_digits=14, decimal_places=2, null=True, blank=True)
    requested_at = models.DateTimeField(_("requested at"), default=timezone.now)
    issued_at = models.DateTimeField(_("issued at"), null=True, blank=True)
    label_printed_at = models.DateTimeField(_("label printed at"), null=True, blank=True,
                                            help_text=_("First time its label PDF was produced."))
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("requested by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor label"), max_length=64)

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-requested_at"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=["requested", "issued", "cancelled"]),
                                   name="shipment_state_valid"),
            # An order has at most one waybill in play; a second request replays the first.
            models.UniqueConstraint(fields=["order"], condition=Q(state__in=["requested", "issued"]),
                                    name="shipment_one_live_per_order"),
            models.UniqueConstraint(fields=["carrier", "tracking_number"], condition=~Q(tracking_number=""),
                                    name="shipment_tracking_number_unique_per_carrier"),
            models.CheckConstraint(
                condition=~Q(state="requested") | Q(tracking_number="", issued_at__isnull=True),
                name="shipment_requested_has_no_answer",
            ),
            models.CheckConstraint(
                condition=~Q(state="issued") | (~Q(tracking_number="") & Q(issued_at__isnull=False)),
                name="shipment_issued_has_tracking_number",
            ),
            models.CheckConstraint(condition=Q(issued_at__isnull=True) | Q(issued_at__gte=F("requested_at")),
                                   name="shipment_issued_after_requested"),
            models.CheckConstraint(condition=Q(weight__gt=0), name="shipment_weight_positive"),
            models.CheckConstraint(condition=Q(cod_amount__isnull=True) | Q(cod_amount__gt=0),
                                   name="shipment_cod_amount_positive"),
            models.CheckConstraint(condition=Q(insured_value__isnull=True) | Q(insured_value__gt=0),
                                   name="shipment_insured_value_positive"),
        ]

    def __str__(self):
        return self.tracking_number or f"{self.carrier_id}:{self.request_id}"


class ShopCarrier(models.Model):
    """The carrier a shop ships with unless the buyer asked for another one.

    An order's intended carrier is the carrier of its `carrier_<code>` tag (a remark keyword such as
    顺丰 → carrier_sf), else its shop's default carrier here, else none. Kept in fulfillment, beside
    the carriers, so the Shop model stays as it is."""

    shop = models.OneToOneField("orders.Shop", verbose_name=_("shop"), on_delete=models.CASCADE,
                                related_name="default_carrier")
    carrier = models.ForeignKey(Carrier, verbose_name=_("default carrier"), on_delete=models.PROTECT,
                                related_name="+")

    class Meta:
        verbose_name = _("shop's default carrier")
        verbose_name_plural = _("shops' default carriers")

    def __str__(self):
        return f"{self.shop_id} → {self.carrier_id}"
