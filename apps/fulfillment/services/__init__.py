"""Every write of fulfillment, one module per step of the clerk's day: waves, picking, packing,
shipments (e-waybill, its cancellation, shipping). Import from here."""
from .packing import order_pack
from .picking import ScanResult, pick_scan, pick_short
from .shipments import order_ship, shipment_cancel, shipment_request_waybill
from .waves import WaveResult, wave_create, wave_release_order

__all__ = ["ScanResult", "WaveResult", "order_pack", "order_ship", "pick_scan", "pick_short", "shipment_cancel",
           "shipment_request_waybill", "wave_create", "wave_release_order"]
