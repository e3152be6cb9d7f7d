"""The store's record of rejected rows: ``<database>_rejections`` and the runs that wrote them.

Pure builders of the statements (tested as strings), apart from the writer that runs them. A batch's
rejected rows are bulk-loaded into ``<database>_rejections`` inside the batch's own transaction
(``ProfileWriter.write``); a run, when it starts, deletes the rows of its own earlier attempts that it is
going to read again and the rows of runs that it makes older than ``keep_runs`` (decision record 0007).
"""

from __future__ import annotations

from customer_import.store.dialects import StoreDialect
from customer_import.store.tables import Tables

# The columns a batch loads, in order (recorded_at is the batch's timestamp).
COLUMNS = (
    "import_name",
    "run_id",
    "row_no",
    "cursor_value",
    "column_name",
    "code",
    "message",
    "value",
    "recorded_at",
    "source_fingerprint",  # the row's, for a value rejection of an import with fingerprints
    "sample",  # how the run's report showed it (JSON): customer_import.known_rejections
)
# Added after the table was first created: a store from before gets them when its schema is evolved.
ADDED_COLUMNS = ("source_fingerprint", "sample")
# What the console's CSV shows, in its header's order: row,cursor,column,code,message,value.
CSV_COLUMNS = ("row_no", "cursor_value", "column_name", "code", "message", "value")


def column_types(dialect: StoreDialect) -> tuple[str, ...]:
    """The SQL types of ``COLUMNS`` (the table's DDL and PostgreSQL's binary COPY)."""
    return (
        "TEXT",
        "TEXT",
        "BIGINT",
        "TEXT",
        "TEXT",
        "TEXT",
        "TEXT",
        "TEXT",
        dialect.timestamp_type,
        dialect.bytes_type,
        "TEXT",
    )


def create_statements(dialect: StoreDialect, tables: Tables) -> list[str]:
    q = dialect.quote
    columns = ", ".join(
        f"{q(name)} {kind}" + (" NOT NULL" if name in ("import_name", "run_id", "row_no", "code") else "")
        for name, kind in zip(COLUMNS, column_types(dialect), strict=True)
    )
    return [
        f"CREATE TABLE IF NOT EXISTS {q(tables.rejections)} (rejection_id {dialect.identity_column}, "
        f"{columns})",
        f"CREATE INDEX IF NOT EXISTS {q('ix_' + tables.rejections + '_run')} "
        f"ON {q(tables.rejections)} (import_name, run_id, row_no)",
        f"CREATE TABLE IF NOT EXISTS {q(tables.runs)} (import_name TEXT NOT NULL, run_id TEXT NOT NULL, "
        f"started_at {dialect.timestamp_type} NOT NULL, PRIMARY KEY (import_name, run_id))",
    ]


def register_run(dialect: StoreDialect, tables: Tables) -> str:
    """Record a run when it starts (a retried run keeps its first start). Params: import, run, stamp."""
    p = dialect.param
    return (
        f"INSERT INTO {dialect.quote(tables.runs)} (import_name, run_id, started_at) VALUES ({p}, {p}, {p}) "
        "ON CONFLICT (import_name, run_id) DO NOTHING"
    )


def _kept_runs(dialect: StoreDialect, tables: Tables) -> str:
    p = dialect.param
    return (
        f"SELECT run_id FROM {dialect.quote(tables.runs)} WHERE import_name = {p} "
        f"ORDER BY started_at DESC, run_id DESC LIMIT {p}"
    )


def prune(dialect: StoreDialect, tables: Tables) -> list[str]:
    """Delete the rejections, then the run records, of an import's runs older than its last ``keep_runs``.
    Params of each: import, import, keep_runs."""
    q, p = dialect.quote, dialect.param
    return [
        f"DELETE FROM {q(table)} WHERE import_name = {p} AND run_id NOT IN ({_kept_runs(dialect, tables)})"
        for table in (tables.rejections, tables.runs)
    ]


def known(dialect: StoreDialect, tables: Tables) -> str:
    """An import's kept rejections with fingerprints, newest first, at most ``limit``: what
    KnownRejections.of reads. Params: import, limit."""
    q, p = dialect.quote, dialect.param
    return (
        f"SELECT source_fingerprint, column_name, code, cursor_value, message, {q('value')}, sample "
        f"FROM {q(tables.rejections)} WHERE import_name = {p} AND source_fingerprint IS NOT NULL "
        f"ORDER BY rejection_id DESC LIMIT {p}"
    )


def run_cursors(dialect: StoreDialect, tables: Tables) -> str:
    """Each stored rejection of one run with its cursor value. Params: import, run."""
    p = dialect.param
    return (
        f"SELECT rejection_id, cursor_value FROM {dialect.quote(tables.rejections)} "
        f"WHERE import_name = {p} AND run_id = {p}"
    )


def delete_run(dialect: StoreDialect, tables: Tables) -> str:
    """Every stored rejection of one run. Params: import, run."""
    p = dialect.param
    return f"DELETE FROM {dialect.quote(tables.rejections)} WHERE import_name = {p} AND run_id = {p}"


def delete_ids(dialect: StoreDialect, tables: Tables, count: int) -> str:
    marks = ", ".join([dialect.param] * count)
    return f"DELETE FROM {dialect.quote(tables.rejections)} WHERE rejection_id IN ({marks})"


def of_run(dialect: StoreDialect, tables: Tables) -> str:
    """Every rejected row of one run, in row order, as the CSV's columns. Params: import, run."""
    q, p = dialect.quote, dialect.param
    return (
        f"SELECT {', '.join(q(c) for c in CSV_COLUMNS)} FROM {q(tables.rejections)} "
        f"WHERE import_name = {p} AND run_id = {p} ORDER BY row_no, rejection_id"
    )
