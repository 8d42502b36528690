from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class ReturnNotFound(NotFound):
    code = "return_not_found"
    default_message = _("Return request not found.")


class ReturnForbidden(PermissionDenied):
    code = "return_forbidden"
    default_message = _("Your role may not do this with returns.")


class OrderNotShipped(Conflict):
    code = "order_not_shipped"
    default_message = _("Only orders that have shipped can be returned.")


class ReturnLinesInvalid(ValidationFailed):
    """No lines, a line of another order, a line named twice, a quantity that is not a positive integer."""

    code = "return_lines_invalid"
    default_message = _("The return lines are missing or invalid.")


class ReturnQuantityExceeded(ValidationFailed):
    code = "return_quantity_exceeded"
    default_message = _("A line returns more than was shipped and not yet returned.")


class ReturnAlreadyOpen(Conflict):
    code = "return_already_open"
    default_message = _("Another open return already covers some of these lines.")


class ReasonNotLeaf(ValidationFailed):
    code = "reason_not_leaf"
    default_message = _("Choose an active reason without sub-reasons.")


class ReasonTextRequired(ValidationFailed):
    code = "reason_text_required"
    default_message = _("This reason needs a description of what happened.")


class InvalidReturnKind(ValidationFailed):
    code = "invalid_return_kind"
    default_message = _("Unknown kind of return.")


class TooManyPhotos(ValidationFailed):
    code = "too_many_photos"
    default_message = _("At most 6 photos per return.")


class PhotoNotImage(ValidationFailed):
    code = "photo_not_image"
    default_message = _("A photo is not a JPEG, PNG or WebP image.")


class PhotoTooLarge(ValidationFailed):
    code = "photo_too_large"
    default_message = _("A photo is larger than the limit.")


class ReturnTransitionNotAllowed(Conflict):
    code = "return_transition_not_allowed"
    default_message = _("This step is not possible in the return's current state.")


class InspectionInvalid(ValidationFailed):
    code = "inspection_invalid"
    default_message = _("Every returned line needs exactly one outcome: good, damaged or scrap.")


class ReturnOriginUnknown(Conflict):
    code = "return_origin_unknown"
    default_message = _("The stock a returned line left from cannot be found.")
