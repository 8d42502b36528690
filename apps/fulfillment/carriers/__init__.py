from ..errors import CarrierNotConfigured
from .base import CarrierAdapter, InterceptAnswer, TrackingEvent, WaybillAnswer
from .http import HttpCarrierAdapter

__all__ = ["CarrierAdapter", "HttpCarrierAdapter", "InterceptAnswer", "TrackingEvent", "WaybillAnswer",
           "adapter_for"]


def adapter_for(carrier) -> CarrierAdapter:
    """Every carrier speaks the documented JSON format over HTTP, either itself or through a gateway
    (in the demo and the tests: apps.fulfillment.fake_carrier); a carrier with its own protocol
    would get its own CarrierAdapter subclass here."""
    if not carrier.api_base_url:
        raise CarrierNotConfigured(details={"carrier": carrier.code})
    return HttpCarrierAdapter(carrier)
