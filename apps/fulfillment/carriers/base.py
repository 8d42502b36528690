"""The one interface every carrier is spoken to through. Services call an adapter, never a
carrier's API directly, so a carrier we cannot reach from here is an adapter plus a fake that
speaks its documented format (docs/carriers.md)."""
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class WaybillAnswer:
    request_id: str
    tracking_number: str
    sort_code: str  # 三段码
    package_centre: str  # 集包地
    short_address: str  # 大头笔


@dataclass(frozen=True)
class InterceptAnswer:
    accepted: bool
    message: str
    reference: str


@dataclass(frozen=True)
class TrackingEvent:
    carrier: str
    tracking_number: str
    event_id: str
    code: str
    occurred_at: datetime
    location: str
    description: str
    # The order transition the event means (transit, out_for_delivery, deliver, refuse), or None
    # for scans that move nothing.
    transition: str | None


class CarrierAdapter(ABC):
    def __init__(self, carrier):
        self.carrier = carrier

    @abstractmethod
    def request_waybill(self, payload: dict) -> WaybillAnswer:
        """Ask for an e-waybill. `payload` is the validated e-waybill plus `request_id` and
        `order_ref`; the same request_id must give the same answer. Raises CarrierRefused when the
        carrier says no, CarrierUnavailable when it cannot be reached or answers nonsense."""

    @abstractmethod
    def request_intercept(self, tracking_number: str, reason: str) -> InterceptAnswer:
        """Ask the carrier to stop a parcel. A refusal is an answer (accepted=False), not an error."""

    @abstractmethod
    def parse_tracking_event(self, raw: dict) -> TrackingEvent:
        """Turn a tracking webhook body into a TrackingEvent; TrackingEventInvalid if malformed."""
