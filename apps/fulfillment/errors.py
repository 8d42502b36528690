from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, PermissionDenied, ValidationFailed


class WaybillInvalid(ValidationFailed):
    """The e-waybill payload breaks its carrier's schema; `details` maps each field path to a list
    of {"code", "message"}."""

    code = "waybill_invalid"
    default_message = _("The e-waybill data is incomplete or invalid.")


class UnknownCarrier(ValidationFailed):
    code = "unknown_carrier"
    default_message = _("No such active carrier.")


class SenderProfileMissing(ValidationFailed):
    code = "sender_profile_missing"
    default_message = _("The order's warehouse has no sender details for e-waybills; an administrator must add them.")


class OrderNotShippable(Conflict):
    code = "order_not_shippable"
    default_message = _("An e-waybill can only be requested for a picked or packed order.")


class ShipmentExists(Conflict):
    code = "shipment_exists"
    default_message = _("The order already has an e-waybill from another carrier.")


class ShippingForbidden(PermissionDenied):
    code = "shipping_forbidden"
    default_message = _("Your role may not request e-waybills.")


class CarrierNotConfigured(ValidationFailed):
    code = "carrier_not_configured"
    default_message = _("The carrier has no API address configured.")


class CarrierUnavailable(DomainError):
    """The carrier could not be reached or gave no usable answer. `may_have_arrived` says whether
    the carrier may have acted on the request anyway (a timeout, a 5xx), in which case it must be
    retried with the same request id rather than forgotten."""

    code = "carrier_unavailable"
    http_status = 503
    default_message = _("The carrier's system cannot be reached; try again shortly.")

    def __init__(self, message=None, *, details=None, code=None, may_have_arrived: bool):
        super().__init__(message, details=details, code=code)
        self.may_have_arrived = may_have_arrived


class CarrierRefused(DomainError):
    """The carrier answered and said no (4xx with its own error code in `details`)."""

    code = "carrier_refused"
    http_status = 400
    default_message = _("The carrier refused the request.")


class TrackingEventInvalid(ValidationFailed):
    code = "tracking_event_invalid"
    default_message = _("The tracking event is malformed.")
