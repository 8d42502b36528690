"""Coded domain errors.

Services raise these; the API maps them once (apps.core.api.exception_handler) to
`{"code", "message", "details"}` with the class's HTTP status, and pages turn them into messages.
"""
from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    code = "domain_error"
    http_status = 400
    default_message = _("The request could not be carried out.")

    def __init__(self, message=None, *, details=None, code=None):
        self.message = str(message if message is not None else self.default_message)
        self.details = details or {}
        if code:
            self.code = code
        super().__init__(self.message)

    def as_dict(self):
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(DomainError):
    code = "validation_failed"
    http_status = 400
    default_message = _("Some fields are missing or invalid.")


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    default_message = _("Not found.")


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403
    default_message = _("You are not allowed to do this.")


class Conflict(DomainError):
    code = "conflict"
    http_status = 409
    default_message = _("The request conflicts with the current state.")


class PayloadTooLarge(DomainError):
    code = "payload_too_large"
    http_status = 400
    default_message = _("The request body is too large.")
