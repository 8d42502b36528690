from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, ValidationFailed


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = _("Not enough stock is available.")


class InvalidQuantity(ValidationFailed):
    code = "invalid_quantity"
    default_message = _("Quantities must be whole numbers greater than zero.")


class InvalidBatchDates(ValidationFailed):
    code = "invalid_batch_dates"
    default_message = _("The expiry date must be after the manufacture date.")


class DuplicateLot(Conflict):
    code = "duplicate_lot"
    default_message = _("This lot number already exists for the SKU with different dates.")


class LotRequired(ValidationFailed):
    code = "lot_required"
    default_message = _("This SKU is batch-tracked: give a lot number and an expiry date.")


class LotNotTracked(ValidationFailed):
    code = "lot_not_tracked"
    default_message = _("This SKU is not batch-tracked; receive it without a lot number.")


class UnknownWarehouse(ValidationFailed):
    code = "unknown_warehouse"
    default_message = _("No such active warehouse.")


class UnknownSKU(ValidationFailed):
    code = "unknown_sku"
    default_message = _("No such active SKU.")


class UnknownStockLevel(NotFound):
    code = "unknown_stock_level"
    default_message = _("No such stock level.")


class UnknownBatch(NotFound):
    code = "unknown_batch"
    default_message = _("No such batch.")


class AdjustBelowReserved(Conflict):
    code = "adjust_below_reserved"
    default_message = _("The counted quantity is below what is reserved; release reservations first.")


class NotReservable(Conflict):
    code = "not_reservable"
    default_message = _("Stock can only be reserved for orders that have not been picked yet.")


class QuarantinedStock(Conflict):
    code = "quarantined_stock"
    default_message = _("The order holds units of a quarantined batch; they cannot be shipped.")


class NotFullyReserved(Conflict):
    code = "not_fully_reserved"
    default_message = _("The order's stock is not fully reserved, so it cannot be issued.")
