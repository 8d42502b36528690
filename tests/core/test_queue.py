"""The django-q2 broker: jobs written as rows the cluster can take (prepared INSERT on PostgreSQL)."""
import pytest
from django.conf import settings
from django_q.brokers import get_broker
from django_q.signing import SignedPackage
from django_q.tasks import async_task

from apps.core.queue import OrmBroker

pytestmark = pytest.mark.django_db


def test_the_cluster_uses_the_project_broker():
    assert settings.Q_CLUSTER["broker_class"] == "apps.core.queue.OrmBroker"
    assert isinstance(get_broker(), OrmBroker)


def test_an_enqueued_job_is_dequeued_with_its_function_and_arguments():
    broker = get_broker()
    task_id = async_task("apps.orders.tasks.audit_orders", [3, 5], timeout=30)
    [(ack_id, payload)] = broker.dequeue()
    task = SignedPackage.loads(payload)
    assert (task["id"], task["func"], task["args"], task["timeout"]) == (
        task_id, "apps.orders.tasks.audit_orders", ([3, 5],), 30)
    assert broker.queue_size() == 0  # dequeued jobs are locked until their retry time
    broker.acknowledge(ack_id)
    assert broker.lock_size() == 0


def test_jobs_held_are_collected_unsaved_for_the_caller_to_write():
    from django_q.models import OrmQ

    from apps.core.db import insert_instances, uses_postgresql
    from apps.core.queue import jobs_held

    with jobs_held() as jobs:
        assert async_task("apps.orders.tasks.audit_new_order", 7, "dy_1") is not None
    assert not OrmQ.objects.exists()
    [job] = jobs
    assert job.pk is None and SignedPackage.loads(job.payload)["args"] == (7, "dy_1")
    if uses_postgresql():
        insert_instances(jobs)
    else:
        job.save()
    [(_ack_id, payload)] = get_broker().dequeue()  # written by the caller, the cluster takes it as any other
    assert SignedPackage.loads(payload)["func"] == "apps.orders.tasks.audit_new_order"
    async_task("apps.orders.tasks.audit_orders", [1])  # outside the block: written at once again
    assert OrmQ.objects.count() == 2
