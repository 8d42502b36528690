"""Destination-country rules and export declarations.

An order is cross-border when it has a Declaration: the declaration names the destination
country (orders themselves only know Chinese provinces). Declarations change only through
apps.customs.services, under their order's row lock (apps.orders.lock_objects.lock_order), so they
are never locked themselves.
"""
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from apps.core.models import TimeStampedModel
from apps.core.money import DEFAULT_CURRENCY

HS_CODE_PATTERN = r"^[0-9]{10}$"  # China's export tariff code: the 6-digit HS subheading + 4 national digits
COUNTRY_PATTERN = r"^[A-Z]{2}$"
CURRENCY_PATTERN = r"^[A-Z]{3}$"
KILOGRAMS = {"max_digits": 12, "decimal_places": 3}


class CountryProfile(models.Model):
    """What one destination country needs on a declaration beyond the base set. Reference data
    from fixtures/customs/ (apps.customs.profiles), reloaded by migrations; never edited by hand."""

    code = models.CharField(_("country code"), max_length=2, unique=True)
    name_zh = models.CharField(_("Chinese name"), max_length=64)
    name_en = models.CharField(_("English name"), max_length=64)
    currency = models.CharField(_("currency"), max_length=3)
    description_languages = models.JSONField(
        _("description languages"), default=list, blank=True,
        help_text=_("Languages the goods description must also be given in, besides Chinese and English."))
    header_fields = models.JSONField(
        _("required header fields"), default=list, blank=True,
        help_text=_("Declaration fields required beyond the base set, with an optional pattern."))
    line_fields = models.JSONField(
        _("required line fields"), default=list, blank=True,
        help_text=_("Per-line extras required beyond the base set, optionally only for some HS codes."))
    de_minimis = models.DecimalField(
        _("de minimis value"), max_digits=14, decimal_places=2, null=True, blank=True,
        help_text=_("In the country's currency; below it no duty is charged. Empty: no such threshold."))
    reviewed_on = models.DateField(_("rules reviewed on"), null=True, blank=True)
    notes = models.TextField(_("notes"), blank=True)

    class Meta:
        verbose_name = _("country profile")
        verbose_name_plural = _("country profiles")
        ordering = ["code"]
        constraints = [
            models.CheckConstraint(condition=Q(code__regex=COUNTRY_PATTERN), name="countryprofile_code_iso"),
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN),
                                   name="countryprofile_currency_iso"),
            models.CheckConstraint(condition=Q(de_minimis__isnull=True) | Q(de_minimis__gte=0),
                                   name="countryprofile_de_minimis_non_negative"),
        ]

    def __str__(self):
        return f"{self.code} {self.name_zh}"

    def line_requirements(self, hs_code: str) -> list[dict]:
        """The profile's line extras that apply to a line with this HS code. Without an HS code a
        prefix-bound extra cannot be judged yet; the missing HS code is reported instead."""
        return [spec for spec in self.line_fields
                if not spec.get("hs_prefixes") or (hs_code and hs_code.startswith(tuple(spec["hs_prefixes"])))]


class Incoterm(models.TextChoices):
    EXW = "EXW", "EXW"
    FCA = "FCA", "FCA"
    FAS = "FAS", "FAS"
    FOB = "FOB", "FOB"
    CFR = "CFR", "CFR"
    CIF = "CIF", "CIF"
    CPT = "CPT", "CPT"
    CIP = "CIP", "CIP"
    DAP = "DAP", "DAP"
    DPU = "DPU", "DPU"
    DDP = "DDP", "DDP"


class Declaration(TimeStampedModel):
    """The export declaration of one cross-border order: header here, one line per order line."""

    order = models.OneToOneField("orders.Order", verbose_name=_("order"), on_delete=models.CASCADE,
                                 related_name="declaration")
    profile = models.ForeignKey(CountryProfile, verbose_name=_("destination country"), on_delete=models.PROTECT,
                                related_name="declarations")
    # One currency per declaration, the order's: values come from what the buyer paid, and totals
    # need no exchange rate.
    currency = models.CharField(_("currency"), max_length=3, default=DEFAULT_CURRENCY)
    incoterm = models.CharField(_("delivery terms (Incoterm)"), max_length=3, choices=Incoterm.choices, blank=True)
    exporter_name = models.CharField(_("exporter name"), max_length=128, blank=True)
    exporter_address = models.CharField(_("exporter address"), max_length=255, blank=True)
    exporter_phone = models.CharField(_("exporter phone"), max_length=32, blank=True)
    exporter_tax_id = models.CharField(_("exporter tax number"), max_length=32, blank=True)
    consignee_name = models.CharField(_("consignee name"), max_length=128, blank=True)
    consignee_address = models.CharField(_("consignee address"), max_length=255, blank=True)
    consignee_phone = models.CharField(_("consignee phone"), max_length=32, blank=True)
    consignee_tax_id = models.CharField(_("consignee tax number"), max_length=32, blank=True)
    is_complete = models.BooleanField(
        _("complete"), default=False, editable=False,
        help_text=_("Result of the last check against the base rules and the country profile."))

    class Meta:
        verbose_name = _("customs declaration")
        verbose_name_plural = _("customs declarations")
        constraints = [
            models.CheckConstraint(condition=Q(currency__regex=CURRENCY_PATTERN), name="declaration_currency_iso"),
            models.CheckConstraint(condition=Q(incoterm="") | Q(incoterm__in=Incoterm.values),
                                   name="declaration_incoterm_known"),
        ]
        indexes = [models.Index(fields=["profile", "is_complete"], name="declaration_country_complete")]

    def __str__(self):
        return f"{self.order_id} → {self.profile_id}"


