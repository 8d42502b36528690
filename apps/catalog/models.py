from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel


class Category(models.Model):
    """A product category (品类). Return-reason suggestions learn from a category's history when a
    SKU has little of its own."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self):
        return f"{self.code} {self.name_zh}"


class SKU(TimeStampedModel):
    code = models.CharField(_("SKU code"), max_length=64, unique=True)
    barcode = models.CharField(_("barcode"), max_length=64, unique=True, null=True, blank=True)
    name_zh = models.CharField(_("Chinese name"), max_length=200)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), null=True, blank=True,
                                 on_delete=models.PROTECT, related_name="skus")
    unit = models.CharField(_("unit"), max_length=16, default="件")
    weight_grams = models.PositiveIntegerField(_("weight (g)"), default=0)
    shelf_life_days = models.PositiveIntegerField(_("shelf life (days)"), null=True, blank=True)
    batch_tracked = models.BooleanField(_("batch tracked"), default=False)
    hs_code = models.CharField(_("HS code"), max_length=16, blank=True)
    origin_country = models.CharField(_("country of origin"), max_length=2, default="CN")
    is_active = models.BooleanField(_("active"), default=True)
    min_remaining_shelf_life_days = models.PositiveIntegerField(
        _("minimum remaining shelf life at shipment (days)"), default=0,
        help_text=_("Batches expiring sooner than this are not allocated (e.g. infant formula: 180)."),
    )
    near_expiry_alert_days = models.PositiveIntegerField(
        _("near-expiry alert window (days)"), default=30,
        help_text=_("A batch this close to its expiry date raises a near-expiry alert."),
    )
    safety_stock = models.PositiveIntegerField(_("safety stock"), default=0)
    list_price = models.DecimalField(
        _("list price"), max_digits=12, decimal_places=2, null=True, blank=True,
        help_text=_("The price-list price; the review rule compares order prices with it."),
    )
    unit_cost = models.DecimalField(
        _("unit cost"), max_digits=12, decimal_places=2, null=True, blank=True,
        help_text=_("Known purchase or production cost; approvers see the margin from it."),
    )
    is_made_to_order = models.BooleanField(
        _("made to order"), default=False, help_text=_("Produced for the order (定制); approval policies may ask production to sign."),
    )

    class Meta:
        verbose_name = _("SKU")
        verbose_name_plural = _("SKUs")
        constraints = [
            models.CheckConstraint(
                condition=Q(hs_code="") | Q(hs_code__regex=r"^[0-9]{6,10}$"), name="sku_hs_code_digits"
            ),
            models.CheckConstraint(condition=Q(list_price__gt=0) | Q(list_price__isnull=True), name="sku_list_price_positive"),
            models.CheckConstraint(condition=Q(unit_cost__gte=0) | Q(unit_cost__isnull=True), name="sku_unit_cost_non_negative"),
        ]

    def __str__(self):
        return f"{self.code} {self.name_zh}"
