"""``customer-import preview``: run a spec's query once with the current cursor (read-only, nothing
written) and show, for each mapped column, its first value and what the mapping makes of it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from customer_import.exceptions import CustomerImportError, SourceError
from customer_import.spec.database import FieldDef, ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import FieldType


class PreviewError(CustomerImportError):
    """The preview could not read its source: one line that names the connection and the cause."""


def _one_line(text: object) -> str:
    return " ".join(str(text).split())


@dataclass(frozen=True)
class ColumnPreview:
    column: str
    field: str
    first_value: Any
    mapped: Any = None
    code: str | None = None  # the rejection code, when the mapping refuses the value
    message: str | None = None


@dataclass(frozen=True)
class Preview:
    spec: str
    conn_id: str
    dialect: str
    cursor: Any
    cursor_from: str  # "variable" or "start_value" (or "none": the query has no {lastItem})
    rows: int
    columns: list[ColumnPreview]


def current_cursor(spec: ImportSpec) -> tuple[Any, str]:
    """The cursor a run would start from: the Variable if set, else ``cursor.start_value``."""
    if spec.source.cursor is None:
        return None, "none"
    from airflow.models import Variable

    from customer_import.cursor import decode

    stored = Variable.get(spec.variable_key, default_var=None)
    if stored in (None, ""):
        return spec.source.cursor.start_value, "start_value"
    return decode(str(stored), spec.source.cursor.start_value), "variable"


def render_query(query: str) -> str:
    """Airflow templates in the query, rendered as for a run starting now (no logical date of a real run)."""
    if "{{" not in query:
        return query
    import jinja2

    now = dt.datetime.now(dt.UTC)
    context = {
        "ds": now.date().isoformat(),
        "ts": now.isoformat(),
        "logical_date": now,
        "data_interval_start": now,
        "data_interval_end": now,
        "params": {},
    }
    return (
        jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - SQL, not HTML
        .from_string(query)
        .render(context)
    )


def _first_batch(spec: ImportSpec, limit: int) -> tuple[Any, Any, str, Any]:
    """(dialect, cursor, where the cursor comes from, the first batch or None) of the spec's query."""
    from customer_import.hooks.connections import find_connection
    from customer_import.sources.dialects import source_dialect_for
    from customer_import.sources.extract import extract_part

    connection = find_connection(spec.source.conn_id)
    if connection is None:
        raise PreviewError(f"the Airflow connection {spec.source.conn_id!r} is not defined")
    dialect = source_dialect_for(connection.conn_type or "")
    cursor, cursor_from = current_cursor(spec)
    batches = extract_part(
        dialect, spec.source.conn_id, render_query(spec.source.query), cursor, max(limit, 1)
    )
    try:
        batch = next(batches, None)
    finally:
        batches.close()
    return dialect, cursor, cursor_from, batch


def preview(spec: ImportSpec, database: ProfileDatabase, limit: int = 1) -> Preview:
    """Read the first rows; a source that fails raises :class:`PreviewError` (one line, no traceback)."""
    from customer_import.mapping.coerce import make_coercer
    from customer_import.mapping.errors import ValueRejected
    from customer_import.mapping.mapper import find_column

    try:
        dialect, cursor, cursor_from, batch = _first_batch(spec, limit)
    except PreviewError:
        raise
    except SourceError as error:  # it names the connection, its DBMS and what was being done
        raise PreviewError(_one_line(error)) from error
    except Exception as error:  # connection lookup, cursor Variable, query template, refused query
        raise PreviewError(
            f"source connection {spec.source.conn_id!r} cannot be read: {type(error).__name__}: "
            f"{_one_line(error)}"
        ) from error
    fields = {**database.all_fields(), "profile_id": FieldDef(type=FieldType.INT)}
    columns = []
    for item in spec.mapping:
        index = find_column(batch.columns, item.column) if batch else None
        if batch is None or not batch.rows:
            columns.append(
                ColumnPreview(
                    item.column, item.field, None, code="no_rows", message="the query returned no rows"
                )
            )
            continue
        if index is None:
            columns.append(
                ColumnPreview(
                    item.column, item.field, None, code="missing_column", message="not in the result"
                )
            )
            continue
        raw = batch.rows[0][index]
        try:
            mapped = make_coercer(fields[item.field], item, spec.schedule.timezone)(raw)
            columns.append(ColumnPreview(item.column, item.field, raw, mapped))
        except ValueRejected as rejected:
            columns.append(
                ColumnPreview(item.column, item.field, raw, code=rejected.code, message=rejected.message)
            )
    return Preview(
        spec=spec.name,
        conn_id=spec.source.conn_id,
        dialect=dialect.name,
        cursor=cursor,
        cursor_from=cursor_from,
        rows=len(batch.rows) if batch else 0,
        columns=columns,
    )


def format_preview(result: Preview) -> str:
    cursor = {"variable": "from the Variable", "start_value": "cursor.start_value", "none": "no {lastItem}"}
    lines = [
        f"preview of {result.spec}: source {result.conn_id} ({result.dialect}), {{lastItem}} = {result.cursor!r} "
        f"({cursor[result.cursor_from]}); {result.rows} row(s) read, nothing written",
        f"{'column':<20} {'first value':<34} {'field':<18} mapped",
    ]
    if result.rows == 0:
        lines[1:] = ["the query returned no rows from this cursor (rewind the Variable to see earlier rows)"]
    for column in result.columns if result.rows else []:
        outcome = repr(column.mapped) if column.code is None else f"REJECTED {column.code}: {column.message}"
        lines.append(f"{column.column:<20} {repr(column.first_value)[:34]:<34} {column.field:<18} {outcome}")
    return "\n".join(lines)
