"""One mapping from errors to API responses: `{"code", "message", "details"}` everywhere."""
import codecs
import json
import threading
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from rest_framework import exceptions as drf_exceptions
from rest_framework import permissions
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from .errors import DomainError

_DRF_CODES = {
    drf_exceptions.NotAuthenticated: "not_authenticated",
    drf_exceptions.AuthenticationFailed: "authentication_failed",
    drf_exceptions.PermissionDenied: "permission_denied",
    drf_exceptions.NotFound: "not_found",
    drf_exceptions.MethodNotAllowed: "method_not_allowed",
    drf_exceptions.ParseError: "malformed_request",
    drf_exceptions.UnsupportedMediaType: "unsupported_media_type",
    drf_exceptions.Throttled: "throttled",
    drf_exceptions.NotAcceptable: "not_acceptable",
}


def flatten_errors(detail, prefix=""):
    """Turn DRF's nested error structure into `{"lines[0].quantity": [{"code", "message"}]}`."""
    flat = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            if isinstance(key, int):  # ListField reports its children by index
                path = f"{prefix}[{key}]"
            elif key == "non_field_errors":
                path = prefix or "_"
            else:
                path = f"{prefix}.{key}" if prefix else key
            flat.update(flatten_errors(value, path))
    elif isinstance(detail, list):
        if detail and all(isinstance(item, (dict, list)) for item in detail):
            for index, item in enumerate(detail):
                if item:
                    flat.update(flatten_errors(item, f"{prefix}[{index}]"))
        else:
            flat.setdefault(prefix or "_", []).extend(
                {"code": getattr(item, "code", "invalid"), "message": str(item)} for item in detail
            )
    else:
        flat.setdefault(prefix or "_", []).append(
            {"code": getattr(detail, "code", "invalid"), "message": str(detail)}
        )
    return flat


def exception_handler(exc, context):
    # Imported here: rest_framework.views reads DEFAULT_PARSER_CLASSES, which names this module.
    from rest_framework.views import exception_handler as drf_exception_handler

    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.http_status)
    if isinstance(exc, Http404):
        exc = drf_exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf_exceptions.PermissionDenied()

    if isinstance(exc, drf_exceptions.ValidationError):
        body = {
            "code": "validation_failed",
            "message": _("Some fields are missing or invalid."),
            "details": flatten_errors(exc.detail),
        }
        return Response(body, status=400)

    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = next((c for klass, c in _DRF_CODES.items() if isinstance(exc, klass)), None)
    detail = getattr(exc, "detail", "")
    response.data = {
        "code": code or getattr(detail, "code", "error"),
        "message": str(detail),
        "details": {},
    }
    return response


_built_serializers = threading.local()


def _built(serializer_class):
    """One serializer of this class per thread and language, built on first use."""
    built = _built_serializers.__dict__
    key = (serializer_class, get_language())
    serializer = built.get(key)
    if serializer is None:
        serializer = built[key] = serializer_class()
    return serializer


def validated(serializer_class, data, **context):
    """What `serializer_class(data=data, context=context)` validates to, or its ValidationError,
    with the serializer built once per thread and language instead of once per call.

    A new DRF serializer deep-copies every declared field, and copying a field runs its __init__
    again: for order intake's 30 fields that was 13% of a request's CPU (py-spy under
    bench/intake.py). Validation itself keeps nothing on the fields. Per language, because
    DRF formats a length or range message once per field instance (lazy_format) and keeps it.
    The context is the built serializer's only for the call; validating one serializer class
    from inside its own validation would see the inner call's context.
    """
    serializer = _built(serializer_class)
    serializer._context = context
    try:
        return serializer.run_validation(data)
    finally:
        serializer._context = {}


def represented(serializer_class, instance) -> dict:
    """`serializer_class(instance).data` for a serializer that needs no context, from the same
    built-once serializers as `validated`: intake's acknowledgement cost 122 µs with a new
    serializer, 19 µs this way."""
    return _built(serializer_class).to_representation(instance)


class DecimalJSONParser(JSONParser):
    """JSON numbers with a fraction become Decimal, never float, so money stays exact from the wire on."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            return json.load(codecs.getreader(encoding)(stream), parse_float=Decimal)
        except ValueError as exc:
            raise drf_exceptions.ParseError(_("Malformed JSON: %(error)s") % {"error": exc}) from exc


class ActionPermission(permissions.BasePermission):
    """A model permission per viewset action (a subclass's `required`); object scope comes from the
    selectors."""

    required: dict[str, str] = {}

    def has_permission(self, request, view):
        perm = self.required.get(view.action)
        return perm is None or request.user.has_perm(perm)


class MethodPermission(permissions.BasePermission):
    """A model permission per HTTP method (the view's `required`); scope comes from the selectors."""

    def has_permission(self, request, view):
        perm = view.required.get(request.method)
        return perm is None or request.user.has_perm(perm)
