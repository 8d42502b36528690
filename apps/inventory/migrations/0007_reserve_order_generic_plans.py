"""inventory_reserve_order() runs its statements on generic plans.

PostgreSQL's default plan choice (plan_cache_mode = auto) kept custom plans for the function's
statements, which re-plans each of them on every call. Each of them looks rows up by key (the order,
its lines, the SKUs' levels), so the generic plan is the plan a custom one would be. Measured on the
bench database (1,000 SKUs, 8,000 one-line orders, BEGIN; call; COMMIT, calls interleaved): 1,470 µs
of backend CPU per call with auto, 1,280 µs with generic plans.
"""
from django.db import migrations

from apps.inventory.db_functions import SIGNATURE


def use_generic_plans(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER FUNCTION {SIGNATURE} SET plan_cache_mode = force_generic_plan")


def use_default_plans(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER FUNCTION {SIGNATURE} RESET plan_cache_mode")


class Migration(migrations.Migration):

    dependencies = [("inventory", "0006_drop_redundant_indexes")]

    operations = [migrations.RunPython(use_generic_plans, use_default_plans)]
