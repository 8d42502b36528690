from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = _("No such order.")


class UnknownTransition(ValidationFailed):
    code = "unknown_transition"
    default_message = _("There is no such order action.")


class TransitionNotAllowed(Conflict):
    code = "transition_not_allowed"
    default_message = _("This action is not allowed in the order's current status.")


class TransitionForbidden(PermissionDenied):
    code = "transition_forbidden"
    default_message = _("Your role may not perform this action.")


class OrderOnHold(Conflict):
    code = "order_on_hold"
    default_message = _("The order has open holds; resolve them first.")


class HoldAlreadyOpen(Conflict):
    code = "hold_already_open"
    default_message = _("A hold of this type is already open on the order.")


class HoldNotOpen(Conflict):
    code = "hold_not_open"
    default_message = _("This hold has already been released.")


class HoldNotFound(NotFound):
    code = "hold_not_found"
    default_message = _("No such hold on this order.")


class ShopNotServed(PermissionDenied):
    code = "shop_not_served"
    default_message = _("You may not create or read orders for this shop.")


class InvalidPayment(ValidationFailed):
    code = "invalid_payment"
    default_message = _("The payment amount is not valid for this order.")
