from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed


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
    default_message = _("An e-waybill can only be requested for a packed order.")


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


class ShipmentNotIssued(Conflict):
    code = "shipment_not_issued"
    default_message = _("The order has no issued e-waybill yet; request one before shipping.")


class ShipmentNotCancellable(Conflict):
    code = "shipment_not_cancellable"
    default_message = _("There is no e-waybill to cancel, or the parcel has already left.")


class ShipmentCancelForbidden(PermissionDenied):
    code = "shipment_cancel_forbidden"
    default_message = _("Only a warehouse lead may cancel an e-waybill.")


# --- waves, picking, packing --------------------------------------------------------------------

class PickingForbidden(PermissionDenied):
    code = "picking_forbidden"
    default_message = _("Your role may not build waves or pick.")


class WarehouseNotFound(NotFound):
    """Unknown, inactive, or not one of the warehouses the actor works: the same answer for all three."""

    code = "warehouse_not_found"
    default_message = _("No such warehouse among the ones you work.")


class WaveNotFound(NotFound):
    code = "wave_not_found"
    default_message = _("No such wave.")


class PickTaskNotFound(NotFound):
    code = "pick_task_not_found"
    default_message = _("No such pick task in this wave.")


class InvalidWaveFilter(ValidationFailed):
    code = "invalid_wave_filter"
    default_message = _("The wave's filters are invalid.")


class WaveEmpty(Conflict):
    code = "wave_empty"
    default_message = _("No ready order matches these filters; no wave was built.")


class WaveConflict(Conflict):
    code = "wave_conflict"
    default_message = _("Another wave took some of these orders at the same moment; build the wave again.")


class ScanRefused(Conflict):
    """A scan the scanner page refuses. Nothing is changed; the refusal itself is logged (ScanLog)."""

    code = "scan_refused"
    default_message = _("The scan was refused.")


class WrongItem(ScanRefused):
    code = "wrong_item"
    default_message = _("Wrong item.")


class WrongLot(ScanRefused):
    code = "wrong_lot"
    default_message = _("Wrong batch.")


class LotRequired(ScanRefused):
    code = "lot_required"
    default_message = _("This SKU is batch-tracked: scan the lot number too.")


class OverPick(ScanRefused):
    code = "over_pick"
    default_message = _("More units than the task still needs.")


class TaskClosed(ScanRefused):
    code = "task_closed"
    default_message = _("This pick task is no longer open.")


class NothingToPick(ScanRefused):
    code = "nothing_to_pick"
    default_message = _("Every task of this wave is done.")


class InvalidPickQuantity(ValidationFailed):
    code = "invalid_pick_quantity"
    default_message = _("The quantity is not valid for this pick task.")


class ReasonRequired(ValidationFailed):
    code = "reason_required"
    default_message = _("Give a reason.")


class PackageInvalid(ValidationFailed):
    """Weight or dimensions missing, not whole numbers, or out of range; `details` per field."""

    code = "package_invalid"
    default_message = _("The package's weight or dimensions are invalid.")


class PackageMissing(Conflict):
    code = "package_missing"
    default_message = _("The order has no recorded package (weight and dimensions); pack it first.")


class TrackingCarrierUnknown(NotFound):
    code = "tracking_carrier_unknown"
    default_message = _("No such carrier.")


class TrackingNumberUnknown(NotFound):
    code = "tracking_number_unknown"
    default_message = _("No shipment of ours has this tracking number.")


class WebhookSignatureInvalid(DomainError):
    """The webhook body is not signed with the carrier's shared secret (or the carrier has none)."""

    code = "webhook_signature_invalid"
    http_status = 401
    default_message = _("The webhook signature is missing or wrong.")


class InterceptUnconfirmed(DomainError):
    """The carrier could not be asked (or gave no usable answer). The order stays `intercepting`;
    asking again (the same service, the same endpoint) re-sends the request."""

    code = "intercept_unconfirmed"
    http_status = 503
    default_message = _("The carrier could not be reached; the order stays in “intercepting”. "
                                   "Ask again shortly.")
