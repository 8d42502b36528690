"""Scheduled jobs for orders (django-q2). Each is idempotent and safe to run twice or concurrently."""
from django.utils import timezone
from django.utils.translation import gettext

from .errors import TransitionNotAllowed
from .models import Order, OrderStatus
from .services import order_transition


def expire_unpaid_orders(limit: int = 1000) -> int:
    """Orders still unpaid after their shop's payment window release their stock and expire.

    The transition locks each order and checks its status again, so an order paid a moment
    before (or already expired by a concurrent run) is left exactly as it is.
    """
    due = list(Order.objects.filter(status=OrderStatus.PENDING_PAYMENT, payment_due_at__lte=timezone.now())
               .order_by("payment_due_at").values_list("pk", flat=True)[:limit])
    expired = 0
    for order_id in due:
        try:
            order_transition(order_id=order_id, name="expire", actor=None, reason=gettext("Payment window lapsed"))
            expired += 1
        except TransitionNotAllowed:
            continue
    return expired
