from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class OrderNotFound(NotFound):
    code = "order_not_found"
    default_message = _("No such order.")


class CustomerNotFound(NotFound):
    code = "customer_not_found"
    default_message = _("No such customer with open receivables in your shops.")


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


class AddressLocked(Conflict):
    """A packed order's address is locked (a parcel with a label may already be on the bench); a
    shipped order's for good, since the parcel is with the carrier."""

    code = "address_locked"
    default_message = _("The address is locked after packing; a warehouse lead must unlock it first.")


class AddressNotLockable(Conflict):
    code = "address_not_lockable"
    default_message = _("Only a packed order's address can be unlocked.")


class AddressAlreadyUnlocked(Conflict):
    code = "address_already_unlocked"
    default_message = _("The address is already unlocked for one change.")


class WaybillIssued(Conflict):
    code = "waybill_issued"
    default_message = _("An e-waybill was already issued for the old address; a warehouse lead must cancel it "
                        "before the address changes.")


class InvalidAddress(ValidationFailed):
    code = "invalid_address"
    default_message = _("The address is incomplete or invalid.")


class TransitionHasOwnFlow(Conflict):
    code = "transition_has_own_flow"
    default_message = _("This step has its own screen and API (approvals, or the warehouse flow); "
                        "it cannot be forced as a bare status change.")
