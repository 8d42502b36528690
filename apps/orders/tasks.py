"""Scheduled jobs for orders (django-q2). Each is idempotent and safe to run twice or concurrently."""
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext

from .errors import TransitionNotAllowed
from .models import Order, OrderHold, OrderStatus
from .services import order_audit, order_transition


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


def audit_order(order_id: int) -> bool:
    return order_audit(order_id=order_id).passed


def audit_new_order(shop_id: int, external_id: str) -> bool:
    """Review an order intake created: queued by shop and order number, so that the job can be
    written in the same statement as the order, before the order has an id."""
    order_id = Order.objects.filter(shop_id=shop_id, external_id=external_id).values_list("pk", flat=True).first()
    return order_id is not None and audit_order(order_id)


def audit_orders(order_ids: list[int]) -> int:
    """Review a batch of orders created together (a legacy import); each in its own transaction."""
    return sum(order_audit(order_id=order_id).passed for order_id in order_ids)


def audit_waiting_orders(limit: int = 500) -> int:
    """Safety net for a lost audit task: review paid orders waiting without an open hold."""
    open_hold = OrderHold.objects.filter(order=OuterRef("pk"), released_at__isnull=True)
    waiting = (Order.objects.filter(status=OrderStatus.PENDING_REVIEW).exclude(Exists(open_hold))
               .order_by("status_changed_at").values_list("pk", flat=True)[:limit])
    return sum(order_audit(order_id=order_id).passed for order_id in waiting)
