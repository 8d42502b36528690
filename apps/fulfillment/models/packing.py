from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# Sane upper bounds: the heaviest parcel any of our carriers takes is Deppon's 1,000 kg, and no
# parcel side is longer than 3 m. Beyond them a number is a typo (grams typed as milligrams).
MAX_WEIGHT_GRAMS = 1_000_000
MAX_SIDE_MM = 3_000


class Package(models.Model):
    """The packed parcel of an order: weight and dimensions, recorded when the order is packed and
    used for its e-waybill."""

    order = models.OneToOneField("orders.Order", verbose_name=_("order"), on_delete=models.PROTECT,
                                 related_name="package")
    weight_grams = models.PositiveIntegerField(_("weight (g)"))
    length_mm = models.PositiveIntegerField(_("length (mm)"))
    width_mm = models.PositiveIntegerField(_("width (mm)"))
    height_mm = models.PositiveIntegerField(_("height (mm)"))
    packed_at = models.DateTimeField(_("packed at"), default=timezone.now)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("packed by"), null=True, blank=True,
                              on_delete=models.PROTECT, related_name="+")
    actor_label = models.CharField(_("actor label"), max_length=64)

    class Meta:
        verbose_name = _("package")
        verbose_name_plural = _("packages")
        constraints = [
            models.CheckConstraint(condition=Q(weight_grams__gt=0, weight_grams__lte=MAX_WEIGHT_GRAMS),
                                   name="package_weight_in_range"),
            models.CheckConstraint(
                condition=Q(length_mm__gt=0, length_mm__lte=MAX_SIDE_MM, width_mm__gt=0, width_mm__lte=MAX_SIDE_MM,
                            height_mm__gt=0, height_mm__lte=MAX_SIDE_MM),
                name="package_dimensions_in_range",
            ),
        ]

    def __str__(self):
        return f"{self.order_id}: {self.weight_grams} g"
