"""Scheduled jobs for fulfillment (django-q2). Each is idempotent and safe to run twice or concurrently."""
from .services import tracking_flag_stalled


def flag_stalled_shipments(limit: int = 1000) -> int:
    """Every 30 minutes: a `stalled_in_transit` hold on parcels without a carrier scan for 48 hours."""
    return tracking_flag_stalled(limit=limit)
