"""Packing: the parcel's weight and size are recorded and the order moves to `packed`, from which on
its shipping address is locked (apps.orders.services.order_change_address)."""
from django.db import transaction
from django.utils.translation import gettext as _

from apps.core.actors import actor_label, actor_user
from apps.orders.lock_objects import lock_order
from apps.orders.services import transition_locked_order

from ..errors import PackageInvalid
from ..models import MAX_SIDE_MM, MAX_WEIGHT_GRAMS, Package


def _check_package(**values) -> dict:
    limits = {"weight_grams": MAX_WEIGHT_GRAMS, "length_mm": MAX_SIDE_MM, "width_mm": MAX_SIDE_MM,
              "height_mm": MAX_SIDE_MM}
    errors = {}
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int):
            errors[name] = [{"code": "invalid", "message": _("A whole number.")}]
        elif not 1 <= value <= limits[name]:
            errors[name] = [{"code": "out_of_range", "message": _("Between 1 and %(max)d.") % {"max": limits[name]}}]
    if errors:
        raise PackageInvalid(details=errors)
    return values


@transaction.atomic
def order_pack(*, order_id: int, weight_grams: int, length_mm: int, width_mm: int, height_mm: int, actor) -> Package:
    """Record the packed parcel (grams and millimetres, whole numbers within sane limits) and move
    the picked order to `packed` through its transition (permission, status and holds checked there)."""
    size = _check_package(weight_grams=weight_grams, length_mm=length_mm, width_mm=width_mm, height_mm=height_mm)
    order = lock_order(order_id)
    transition_locked_order(order, name="pack", actor=actor, payload=size)
    return Package.objects.create(order=order, **size, actor=actor_user(actor), actor_label=actor_label(actor))
