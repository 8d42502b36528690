from django.db import models
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
