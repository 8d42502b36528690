"""django-q2 jobs, written in the caller's transaction.

The cluster uses the ORM broker (settings.Q_CLUSTER): a job is a row of django_q_ormq in the same
database. Enqueued inside a transaction, that row commits or rolls back with the work it is about,
so a job never runs for an order that does not exist and is never lost for one that does; no
on_commit callback and no second transaction (and WAL flush) per job are needed.
"""
import threading
from contextlib import contextmanager

from django.utils import timezone
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ

from apps.core.db import insert_instances, uses_postgresql


class OrmBroker(ORM):
    """The ORM broker with its INSERT prepared on PostgreSQL (apps.core.db): intake writes one job
    for every order that arrives paid, and the ORM's compiled INSERT was a tenth of the request."""

    def enqueue(self, task):
        held = getattr(_held, "jobs", None)
        if held is None and not uses_postgresql():
            return super().enqueue(task)
        job = OrmQ(key=self.list_key or Conf.CLUSTER_NAME, payload=task, lock=timezone.now())
        if held is not None:
            held.append(job)
            return None
        insert_instances([job])
        return job.pk


_held = threading.local()


@contextmanager
def jobs_held():
    """Jobs queued in this block (async_task as usual) are not written: they are collected as unsaved
    django_q_ormq rows, for a caller that writes them together with its own rows in one statement
    (order intake, apps.core.db.InsertTogether). The caller must write them in its transaction."""
    jobs = []
    previous, _held.jobs = getattr(_held, "jobs", None), jobs
    try:
        yield jobs
    finally:
        _held.jobs = previous
