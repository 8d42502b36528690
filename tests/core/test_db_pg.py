"""apps.core.db on PostgreSQL: insert_instances writes what bulk_create would; InsertTogether writes
rows that point at each other in one statement; run_together sends statements in one round trip."""
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.core.db import InsertTogether, Statement, insert_instances, prepared_rows, run_together
from apps.customers.models import Customer
from apps.orders.models import Order, OrderEvent, OrderLine
from tests.factories import CustomerFactory, OrderFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def events(order):
    return [OrderEvent(order=order, type=OrderEvent.Type.NOTE, name=f"note-{index}", actor_label="system",
                       payload={"index": index, "text": "备注"}, created_at=timezone.now()) for index in range(3)]


def stored(pks):
    return [{key: value for key, value in model_to_dict(event).items() if key not in ("id", "created_at")}
            for event in OrderEvent.objects.filter(pk__in=pks).order_by("pk")]


def test_rows_and_pks_are_those_bulk_create_gives():
    order = OrderFactory(with_line=False)
    ours, theirs = events(order), events(order)
    insert_instances(ours)
    OrderEvent.objects.bulk_create(theirs)

    assert all(event.pk and not event._state.adding for event in ours)
    assert [event.name for event in OrderEvent.objects.filter(pk__in=[e.pk for e in ours]).order_by("pk")] == [
        "note-0", "note-1", "note-2"]  # each pk belongs to its own instance
    assert stored([e.pk for e in ours]) == stored([e.pk for e in theirs])


def test_upsert_keeps_the_existing_row_and_returns_its_pk():
    existing = CustomerFactory(code="douyin:buyer-1", name="老客户")
    again = Customer(code="douyin:buyer-1", name="新名字", kind=Customer.Kind.B2C)
    fresh = Customer(code="douyin:buyer-2", name="新客户", kind=Customer.Kind.B2C)
    for customer in (again, fresh):
        rows = InsertTogether([([customer], "code")])
        rows.assign(prepared_rows(rows.statement.sql, rows.statement.params))

    assert again.pk == existing.pk
    assert Customer.objects.get(pk=existing.pk).name == "老客户"
    assert Customer.objects.get(pk=fresh.pk).name == "新客户"


def test_an_unsaved_related_object_is_refused_as_bulk_create_refuses_it():
    order = OrderFactory.build(with_line=False)
    with pytest.raises(ValueError):
        insert_instances(events(order))
    assert not OrderEvent.objects.exists()


def new_order_family(order):
    """An unsaved copy of `order` (its own number), with two lines and an event pointing at it."""
    twin = Order(**{f.attname: getattr(order, f.attname) for f in Order._meta.concrete_fields if not f.primary_key})
    twin.external_id = order.external_id + "-twin"
    sku = order.lines.get().sku
    lines = [OrderLine(order=twin, line_no=no, sku=sku, name="猫粮", quantity=no, unit_price=Decimal("9.90"),
                       discount=Decimal("0"), line_total=Decimal("9.90") * no) for no in (1, 2)]
    event = OrderEvent(order=twin, type=OrderEvent.Type.CREATED, to_status=twin.status, actor_label="system",
                       payload={}, created_at=timezone.now())
    return twin, lines, [event]


def test_insert_together_writes_a_family_in_one_statement_and_links_it():
    buyer = Customer(code="douyin:buyer-9", name="新买家", kind=Customer.Kind.B2C)
    twin, lines, events = new_order_family(OrderFactory())
    twin.customer = buyer
    rows = InsertTogether([([buyer], "code"), ([twin], None), (lines, None), (events, None)])
    with CaptureQueriesContext(connection) as queries:
        rows.assign(prepared_rows(rows.statement.sql, rows.statement.params))

    assert len(queries) == 1
    assert Customer.objects.get(pk=buyer.pk).code == "douyin:buyer-9"
    stored_order = Order.objects.get(pk=twin.pk)
    assert (stored_order.customer_id, twin.customer_id) == (buyer.pk, buyer.pk)
    assert [(line.pk, line.line_no, line.quantity) for line in stored_order.lines.order_by("line_no")] == [
        (lines[0].pk, 1, 1), (lines[1].pk, 2, 2)]  # each pk set on its own instance
    assert [line.order_id for line in lines] == [twin.pk, twin.pk]
    assert list(stored_order.events.values_list("pk", flat=True)) == [events[0].pk]


def test_insert_together_writes_nothing_when_a_later_group_fails():
    existing = OrderFactory()
    buyer = Customer(code="douyin:buyer-10", name="新买家", kind=Customer.Kind.B2C)
    twin, lines, events = new_order_family(existing)
    twin.customer = buyer
    lines[1].name = None  # NOT NULL: the lines' INSERT fails after the buyer's and the order's
    rows = InsertTogether([([buyer], "code"), ([twin], None), (lines, None), (events, None)])
    with pytest.raises(IntegrityError), transaction.atomic():
        prepared_rows(rows.statement.sql, rows.statement.params)
    assert not Customer.objects.filter(code="douyin:buyer-10").exists()
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1


def test_insert_together_refuses_a_link_to_a_new_instance_it_does_not_write_first():
    twin, lines, _events = new_order_family(OrderFactory())
    with pytest.raises(ValueError):
        InsertTogether([(lines, None), ([twin], None)])


def test_run_together_sends_statements_in_order_and_each_sees_the_last_ones_writes():
    order = OrderFactory()
    mark = Statement("UPDATE orders_order SET buyer_nickname = %s WHERE id = %s RETURNING id", ["标记", order.pk])
    read = Statement("SELECT buyer_nickname FROM orders_order WHERE id = %s", [order.pk])
    with transaction.atomic():
        assert run_together(mark, read) == [[(order.pk,)], [("标记",)]]


def test_run_together_raises_djangos_error_and_leaves_the_transaction_to_roll_back():
    order = OrderFactory()
    clash = Statement("INSERT INTO orders_order SELECT * FROM orders_order WHERE id = %s", [order.pk])
    mark = Statement("UPDATE orders_order SET buyer_nickname = %s WHERE id = %s", ["不该写", order.pk])
    with pytest.raises(IntegrityError), transaction.atomic():
        run_together(clash, mark)
    # the savepoint rolled back; the connection carries on
    assert Order.objects.get(pk=order.pk).buyer_nickname == order.buyer_nickname
    with transaction.atomic():
        assert run_together(Statement("SELECT count(*) FROM orders_order", [])) == [[(1,)]]


def prepared_texts():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [text for (text,) in cursor.fetchall()]


def test_prepared_rows_prepares_on_the_server_and_django_cursors_do_not():
    """psycopg ignores prepare=True on a connection whose prepare_threshold is None, Django's
    default: the settings must give it a number for apps.core.db to prepare anything."""
    marker = "SELECT %s::int AS prepared_probe"
    assert prepared_rows(marker, [7]) == [(7,)]
    assert prepared_rows(marker, [8]) == [(8,)]
    with connection.cursor() as cursor:
        for _ in range(8):
            cursor.execute("SELECT %s::int AS client_side_probe", [1])

    texts = prepared_texts()
    assert texts.count("SELECT $1::int AS prepared_probe") == 1  # prepared once, used twice
    assert not any("client_side_probe" in text for text in texts)


def test_run_together_prepares_its_statements():
    order = OrderFactory(with_line=False)
    run_together(Statement("SELECT count(*) AS together_probe FROM orders_order WHERE id = %s", [order.pk]))

    assert "SELECT count(*) AS together_probe FROM orders_order WHERE id = $1" in prepared_texts()
