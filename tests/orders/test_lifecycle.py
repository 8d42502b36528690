"""The 17-state order lifecycle of DESIGN.md, driven through the transition service."""
from decimal import Decimal

import pytest

from apps.orders import services
from apps.orders.errors import (
    HoldAlreadyOpen,
    HoldNotOpen,
    InvalidPayment,
    OrderOnHold,
    TransitionForbidden,
    TransitionNotAllowed,
    UnknownTransition,
)
from apps.orders.models import Order, OrderEvent, OrderHold, OrderStatus, PaymentStatus
from tests.factories import OrderFactory, make_user, reserve_fully

pytestmark = pytest.mark.django_db

# The graph as DESIGN.md states it (written out, not read from the model, so the test can fail).
EXPECTED_GRAPH = {
    ("pay", "pending_payment"): "pending_review",
    ("confirm", "pending_payment"): "pending_review",
    ("expire", "pending_payment"): "expired",
    ("pass_review", "pending_review"): "ready",
    ("require_approval", "pending_review"): "pending_approval",
    ("approve", "pending_approval"): "ready",
    ("reject", "pending_approval"): "cancelled",
    ("start_picking", "ready"): "picking",
    ("return_to_ready", "picking"): "ready",
    ("finish_picking", "picking"): "picked",
    ("pack", "picked"): "packed",
    ("ship", "packed"): "shipped",
    ("transit", "shipped"): "in_transit",
    ("out_for_delivery", "in_transit"): "out_for_delivery",
    ("deliver", "in_transit"): "delivered",
    ("deliver", "out_for_delivery"): "delivered",
    ("refuse", "in_transit"): "refused",
    ("refuse", "out_for_delivery"): "refused",
    ("complete", "delivered"): "completed",
    ("request_intercept", "shipped"): "intercepting",
    ("request_intercept", "in_transit"): "intercepting",
    ("request_intercept", "out_for_delivery"): "intercepting",
    ("intercept_succeeded", "intercepting"): "intercepted",
    **{("cancel", s): "cancelled" for s in
       ["pending_payment", "pending_review", "pending_approval", "ready", "picking", "picked", "packed"]},
}
TRANSITIONS = sorted({name for name, _source in EXPECTED_GRAPH} | {"intercept_failed"})
ALL_STATES = [s.value for s in OrderStatus]


def test_there_are_seventeen_states():
    assert len(ALL_STATES) == 17


@pytest.mark.parametrize(("name", "source"), sorted(EXPECTED_GRAPH))
def test_allowed_transition_moves_status_and_writes_event(name, source):
    actor = make_user(superuser=True, username="root")
    order = OrderFactory(status=source)
    if name == "ship":
        reserve_fully(order)  # shipping issues reserved stock

    services.order_transition(order_id=order.pk, name=name, actor=actor, reason="test")

    order.refresh_from_db()
    assert order.status == EXPECTED_GRAPH[(name, source)]
    event = order.events.get()
    assert (event.type, event.name, event.from_status, event.to_status) == (
        OrderEvent.Type.TRANSITION, name, source, order.status)
    assert event.actor == actor and event.actor_label == "root"
    assert event.payload["reason"] == "test"


FORBIDDEN = [(name, state) for name in TRANSITIONS for state in ALL_STATES
             if (name, state) not in EXPECTED_GRAPH and not (name == "intercept_failed" and state == "intercepting")]


@pytest.mark.parametrize(("name", "source"), FORBIDDEN)
def test_forbidden_transition_is_coded_and_changes_nothing(name, source):
    order = OrderFactory(status=source)
    before = Order.objects.values().get(pk=order.pk)

    with pytest.raises(TransitionNotAllowed) as caught:
        services.order_transition(order_id=order.pk, name=name, actor=None)

    assert caught.value.code == "transition_not_allowed"
    assert caught.value.details["status"] == source
    assert Order.objects.values().get(pk=order.pk) == before
    assert not order.events.exists()


@pytest.mark.parametrize("state", ["shipped", "in_transit", "out_for_delivery", "delivered", "completed"])
def test_cancel_is_refused_once_shipped(state):
    order = OrderFactory(status=state)
    with pytest.raises(TransitionNotAllowed):
        services.order_transition(order_id=order.pk, name="cancel", actor=None)


@pytest.mark.parametrize("origin", ["shipped", "in_transit", "out_for_delivery"])
def test_failed_intercept_returns_to_the_state_it_came_from(origin):
    order = OrderFactory(status=origin)
    services.order_transition(order_id=order.pk, name="request_intercept", actor=None)
    services.order_transition(order_id=order.pk, name="intercept_failed", actor=None, reason="已派送")

    order.refresh_from_db()
    assert order.status == origin and order.status_before_intercept == ""
    assert list(order.events.values_list("from_status", "to_status")) == [
        (origin, "intercepting"), ("intercepting", origin)]


def test_unknown_transition_is_a_coded_error():
    order = OrderFactory(status="ready")
    with pytest.raises(UnknownTransition):
        services.order_transition(order_id=order.pk, name="teleport", actor=None)
    assert Order.objects.get(pk=order.pk).status == "ready"


