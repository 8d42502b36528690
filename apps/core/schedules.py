"""django-q2 schedules the project relies on, kept as data so a migration can install them."""

SCHEDULES = [
    # (name, function path, every N minutes)
    ("expire-unpaid-orders", "apps.orders.tasks.expire_unpaid_orders", 1),
    ("refresh-stock-alerts", "apps.inventory.tasks.refresh_stock_alerts", 60),
    ("audit-waiting-orders", "apps.orders.tasks.audit_waiting_orders", 5),
    ("escalate-overdue-approvals", "apps.approvals.tasks.escalate_overdue_approvals", 5),
    ("flag-stalled-shipments", "apps.fulfillment.tasks.flag_stalled_shipments", 30),
]


def install_schedules(apps=None):
    """Create or update each schedule by name; idempotent."""
    if apps is None:
        from django.apps import apps as live_apps

        apps = live_apps
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func, minutes in SCHEDULES:
        Schedule.objects.update_or_create(
            name=name, defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1})
