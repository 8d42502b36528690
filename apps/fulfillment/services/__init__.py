"""Every write of fulfillment, one module per step of the clerk's day: waves, picking, packing,
shipments (e-waybill, its cancellation, shipping), tracking, intercepts. Import from here."""
from .intercepts import order_request_intercept
from .packing import order_pack
from .picking import ScanResult, pick_scan, pick_short
from .shipments import order_ship, shipment_cancel, shipment_request_waybill, shipments_mark_label_printed
from .tracking import TrackingResult, order_flag_stalled, tracking_flag_stalled, tracking_ingest
from .waves import WaveResult, wave_create, wave_release_order

__all__ = ["ScanResult", "TrackingResult", "WaveResult", "order_flag_stalled", "order_pack", "order_request_intercept",
           "order_ship", "pick_scan", "pick_short", "shipment_cancel", "shipment_request_waybill",
           "shipments_mark_label_printed",
           "tracking_flag_stalled", "tracking_ingest", "wave_create", "wave_release_order"]
