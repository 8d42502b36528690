"""Server-side prepared statements for the few hottest statements (stock reservation).

Django binds parameters on the client and sends every query as new text (psycopg's
prepare_threshold is None under Django), so PostgreSQL parses and plans each one again. A
cursor from `prepared_cursor()` binds on the server and prepares each statement on first use,
per connection; later executions skip parsing and planning. It goes through Django's cursor
wrapper, so errors are Django's, execute wrappers apply and query-count tests see every statement.
Only for fixed SQL text with %s / %(name)s placeholders (lists as arrays: `= ANY(%s)`), on PostgreSQL.
"""
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
