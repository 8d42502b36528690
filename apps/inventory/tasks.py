"""Scheduled jobs for stock (django-q2)."""
from .alerts import stock_alerts_refresh


def refresh_stock_alerts() -> dict:
    return stock_alerts_refresh()
