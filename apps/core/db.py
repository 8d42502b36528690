"""Server-side prepared statements for the few hottest statements (stock reservation, order intake).

Django binds parameters on the client and sends every query as new text, so PostgreSQL parses
and plans each one again. A cursor from `prepared_cursor()` binds on the server and prepares each
statement on first use, per connection; later executions skip parsing and planning. That needs a
prepare_threshold on the connection (config/settings.py): with Django's default, None, psycopg
ignores prepare=True and nothing is prepared. It goes through Django's cursor
wrapper, so errors are Django's, execute wrappers apply and query-count tests see every statement.
Only for fixed SQL text with %s / %(name)s placeholders (lists as arrays: `= ANY(%s)`), on PostgreSQL;
each text is turned into PostgreSQL's $n form once per process.

Every function here looks the connection up once (`_db()`) and hands Django the connection itself:
`django.db.connection` is a proxy that looks it up again, through asgiref's thread-local storage,
on each attribute, and a field's prep or a cursor wrapper reads several per value (intake: about
90 lookups per request).
"""
import functools
import re
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper


def _db():
    return connections[DEFAULT_DB_ALIAS]


def uses_postgresql() -> bool:
    return _db().vendor == "postgresql"


def prepared_cursor(db=None):
    db = _db() if db is None else db
    db.ensure_connection()
    wrapper = _PreparedDebugWrapper if db.queries_logged else CursorWrapper
    return wrapper(_preparing_cursor_class()(db.connection), db)


class _PreparedDebugWrapper(CursorDebugWrapper):
    """Logs the statement's own text: Django reads the SQL it logs from psycopg's last sent query,
    which an execution of an already prepared statement leaves empty."""

    def execute(self, sql, params=None):
        with self.debug_sql(sql, params):
            return CursorWrapper.execute(self, sql, params)


@functools.cache
def _preparing_cursor_class():
    import psycopg  # the PostgreSQL driver; never imported on SQLite

    class PreparingCursor(psycopg.RawCursor):
        """Prepares every statement, and takes our %s / %(name)s text in PostgreSQL's own $n form,
        converted once per text (psycopg converts texts with over 50 parameters or 4 kB again on
        every execution: 180 us for intake's one INSERT, with about 90)."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            native, names = _native_placeholders(query)
            if names is not None:
                params = [params[name] for name in names]
            return super().execute(native, params, prepare=True, binary=binary)

    return PreparingCursor


_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


@functools.lru_cache(maxsize=1024)
def _native_placeholders(query: str) -> tuple[str, tuple[str, ...] | None]:
    """The query with $1, $2, … for its %s (or %(name)s, each name one number) placeholders, and
    the names in number order (None for %s)."""
    names, positional = {}, 0

    def number(match):
        nonlocal positional
        if match.group(0) == "%%":
            return "%"
        if match.group(1) is None:
            positional += 1
            return f"${positional}"
        return f"${names.setdefault(match.group(1), len(names) + 1)}"

    native = _PLACEHOLDER.sub(number, query)
    if positional and names:
        raise ValueError("a query mixes %s and %(name)s placeholders")
    return native, (tuple(names) if names else None)


def prepared_rows(sql: str, params) -> list[tuple]:
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def select_columns(model, alias: str) -> str:
    """The model's concrete columns, in field order, for a hand-written SELECT that
    `instances_from_row` turns back into model instances."""
    quote = _db().ops.quote_name
    return ", ".join(f"{alias}.{quote(field.column)}" for field in model._meta.concrete_fields)


def instances_from_row(row, *models) -> list:
    """Model instances from one row of `select_columns(models[0]), select_columns(models[1]), …`,
    with each field's database converters applied as the ORM would (JSON, encrypted fields)."""
    db = _db()
    instances, offset = [], 0
    for model in models:
        fields = model._meta.concrete_fields
        values = list(row[offset:offset + len(fields)])
        offset += len(fields)
        for index, field in enumerate(fields):
            for converter in field.get_db_converters(db):
                values[index] = converter(values[index], field, db)
        instances.append(model.from_db(db.alias, None, values))
    return instances


@functools.cache
def _insert_fields(model) -> list:
    return [field for field in model._meta.concrete_fields if not field.primary_key]


def insert_instances(instances: list) -> None:
    """INSERT new instances of one model (database-generated pk) in one prepared statement and set
    their pks: what bulk_create does for them (pre_save such as auto_now applied, no signals; an
    unsaved related object refused) without compiling the query each time."""
    if instances:
        rows = InsertTogether([(instances, None)])
        rows.assign(prepared_rows(rows.statement.sql, rows.statement.params))


@dataclass
class Statement:
    """One prepared statement to send with `run_together`."""
    sql: str
    params: list


