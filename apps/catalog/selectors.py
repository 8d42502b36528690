"""Catalogue reads."""
import functools

from apps.core.db import instances_from_row, prepared_rows, select_columns, uses_postgresql

from .models import SKU


@functools.cache
def _active_skus_sql() -> str:
    # Built from the model once per process, so it follows its fields.
    return f"SELECT {select_columns(SKU, 's')} FROM {SKU._meta.db_table} s WHERE s.code = ANY(%s) AND s.is_active"


def active_skus_by_code(codes) -> dict[str, SKU]:
    """The active SKUs among these codes, by code. Intake asks on every order: on PostgreSQL a
    prepared statement instead of compiling the ORM query each time (apps.core.db)."""
    codes = sorted(set(codes))
    if not uses_postgresql():
        return {sku.code: sku for sku in SKU.objects.filter(code__in=codes, is_active=True)}
    skus = [instances_from_row(row, SKU)[0] for row in prepared_rows(_active_skus_sql(), [codes])]
    return {sku.code: sku for sku in skus}
