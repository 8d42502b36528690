from decimal import Decimal

import pytest

from apps.inventory.models import StockLevel, StockMove
from apps.inventory.services import ledger_matches_levels
from apps.orders.models import OrderEvent
from apps.returns import services
from apps.returns.models import ReasonNode, ReturnEvent, ReturnLine, ReturnPhoto, ReturnRequest
from apps.returns.reasons import load_reason_tree, read_reason_tree
from apps.core.errors import DomainError
from tests.factories import OrderFactory

from .conftest import photo

pytestmark = pytest.mark.django_db


def create(order, people, *, kind="return_and_refund", lines=None, reason="product.functional_fault", text="",
           photos=()):
    lines = lines or [{"order_line_id": line.pk, "quantity": line.quantity} for line in order.lines.all()]
    return services.return_create(order_id=order.pk, kind=kind, lines=lines, reason_code=reason, reason_text=text,
                                  photos=photos, actor=people["agent"])


def nothing_written():
    return (ReturnRequest.objects.count(), ReturnLine.objects.count(), ReturnPhoto.objects.count(),
            ReturnEvent.objects.count()) == (0, 0, 0, 0)


def level(sku, bucket="sellable"):
    return StockLevel.objects.get(sku=sku, bucket=bucket)


# --- reason tree --------------------------------------------------------------------------------

def test_reason_tree_is_loaded_idempotently_and_only_leaves_are_leaves():
    count = ReasonNode.objects.count()
    assert count == len(read_reason_tree()) == 4 + 3 + 1 + 5 + 1 + 3 + 1 + 1 + 1
    assert load_reason_tree(ReasonNode) == count
    assert ReasonNode.objects.count() == count
    others = ReasonNode.objects.filter(code__endswith=".other")
    assert others.count() == 4 and all(o.requires_text and o.level == 2 for o in others)
    assert set(ReasonNode.objects.filter(level=1).values_list("code", flat=True)) == {
        "product", "logistics", "installation", "buyer"}


def test_reason_tree_file_is_checked(tmp_path):
    bad = tmp_path / "reasons.json"
    bad.write_text('{"nodes": [{"code": "x", "name_zh": "x", "name_en": "x", "children": ['
                   '{"code": "x.other", "name_zh": "o", "name_en": "o"}]}]}')
    with pytest.raises(ValueError, match="other"):
        read_reason_tree(bad)


# --- kinds end to end ---------------------------------------------------------------------------

def test_return_and_refund_end_to_end(ship_order, tracked_sku, sku, people):
    order = ship_order({tracked_sku: (3, Decimal("10.00")), sku: (2, Decimal("50.00"))}, lot="L1")
    first, second = order.lines.order_by("line_no")
    request = create(order, people, photos=[photo()],
                     lines=[{"order_line_id": first.pk, "quantity": 2}, {"order_line_id": second.pk, "quantity": 2}])
    assert request.photos.count() == 1
    services.return_approve(return_id=request.pk, actor=people["lead"])
    services.return_await(return_id=request.pk, actor=people["agent"], tracking_no="SF123")
    services.return_receive(return_id=request.pk, actor=people["clerk"])
    lines = {line.order_line_id: line for line in request.lines.all()}
    services.return_inspect(return_id=request.pk, actor=people["clerk"], outcomes=[
        {"return_line_id": lines[first.pk].pk, "outcome": "good"},
        {"return_line_id": lines[second.pk].pk, "outcome": "damaged"}])
    assert level(tracked_sku).on_hand == 50 - 3 + 2
    assert level(tracked_sku).batch.lot_number == "L1"
    assert level(sku, "quarantine").on_hand == 2
    assert StockMove.objects.filter(type="return_in").count() == 2
    services.return_refund(return_id=request.pk, actor=people["lead"])
    request.refresh_from_db()
    # 10.00 / 3 × 2 = 6.67; 50.00 / 2 × 2 = 50.00
    assert request.refund_amount == Decimal("56.67")
    services.return_close(return_id=request.pk, actor=people["lead"])
    request.refresh_from_db()
    assert request.state == "closed"
    assert list(request.events.values_list("name", flat=True)) == [
        "create", "approve", "await_return", "receive", "inspect", "refund", "close"]
    assert request.events.exclude(actor=None).count() == 7
    assert OrderEvent.objects.filter(order=order, name__in=["return_requested", "return_refunded"]).count() == 2
    assert ledger_matches_levels() == []