def run_together(*statements: Statement) -> list[list[tuple]]:
    """Send the statements in one round trip (psycopg's pipeline mode) and return each one's rows.
    Each runs after the one before and sees its writes. The first error stops the rest and is
    raised as Django's own (IntegrityError, …) once all are back; inside a transaction, the caller
    then rolls it back as after any failed statement. psycopg syncs once more for the BEGIN of a
    transaction that none of them opened yet."""
    db = _db()
    db.ensure_connection()
    cursors = [prepared_cursor(db) for _statement in statements]
    try:
        with db.wrap_database_errors, db.connection.pipeline():
            for cursor, statement in zip(cursors, statements):
                cursor.execute(statement.sql, statement.params)
        with db.wrap_database_errors:
            return [cursor.fetchall() for cursor in cursors]
    finally:
        for cursor in cursors:
            cursor.close()


class InsertTogether:
    """New instances of several models written by one INSERT statement: a data-modifying CTE per
    group, where a foreign key may point at the single new instance of an earlier group (a new
    order's lines and events at the order, the order at its new buyer). One statement is one round
    trip, and a failure anywhere in it writes nothing.

    `groups` are (instances, upsert_on) in the order the rows depend on each other. `upsert_on` names
    a unique field: a row that exists already is kept as it is and its pk returned (bulk_create's
    update_conflicts); None inserts plainly. Send `.statement` (alone or with `run_together`), then
    hand its rows to `.assign` to set every pk and every foreign key that pointed at a new instance.
    """

    def __init__(self, groups: list[tuple[list, str | None]]):
        self.groups = [(instances, upsert_on) for instances, upsert_on in groups if instances]
        self._params, self._links = [], []
        self._db = _db()
        shape = tuple((type(instances[0]), upsert_on, tuple(self._row(instance, index) for instance in instances))
                      for index, (instances, upsert_on) in enumerate(self.groups))
        self.statement = Statement(_insert_together_sql(shape), self._params)

    def _row(self, instance, index: int) -> tuple:
        """The row's shape (see _insert_together_sql); its parameters are appended to the statement's."""
        row = []
        for field in _insert_fields(type(instance)):
            target = field.get_cached_value(instance) if field.many_to_one and field.is_cached(instance) else None
            if target is not None and target.pk is None:
                row.append(self._group_of(target, before=index, field=field, instance=instance))
                self._links.append((instance, field, target))
                continue
            if target is not None and getattr(instance, field.attname) in field.empty_values:
                setattr(instance, field.attname, target.pk)  # saved after it was assigned, as Model.save takes it
            row.append(None)
            self._params.append(field.get_db_prep_save(field.pre_save(instance, True), self._db))
        return tuple(row)

    def _group_of(self, target, *, before: int, field, instance) -> int:
        for index, (instances, _upsert_on) in enumerate(self.groups[:before]):
            if len(instances) == 1 and instances[0] is target:
                return index
        raise ValueError(f"{field} of {instance!r} points at a new instance that is not the single instance "
                         "of an earlier group")

    def assign(self, rows: list[tuple]) -> None:
        [pks_by_group] = rows
        for (instances, _upsert_on), pks in zip(self.groups, pks_by_group, strict=True):
            for instance, pk in zip(instances, pks, strict=True):
                instance.pk = pk
                instance._state.adding = False
                instance._state.db = self._db.alias
        for instance, field, target in self._links:
            setattr(instance, field.attname, target.pk)


@functools.cache
def _insert_together_sql(shape) -> str:
    """shape: per group (model, upsert_on, rows), each row a tuple per insert field: None for a
    parameter, or the index of the earlier group whose one new row the field points at."""
    quote = _db().ops.quote_name
    ctes, results = [], []
    for index, (model, upsert_on, rows) in enumerate(shape):
        fields = _insert_fields(model)

        def value(link):
            return "%s" if link is None else f"(SELECT {quote(shape[link][0]._meta.pk.column)} FROM g{link})"

        values = ", ".join("(" + ", ".join(value(link) for link in row) + ")" for row in rows)
        conflict = ""
        if upsert_on:
            column = quote(model._meta.get_field(upsert_on).column)
            conflict = f" ON CONFLICT ({column}) DO UPDATE SET {column} = EXCLUDED.{column}"
        pk = quote(model._meta.pk.column)
        ctes.append(f"g{index} AS (INSERT INTO {quote(model._meta.db_table)} "
                    f"({', '.join(quote(f.column) for f in fields)}) VALUES {values}{conflict} RETURNING {pk})")
        # Identity values are drawn row by row in VALUES order, so ordering by pk gives each row its own.
        results.append(f"ARRAY(SELECT {pk} FROM g{index} ORDER BY {pk})")
    return f"WITH {', '.join(ctes)} SELECT {', '.join(results)}"