class DeclarationLine(models.Model):
    """One order line as declared. Weights are the line's totals (not per unit), in kilograms;
    empty means not known yet, which the check reports."""

    declaration = models.ForeignKey(Declaration, verbose_name=_("declaration"), on_delete=models.CASCADE,
                                    related_name="lines")
    order_line = models.OneToOneField("orders.OrderLine", verbose_name=_("order line"), on_delete=models.CASCADE,
                                      related_name="declaration_line")
    line_no = models.PositiveSmallIntegerField(_("line"))
    sku = models.ForeignKey("catalog.SKU", verbose_name=_("SKU"), on_delete=models.PROTECT, related_name="+")
    hs_code = models.CharField(_("HS code"), max_length=10, blank=True)
    name_zh = models.CharField(_("Chinese name"), max_length=200, blank=True)
    name_en = models.CharField(_("English name"), max_length=200, blank=True)
    local_names = models.JSONField(_("names in the destination's languages"), default=dict, blank=True)
    quantity = models.PositiveIntegerField(_("quantity"))
    unit = models.CharField(_("unit"), max_length=16, blank=True)
    legal_unit = models.CharField(_("legal unit"), max_length=16, blank=True,
                                  help_text=_("法定单位: the unit the tariff prescribes for this HS code, e.g. 千克, 个, 台."))
    legal_quantity = models.DecimalField(_("quantity in the legal unit"), max_digits=14, decimal_places=3,
                                         null=True, blank=True)
    net_weight_kg = models.DecimalField(_("net weight (kg)"), null=True, blank=True, **KILOGRAMS)
    gross_weight_kg = models.DecimalField(_("gross weight (kg)"), null=True, blank=True, **KILOGRAMS)
    # Four places: a paid line total divided by its quantity (10.00 / 3) must multiply back to the total.
    unit_value = models.DecimalField(_("unit value"), max_digits=16, decimal_places=4, default=0)
    origin_country = models.CharField(_("country of origin"), max_length=2, blank=True)
    extras = models.JSONField(_("country-specific fields"), default=dict, blank=True)

    class Meta:
        verbose_name = _("declaration line")
        verbose_name_plural = _("declaration lines")
        ordering = ["declaration", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["declaration", "line_no"], name="declarationline_unique_line_no"),
            models.CheckConstraint(condition=Q(hs_code="") | Q(hs_code__regex=HS_CODE_PATTERN),
                                   name="declarationline_hs_code_10_digits"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="declarationline_quantity_positive"),
            models.CheckConstraint(condition=Q(legal_quantity__isnull=True) | Q(legal_quantity__gt=0),
                                   name="declarationline_legal_quantity_positive"),
            models.CheckConstraint(condition=Q(net_weight_kg__isnull=True) | Q(net_weight_kg__gt=0),
                                   name="declarationline_net_weight_positive"),
            models.CheckConstraint(condition=Q(gross_weight_kg__isnull=True) | Q(gross_weight_kg__gt=0),
                                   name="declarationline_gross_weight_positive"),
            models.CheckConstraint(
                condition=Q(net_weight_kg__isnull=True) | Q(gross_weight_kg__isnull=True)
                | Q(gross_weight_kg__gte=F("net_weight_kg")),
                name="declarationline_gross_at_least_net"),
            models.CheckConstraint(condition=Q(unit_value__gte=0), name="declarationline_unit_value_non_negative"),
            models.CheckConstraint(condition=Q(origin_country="") | Q(origin_country__regex=COUNTRY_PATTERN),
                                   name="declarationline_origin_iso"),
        ]
        # Preparing a declaration reuses what earlier declarations of the same SKU said.
        indexes = [models.Index(fields=["sku", "declaration"], name="declarationline_sku")]

    def __str__(self):
        return f"{self.declaration_id}#{self.line_no} {self.hs_code}"