def test_refund_only_skips_the_goods_and_refunds_are_exact_to_the_cent(ship_order, sku, people):
    order = ship_order({sku: (3, Decimal("10.00"))})
    line = order.lines.get()
    amounts = []
    for _ in range(3):
        request = create(order, people, kind="refund_only", lines=[{"order_line_id": line.pk, "quantity": 1}],
                         reason="logistics.late")
        services.return_approve(return_id=request.pk, actor=people["lead"])
        with pytest.raises(DomainError) as refused:
            services.return_receive(return_id=request.pk, actor=people["clerk"])
        assert refused.value.code == "return_transition_not_allowed"
        services.return_refund(return_id=request.pk, actor=people["lead"])
        services.return_close(return_id=request.pk, actor=people["lead"])
        request.refresh_from_db()
        amounts.append(request.refund_amount)
    assert amounts == [Decimal("3.33"), Decimal("3.34"), Decimal("3.33")]
    assert sum(amounts) == Decimal("10.00") == order.paid_amount
    assert StockMove.objects.filter(type="return_in").count() == 0
    assert ledger_matches_levels() == []


def test_refunds_never_exceed_what_was_paid(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("40.00"))})
    type(order).objects.filter(pk=order.pk).update(paid_amount=Decimal("30.00"), discount_total=Decimal("10.00"),
                                                   grand_total=Decimal("30.00"))
    request = create(order, people, kind="refund_only")
    services.return_approve(return_id=request.pk, actor=people["lead"])
    services.return_refund(return_id=request.pk, actor=people["lead"])
    request.refresh_from_db()
    assert request.refund_amount == Decimal("30.00")


def test_exchange_inspects_then_creates_a_linked_paid_order(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("39.80"))})
    request = create(order, people, kind="exchange", lines=[{"order_line_id": order.lines.get().pk, "quantity": 1}],
                     reason="installation.does_not_fit")
    services.return_approve(return_id=request.pk, actor=people["lead"])
    services.return_await(return_id=request.pk, actor=people["agent"])
    services.return_receive(return_id=request.pk, actor=people["clerk"])
    services.return_inspect(return_id=request.pk, actor=people["clerk"],
                            outcomes=[{"return_line_id": request.lines.get().pk, "outcome": "scrap"}])
    assert list(StockMove.objects.filter(type__in=["return_in", "scrap"]).values_list("type", "on_hand_delta")) == [
        ("return_in", 1), ("scrap", -1)]
    services.return_exchange(return_id=request.pk, actor=people["lead"])
    request.refresh_from_db()
    linked = request.linked_order
    assert request.state == "exchanged" and linked.external_id.endswith("-EX1")
    assert linked.grand_total == Decimal("19.90") == linked.paid_amount
    assert linked.status == "pending_review" and linked.lines.get().quantity == 1
    assert level(sku).reserved == 1  # the replacement is reserved like any intake
    services.return_close(return_id=request.pk, actor=people["lead"])
    assert ledger_matches_levels() == []


def test_reship_creates_a_linked_zero_price_order_without_goods_back(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("20.00"))})
    request = create(order, people, kind="reship", reason="logistics.missing_item",
                     lines=[{"order_line_id": order.lines.get().pk, "quantity": 1}])
    services.return_approve(return_id=request.pk, actor=people["lead"])
    services.return_reship(return_id=request.pk, actor=people["lead"])
    request.refresh_from_db()
    linked = request.linked_order
    assert (linked.grand_total, linked.status, linked.payment_due_at) == (Decimal("0.00"), "pending_review", None)
    services.return_close(return_id=request.pk, actor=people["lead"])
    request.refresh_from_db()
    assert request.state == "closed" and request.refund_amount == 0
    assert ledger_matches_levels() == []


def test_reject_needs_a_reason_and_frees_the_lines(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("20.00"))})
    request = create(order, people)
    with pytest.raises(DomainError) as refused:
        services.return_reject(return_id=request.pk, actor=people["lead"], reason=" ")
    assert refused.value.code == "rejection_reason_required"
    services.return_reject(return_id=request.pk, actor=people["lead"], reason="超过七天")
    assert create(order, people).state == "requested"  # rejected requests neither block nor count


def test_roles_are_checked(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("20.00"))})
    with pytest.raises(DomainError) as refused:
        create(order, {"agent": people["clerk"]})
    assert refused.value.code == "return_forbidden"
    request = create(order, people)
    with pytest.raises(DomainError) as refused:
        services.return_approve(return_id=request.pk, actor=people["agent"])
    assert refused.value.code == "return_forbidden"


# --- bad input: coded, nothing written ------------------------------------------------------------

@pytest.mark.parametrize("status", ["ready", "packed", "cancelled", "intercepting"])
def test_an_unshipped_order_cannot_be_returned(people, status):
    order = OrderFactory(status=status)
    with pytest.raises(DomainError) as refused:
        create(order, people)
    assert refused.value.code == "order_not_shipped"
    assert nothing_written()


