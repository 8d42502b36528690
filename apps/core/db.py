"""Server-side prepared statements for the few hottest statements (stock reservation, order intake).

Django binds parameters on the client and sends every query as new text (psycopg's
prepare_threshold is None under Django), so PostgreSQL parses and plans each one again. A
cursor from `prepared_cursor()` binds on the server and prepares each statement on first use,
per connection; later executions skip parsing and planning. It goes through Django's cursor
wrapper, so errors are Django's, execute wrappers apply and query-count tests see every statement.
Only for fixed SQL text with %s / %(name)s placeholders (lists as arrays: `= ANY(%s)`), on PostgreSQL.
"""
import functools

from django.db import connection
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


def uses_postgresql() -> bool:
    return connection.vendor == "postgresql"


def prepared_cursor():
    import psycopg  # the PostgreSQL driver; never imported on SQLite

    class PreparingCursor(psycopg.Cursor):
        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True, binary=binary)

    connection.ensure_connection()
    wrapper = CursorDebugWrapper if connection.queries_logged else CursorWrapper
    return wrapper(PreparingCursor(connection.connection), connection)


def prepared_rows(sql: str, params) -> list[tuple]:
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def select_columns(model, alias: str) -> str:
    """The model's concrete columns, in field order, for a hand-written SELECT that
    `instances_from_row` turns back into model instances."""
    quote = connection.ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def instances_from_row(row, *models) -> list:
    """Model instances from one row of `select_columns(models[0]), select_columns(models[1]), …`,
    with each field's database converters applied as the ORM would (JSON, encrypted fields)."""
    instances, offset = [], 0
    for model in models:
        fields = model._meta.concrete_fields
        values = list(row[offset:offset + len(fields)])
        offset += len(fields)
        for index, field in enumerate(fields):
            for converter in field.get_db_converters(connection):
                values[index] = converter(values[index], field, connection)
        instances.append(model.from_db(connection.alias, None, values))
    return instances


@functools.cache
def _insert_sql(model, rows: int, upsert_on: str | None) -> str:
    quote = connection.ops.quote_name
    fields = _insert_fields(model)
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    conflict = ""
    if upsert_on:
        column = quote(model._meta.get_field(upsert_on).column)
        conflict = f" ON CONFLICT ({column}) DO UPDATE SET {column} = EXCLUDED.{column}"
    return (f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
            f"VALUES {', '.join([row] * rows)}{conflict} RETURNING {quote(model._meta.pk.column)}")


@functools.cache
def _insert_fields(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def insert_instances(instances: list, *, upsert_on: str | None = None) -> None:
    """INSERT new instances of one model (database-generated pk) in one prepared statement and set
    their pks: what bulk_create does for them (related objects' ids taken, pre_save such as
    auto_now applied, no signals) without compiling the query each time. `upsert_on` names a unique
    field: an existing row is kept as it is and its pk returned (bulk_create's update_conflicts)."""
    if not instances:
        return
    model = type(instances[0])
    fields = _insert_fields(model)
    values = []
    for instance in instances:
        instance._prepare_related_fields_for_save(operation_name="insert_instances")
        values += [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in fields]
    rows = prepared_rows(_insert_sql(model, len(instances), upsert_on), values)
    for instance, (pk,) in zip(instances, rows, strict=True):
        instance.pk = pk
        instance._state.adding = False
        instance._state.db = connection.alias