def test_role_without_the_transition_permission_is_refused():
    order = OrderFactory(status="pending_review")
    agent = make_user("cs_agent", shops=[order.shop])

    with pytest.raises(TransitionForbidden):
        services.order_transition(order_id=order.pk, name="pass_review", actor=agent)

    assert Order.objects.get(pk=order.pk).status == "pending_review"
    assert not OrderEvent.objects.exists()


def test_role_with_the_permission_may_transition():
    order = OrderFactory(status="pending_approval")
    manager = make_user("manager", shops=[order.shop])
    services.order_transition(order_id=order.pk, name="approve", actor=manager)
    assert Order.objects.get(pk=order.pk).status == "ready"


# --- holds --------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "source"), [
    ("pass_review", "pending_review"), ("require_approval", "pending_review"), ("approve", "pending_approval"),
    ("start_picking", "ready"), ("finish_picking", "picking"), ("pack", "picked"), ("ship", "packed"),
])
def test_open_hold_blocks_forward_transitions_until_released(name, source):
    order = OrderFactory(status=source)
    if name == "ship":
        reserve_fully(order)
    hold = services.order_hold_open(order_id=order.pk, type="out_of_stock", reason="缺货 3 件", actor=None,
                                    owner_role="warehouse_lead", is_automatic=True)

    with pytest.raises(OrderOnHold) as caught:
        services.order_transition(order_id=order.pk, name=name, actor=None)
    assert caught.value.details["holds"][0]["id"] == hold.pk
    assert Order.objects.get(pk=order.pk).status == source

    lead = make_user("warehouse_lead")
    services.order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=lead, resolution="补货到仓")
    services.order_transition(order_id=order.pk, name=name, actor=None)
    assert Order.objects.get(pk=order.pk).status == EXPECTED_GRAPH[(name, source)]

    hold.refresh_from_db()
    assert hold.released_by == lead and hold.resolution == "补货到仓" and hold.released_at >= hold.opened_at
    assert list(order.events.values_list("type", flat=True)) == ["hold_opened", "hold_released", "transition"]


@pytest.mark.parametrize("state", ["pending_payment", "pending_review", "ready", "packed"])
def test_hold_does_not_block_cancel(state):
    order = OrderFactory(status=state)
    services.order_hold_open(order_id=order.pk, type="manual", reason="买家要求暂缓", actor=None)
    services.order_transition(order_id=order.pk, name="cancel", actor=None)
    assert Order.objects.get(pk=order.pk).status == "cancelled"


def test_a_second_open_hold_of_the_same_type_is_refused():
    order = OrderFactory(status="pending_review")
    services.order_hold_open(order_id=order.pk, type="blacklisted", reason="黑名单", actor=None)
    with pytest.raises(HoldAlreadyOpen):
        services.order_hold_open(order_id=order.pk, type="blacklisted", reason="again", actor=None)
    assert OrderHold.objects.count() == 1


def test_a_released_hold_cannot_be_released_again():
    order = OrderFactory(status="pending_review")
    hold = services.order_hold_open(order_id=order.pk, type="manual", reason="x", actor=None)
    services.order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=None, resolution="ok")
    with pytest.raises(HoldNotOpen):
        services.order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=None, resolution="again")
    assert OrderHold.objects.get(pk=hold.pk).resolution == "ok"


def test_force_pass_is_recorded_as_an_intervention():
    order = OrderFactory(status="pending_review")
    hold = services.order_hold_open(order_id=order.pk, type="price_mismatch", reason="价差 12%", actor=None)
    services.order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=None, resolution="强制通过",
                                is_intervention=True)
    assert order.events.get(type="hold_released").is_intervention is True


def test_agent_cannot_release_holds():
    order = OrderFactory(status="pending_review")
    hold = services.order_hold_open(order_id=order.pk, type="manual", reason="x", actor=None)
    with pytest.raises(TransitionForbidden):
        services.order_hold_release(order_id=order.pk, hold_id=hold.pk, actor=make_user("cs_agent"),
                                    resolution="no")
    assert OrderHold.objects.get(pk=hold.pk).is_open


# --- payment ------------------------------------------------------------------------------------

def test_full_payment_marks_paid_and_moves_to_review():
    order = OrderFactory()
    services.order_pay(order_id=order.pk, actor=None)
    order.refresh_from_db()
    assert (order.status, order.payment_status, order.paid_amount) == (
        "pending_review", PaymentStatus.PAID, Decimal("64.70"))
    assert order.paid_at is not None


def test_deposit_marks_deposit_paid():
    order = OrderFactory()
    services.order_pay(order_id=order.pk, actor=None, amount=Decimal("20.00"))
    order.refresh_from_db()
    assert (order.payment_status, order.paid_amount) == (PaymentStatus.DEPOSIT_PAID, Decimal("20.00"))


@pytest.mark.parametrize("amount", [Decimal("0.00"), Decimal("64.71")])
def test_payment_outside_the_amount_payable_is_refused(amount):
    order = OrderFactory()
    with pytest.raises(InvalidPayment):
        services.order_pay(order_id=order.pk, actor=None, amount=amount)
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("pending_payment", PaymentStatus.UNPAID)


def test_confirm_for_cash_on_delivery_leaves_it_unpaid():
    order = OrderFactory()
    services.order_transition(order_id=order.pk, name="confirm", actor=None)
    order.refresh_from_db()
    assert (order.status, order.payment_status) == ("pending_review", PaymentStatus.UNPAID)