def test_more_than_shipped_minus_returned_is_refused_per_line(ship_order, sku, people):
    order = ship_order({sku: (3, Decimal("30.00"))})
    line = order.lines.get()
    with pytest.raises(DomainError) as refused:
        create(order, people, lines=[{"order_line_id": line.pk, "quantity": 4}])
    assert refused.value.code == "return_quantity_exceeded"
    assert refused.value.details["lines"][0] | {} == {
        "order_line_id": line.pk, "line_no": 1, "sku": sku.code, "requested": 4, "shipped": 3,
        "already_returned": 0, "returnable": 3}
    assert nothing_written()
    first = create(order, people, kind="refund_only", lines=[{"order_line_id": line.pk, "quantity": 2}])
    services.return_reject(return_id=first.pk, actor=people["lead"], reason="no")
    kept = create(order, people, kind="refund_only", lines=[{"order_line_id": line.pk, "quantity": 2}])
    services.return_approve(return_id=kept.pk, actor=people["lead"])
    services.return_refund(return_id=kept.pk, actor=people["lead"])
    services.return_close(return_id=kept.pk, actor=people["lead"])
    count = ReturnRequest.objects.count()
    with pytest.raises(DomainError) as refused:
        create(order, people, lines=[{"order_line_id": line.pk, "quantity": 2}])
    assert refused.value.code == "return_quantity_exceeded"
    assert refused.value.details["lines"][0]["already_returned"] == 2
    assert ReturnRequest.objects.count() == count


def test_a_second_open_request_for_the_same_lines_is_refused(ship_order, sku, people):
    order = ship_order({sku: (3, Decimal("30.00"))})
    line = order.lines.get()
    first = create(order, people, lines=[{"order_line_id": line.pk, "quantity": 1}])
    counts = (ReturnRequest.objects.count(), ReturnLine.objects.count(), ReturnEvent.objects.count())
    with pytest.raises(DomainError) as refused:
        create(order, people, lines=[{"order_line_id": line.pk, "quantity": 1}])
    assert refused.value.code == "return_already_open"
    assert refused.value.details["lines"][0]["return_ids"] == [first.pk]
    assert (ReturnRequest.objects.count(), ReturnLine.objects.count(), ReturnEvent.objects.count()) == counts


@pytest.mark.parametrize("reason, text, code", [
    ("product", "", "reason_not_leaf"),
    ("nonexistent", "", "reason_not_leaf"),
    ("product.other", "", "reason_text_required"),
    ("product.other", "   ", "reason_text_required"),
])
def test_reason_must_be_an_active_leaf_and_other_needs_text(ship_order, sku, people, reason, text, code):
    order = ship_order({sku: (1, Decimal("10.00"))})
    with pytest.raises(DomainError) as refused:
        create(order, people, reason=reason, text=text)
    assert refused.value.code == code
    assert nothing_written()


def test_an_inactive_reason_is_refused_and_other_with_text_is_accepted(ship_order, sku, people):
    order = ship_order({sku: (1, Decimal("10.00"))})
    ReasonNode.objects.filter(code="buyer.changed_mind").update(is_active=False)
    with pytest.raises(DomainError) as refused:
        create(order, people, reason="buyer.changed_mind")
    assert refused.value.code == "reason_not_leaf"
    assert create(order, people, reason="buyer.other", text="送人不合适").reason.code == "buyer.other"


@pytest.mark.parametrize("photos, code", [
    ([photo(name="x.png", content=b"not an image at all")], "photo_not_image"),
    ([photo(name="x.jpg", content=b"\xff\xd8\xff" + b"0" * 100)], "photo_not_image"),  # magic bytes alone
    ([photo(content=b"\x89PNG\r\n\x1a\n" + b"0" * (5 * 1024 * 1024))], "photo_too_large"),
    ([photo() for _ in range(7)], "too_many_photos"),
])
def test_bad_photos_are_refused_and_nothing_is_written(ship_order, sku, people, photos, code, settings):
    order = ship_order({sku: (1, Decimal("10.00"))})
    with pytest.raises(DomainError) as refused:
        create(order, people, photos=photos)
    assert refused.value.code == code
    assert nothing_written()
    media = settings.MEDIA_ROOT
    assert not media.exists() or not any(media.rglob("*.*"))


def test_bad_lines_are_refused(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("10.00"))})
    other = OrderFactory(status="delivered")
    for lines in ([], [{"order_line_id": order.lines.get().pk, "quantity": 0}],
                  [{"order_line_id": other.lines.get().pk, "quantity": 1}]):
        with pytest.raises(DomainError) as refused:
            create(order, people, lines=lines or [{"x": 1}])
        assert refused.value.code == "return_lines_invalid"
    assert nothing_written()


def test_inspection_must_judge_every_line(ship_order, sku, people):
    order = ship_order({sku: (2, Decimal("10.00"))})
    request = create(order, people)
    services.return_approve(return_id=request.pk, actor=people["lead"])
    services.return_await(return_id=request.pk, actor=people["agent"])
    services.return_receive(return_id=request.pk, actor=people["clerk"])
    for outcomes in ([], [{"return_line_id": request.lines.get().pk, "outcome": "shiny"}]):
        with pytest.raises(DomainError) as refused:
            services.return_inspect(return_id=request.pk, actor=people["clerk"], outcomes=outcomes)
        assert refused.value.code == "inspection_invalid"
    assert StockMove.objects.filter(type="return_in").count() == 0
