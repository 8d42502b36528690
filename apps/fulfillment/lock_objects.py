"""Row locks for fulfillment. The project-wide lock order is written at the top of
apps/orders/lock_objects.py; fulfillment adds no kind of row to it.

Shipments, wave memberships, pick tasks and packages change only while their order is locked, so
they are never locked themselves: the order's lock is theirs. A wave locks all its orders in one
statement by ascending pk (apps.orders.lock_objects.lock_orders), which is what makes two clerks
building waves at the same moment queue instead of sharing an order. The wave row is never locked:
its state moves by conditional UPDATEs that any number of transactions may run.
"""
from apps.orders.lock_objects import lock_order

from .errors import PickTaskNotFound
from .models import PickTask


def lock_order_of_task(*, task_id: int, wave_id: int | None = None):
    """Lock the order a pick task belongs to and return (order, task), the task read after the
    lock so its numbers are current. A task never changes order, so the unlocked first read that
    finds the order is safe."""
    lookup = {"pk": task_id} if wave_id is None else {"pk": task_id, "wave_id": wave_id}
    order_id = PickTask.objects.filter(**lookup).values_list("order_id", flat=True).first()
    if order_id is None:
        raise PickTaskNotFound(details={"task_id": task_id})
    order = lock_order(order_id)
    task = PickTask.objects.select_related("sku", "batch", "reservation").get(pk=task_id)
    task.order = order  # the locked instance: what the caller changes, it changes on this one
    return order, task
