"""apps.core.db.insert_instances writes what bulk_create would, on PostgreSQL."""
import pytest
from django.forms.models import model_to_dict
from django.utils import timezone

from apps.core.db import insert_instances
from apps.customers.models import Customer
from apps.orders.models import OrderEvent
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
    insert_instances([again], upsert_on="code")
    insert_instances([fresh], upsert_on="code")

    assert again.pk == existing.pk
    assert Customer.objects.get(pk=existing.pk).name == "老客户"
    assert Customer.objects.get(pk=fresh.pk).name == "新客户"


def test_an_unsaved_related_object_is_refused_as_bulk_create_refuses_it():
    order = OrderFactory.build(with_line=False)
    with pytest.raises(ValueError):
        insert_instances(events(order))
    assert not OrderEvent.objects.exists()
