"""Fulfillment data: carriers and e-waybills (carriers.py), waves and scan-confirmed picking
(picking.py), packages (packing.py). Everything is importable from apps.fulfillment.models."""
from .carriers import Carrier, SenderProfile, Shipment, ShopCarrier
from .packing import MAX_SIDE_MM, MAX_WEIGHT_GRAMS, Package
from .picking import PickTask, ScanLog, Wave, WaveOrder
from .tracking import TrackingEvent

__all__ = ["Carrier", "SenderProfile", "Shipment", "ShopCarrier", "Package", "MAX_SIDE_MM", "MAX_WEIGHT_GRAMS",
           "PickTask", "ScanLog", "TrackingEvent", "Wave", "WaveOrder"]
