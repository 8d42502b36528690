from django.utils.translation import gettext_lazy as _

from apps.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed


class UnknownCountry(ValidationFailed):
    code = "unknown_country"
    default_message = _("There is no country profile for this destination.")


class DeclarationNotFound(NotFound):
    code = "declaration_not_found"
    default_message = _("This order has no customs declaration.")


class DeclarationCountryMismatch(Conflict):
    code = "declaration_country_mismatch"
    default_message = _("The order already has a declaration for another country; change its country instead.")


class DeclarationClosed(Conflict):
    code = "declaration_closed"
    default_message = _("The order has shipped or ended; its declaration can no longer change.")


class DeclarationForbidden(PermissionDenied):
    code = "declaration_forbidden"
    default_message = _("Your role may not prepare or change customs declarations.")


class DeclarationInvalid(ValidationFailed):
    """A change that would store malformed data (a 9-digit HS code, gross below net …). Nothing is
    written; `details["problems"]` lists every problem, coded like the check's."""

    code = "declaration_invalid"
    default_message = _("Some declaration fields are invalid; nothing was changed.")
