"""Races only a real PostgreSQL shows: clerks building waves at the same instant, and two scanners
confirming the last unit of one task."""
import pytest

from apps.fulfillment import services
from apps.fulfillment.errors import OverPick, WaveEmpty
from apps.fulfillment.models import PickTask, ScanLog, WaveOrder
from apps.fulfillment.services import WaveResult
from apps.inventory.services import ledger_matches_levels
from apps.orders.models import Order
from tests.factories import make_user
from tests.fulfillment.test_waves import Floor
from tests.orders.test_concurrency_pg import run_together

# serialized_rollback: the roles and carriers are migration data, which a flush would take away.
pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True, serialized_rollback=True)]


@pytest.mark.parametrize("clerks, size_limit", [(2, None), (3, 4)])
def test_waves_built_at_the_same_instant_never_share_an_order(clerks, size_limit):
    floor = Floor()
    orders = [floor.order({floor.litter: 1, floor.food: 1}, hours_left=5 + i) for i in range(8)]
    actors = [floor.clerk] + [make_user("warehouse_clerk", warehouses=[floor.warehouse]) for _ in range(clerks - 1)]

    results = run_together(clerks, lambda i: services.wave_create(warehouse_id=floor.warehouse.pk, actor=actors[i],
                                                                   size_limit=size_limit))

    assert all(isinstance(r, (WaveResult, WaveEmpty)) for r in results), results
    built = [r for r in results if isinstance(r, WaveResult)]
    assert built
    members = [list(r.wave.memberships.values_list("order_id", flat=True)) for r in built]
    taken = [order_id for wave_members in members for order_id in wave_members]
    assert len(taken) == len(set(taken))  # no order in two waves
    assert WaveOrder.objects.filter(left_at__isnull=True).count() == len(taken)
    picking = set(Order.objects.filter(status="picking").values_list("pk", flat=True))
    assert picking == set(taken) and picking <= {o.pk for o in orders}
    # Every taken order got its tasks exactly once, in its own wave.
    for result, wave_members in zip(built, members):
        assert set(PickTask.objects.filter(wave=result.wave).values_list("order_id", flat=True)) == set(wave_members)
    assert PickTask.objects.count() == 2 * len(taken)
    # A loser's skipped orders are the ones another wave took; nothing else was refused.
    for result in built:
        assert {s["reason"] for s in result.skipped} <= {"status_changed"}


def test_two_scanners_on_the_last_unit_confirm_it_once():
    floor = Floor()
    order = floor.order({floor.litter: 1})
    wave = floor.wave().wave
    task = PickTask.objects.get(wave=wave)
    second_clerk = make_user("warehouse_clerk", warehouses=[floor.warehouse])
    actors = [floor.clerk, second_clerk]

    results = run_together(2, lambda i: services.pick_scan(wave_id=wave.pk, barcode=floor.litter.barcode,
                                                           task_id=task.pk, actor=actors[i]))

    assert sorted(type(r).__name__ for r in results) == ["OverPick", "ScanResult"], results
    assert PickTask.objects.get(pk=task.pk).picked_quantity == 1
    assert Order.objects.get(pk=order.pk).status == "picked"
    assert order.events.filter(name="finish_picking").count() == 1
    assert sorted(ScanLog.objects.values_list("outcome", flat=True)) == ["ok", "over_pick"]
    assert isinstance(next(r for r in results if not hasattr(r, "task")), OverPick)
    assert ledger_matches_levels() == []
