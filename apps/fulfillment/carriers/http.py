"""The HTTP adapter: JSON over HTTP in the format of docs/carriers.md, with urllib (no HTTP
library is installed, and two POSTs do not need one).

Failures become coded errors. The line that matters is whether the carrier may have acted on a
request: a refused connection or an unknown host means it never got it; a timeout, a dropped
connection or a 5xx means it may have issued a waybill we did not hear about, so the caller must
keep the request id and retry with it rather than start afresh.
"""
import http.client
import json
import re
import socket
import urllib.error
import urllib.request
from datetime import datetime

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from ..errors import CarrierRefused, CarrierUnavailable, TrackingEventInvalid
from .base import CarrierAdapter, InterceptAnswer, TrackingEvent, WaybillAnswer
from .codes import transition_for

DEFAULT_TIMEOUT_SECONDS = 10
WAYBILL_ANSWER_FIELDS = ("tracking_number", "sort_code", "package_centre", "short_address")


class HttpCarrierAdapter(CarrierAdapter):
    def __init__(self, carrier, *, timeout: float | None = None):
        super().__init__(carrier)
        self.base_url = carrier.api_base_url.rstrip("/")
        self.timeout = timeout or getattr(settings, "ORDERHUB_CARRIER_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS)

    # --- requests -------------------------------------------------------------------------------

    def request_waybill(self, payload: dict) -> WaybillAnswer:
        body = self._post("/waybills", payload)
        values = {name: body.get(name) for name in WAYBILL_ANSWER_FIELDS}
        if not all(isinstance(value, str) and value for value in values.values()):
            raise self._bad_answer("incomplete waybill answer")
        if not re.fullmatch(self.carrier.tracking_number_pattern, values["tracking_number"]):
            # A number in the wrong shape would be printed on a label no scanner of theirs accepts.
            raise self._bad_answer("tracking number not in the carrier's format")
        if body.get("request_id") != payload.get("request_id"):
            raise self._bad_answer("answer to another request")
        return WaybillAnswer(request_id=body["request_id"], **values)

    def request_intercept(self, tracking_number: str, reason: str) -> InterceptAnswer:
        body = self._post("/intercepts", {"tracking_number": tracking_number, "reason": reason})
        if not isinstance(body.get("accepted"), bool):
            raise self._bad_answer("intercept answer without accepted")
        return InterceptAnswer(accepted=body["accepted"], message=str(body.get("message") or ""),
                               reference=str(body.get("reference") or ""))

    def _post(self, path: str, payload: dict) -> dict:
        data = json.dumps(payload, cls=DjangoJSONEncoder, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.base_url + path, data=data, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                raw = response.read()
        except urllib.error.HTTPError as exc:
            error_body = _json_or_empty(exc.read())
            if 400 <= exc.code < 500:
                raise self._refused(exc.code, error_body) from exc
            raise self._unavailable(f"http_{exc.code}", may_have_arrived=True) from exc
        except urllib.error.URLError as exc:
            reason = exc.reason
            never_sent = isinstance(reason, (ConnectionRefusedError, socket.gaierror))
            raise self._unavailable(_reason_name(reason), may_have_arrived=not never_sent) from exc
        except (OSError, http.client.HTTPException) as exc:  # timeouts and drops while reading the answer
            raise self._unavailable(_reason_name(exc), may_have_arrived=True) from exc
        body = _json_or_empty(raw)
        if not body:
            raise self._bad_answer("answer is not a JSON object")
        return body

    # --- tracking webhook -----------------------------------------------------------------------

    def parse_tracking_event(self, raw: dict) -> TrackingEvent:
        errors = {}
        if not isinstance(raw, dict):
            raise TrackingEventInvalid(details={"_": [{"code": "invalid_format",
                                                       "message": _("Expected a JSON object.")}]})
        text = {}
        for name in ("carrier", "tracking_number", "event_id", "code", "occurred_at"):
            value = raw.get(name)
            if not isinstance(value, str) or not value.strip():
                errors[name] = [{"code": "required", "message": _("This field is required.")}]
            text[name] = value.strip() if isinstance(value, str) else ""
        if text["carrier"] and text["carrier"] != self.carrier.code:
            errors["carrier"] = [{"code": "invalid_choice", "message": _("The event is for another carrier.")}]
        if text["tracking_number"] and not re.fullmatch(self.carrier.tracking_number_pattern, text["tracking_number"]):
            errors["tracking_number"] = [{"code": "invalid_format", "message": _("Not in the expected format.")}]
        occurred_at = None
        if text["occurred_at"]:
            try:
                occurred_at = datetime.fromisoformat(text["occurred_at"])
            except ValueError:
                occurred_at = None
            if occurred_at is None or occurred_at.tzinfo is None:
                # Without an offset the time is a guess; carriers' own clocks are not all in Beijing time.
                errors["occurred_at"] = [{"code": "invalid_format",
                                          "message": _("Give an ISO 8601 time with its UTC offset.")}]
        if errors:
            raise TrackingEventInvalid(details=errors)
        return TrackingEvent(
            carrier=text["carrier"], tracking_number=text["tracking_number"], event_id=text["event_id"],
            code=text["code"], occurred_at=occurred_at, location=str(raw.get("location") or ""),
            description=str(raw.get("description") or ""),
            transition=transition_for(self.carrier.code, text["code"]),
        )

    # --- errors ---------------------------------------------------------------------------------

    def _unavailable(self, reason: str, *, may_have_arrived: bool) -> CarrierUnavailable:
        return CarrierUnavailable(
            _("%(carrier)s cannot be reached; try again shortly.") % {"carrier": self.carrier.name_zh},
            details={"carrier": self.carrier.code, "reason": reason}, may_have_arrived=may_have_arrived)

    def _bad_answer(self, what: str) -> CarrierUnavailable:
        return CarrierUnavailable(
            _("%(carrier)s gave an answer that cannot be used; try again shortly.") % {"carrier": self.carrier.name_zh},
            details={"carrier": self.carrier.code, "reason": "malformed_answer", "problem": what},
            may_have_arrived=True)

    def _refused(self, status: int, body: dict) -> CarrierRefused:
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        message = str(error.get("message") or "")
        return CarrierRefused(
            _("%(carrier)s refused the request: %(message)s") % {"carrier": self.carrier.name_zh,
                                                                 "message": message or status},
            details={"carrier": self.carrier.code, "status": status, "carrier_code": str(error.get("code") or ""),
                     "field": str(error.get("field") or ""), "carrier_message": message})


def _json_or_empty(raw: bytes) -> dict:
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}
    return body if isinstance(body, dict) else {}


def _reason_name(reason) -> str:
    if isinstance(reason, (TimeoutError, socket.timeout)):
        return "timeout"
    if isinstance(reason, ConnectionRefusedError):
        return "connection_refused"
    if isinstance(reason, socket.gaierror):
        return "unknown_host"
    return type(reason).__name__ if not isinstance(reason, str) else reason
