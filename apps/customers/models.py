from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.core.money import MoneyField


class Customer(TimeStampedModel):
    class Kind(models.TextChoices):
        B2B = "b2b", _("Business (B2B)")
        B2C = "b2c", _("Consumer (B2C)")

    class Tier(models.TextChoices):
        STANDARD = "standard", _("Standard")
        SILVER = "silver", _("Silver")
        GOLD = "gold", _("Gold")
        KEY_ACCOUNT = "key_account", _("Key account")

    code = models.CharField(_("customer code"), max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=128)
    kind = models.CharField(_("type"), max_length=8, choices=Kind.choices, default=Kind.B2C)
    tier = models.CharField(_("tier"), max_length=16, choices=Tier.choices, default=Tier.STANDARD)
    credit_limit = MoneyField(_("credit limit"))
    payment_terms_days = models.PositiveSmallIntegerField(_("payment terms (days)"), default=0)
    credit_score = models.PositiveSmallIntegerField(
        _("credit score"), default=60, validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    is_blacklisted = models.BooleanField(_("blacklisted"), default=False)
    blacklist_reason = models.CharField(_("blacklist reason"), max_length=255, blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    min_remaining_shelf_life_days = models.PositiveIntegerField(
        _("minimum remaining shelf life (days)"), default=0,
        help_text=_("This customer accepts only batches with at least this many days left."),
    )

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        constraints = [
            models.CheckConstraint(condition=Q(credit_limit__gte=0), name="customer_credit_limit_non_negative"),
            models.CheckConstraint(
                condition=Q(credit_score__gte=0, credit_score__lte=100), name="customer_credit_score_0_100"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.code})"


class Address(TimeStampedModel):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="addresses"
    )
    receiver = models.CharField(_("receiver"), max_length=64)
    phone = models.CharField(_("phone"), max_length=32)
    province = models.CharField(_("province"), max_length=32)
    city = models.CharField(_("city"), max_length=32)
    district = models.CharField(_("district"), max_length=32)
    detail = models.CharField(_("street address"), max_length=255)
    postal_code = models.CharField(_("postal code"), max_length=12, blank=True)
    is_default = models.BooleanField(_("default address"), default=False)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="address_one_default_per_customer"
            )
        ]

    def __str__(self):
        return f"{self.province}{self.city}{self.district}{self.detail}"
