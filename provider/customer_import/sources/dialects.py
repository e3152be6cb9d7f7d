"""Source dialects: how each DBMS binds ``{lastItem}``, opens a read-only session, streams rows and
normalises its types. Chosen from the Airflow connection type; callers never branch on names.
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any, ClassVar

from customer_import.exceptions import UnsupportedConnectionError
from customer_import.spec.import_spec import LAST_ITEM

PARAM_NAME = "last_item"


class SourceDialect:
    """A source DBMS. Subclasses set the sqlglot dialect, parameter style and session handling."""

    name: ClassVar[str]
    conn_types: ClassVar[tuple[str, ...]]
    sqlglot_dialect: ClassVar[str]
    marker: ClassVar[str]  # the driver's marker for the named parameter ``last_item``
    escape_percent: ClassVar[bool] = False  # pyformat drivers read % as the start of a marker

    def render(self, query: str) -> tuple[str, dict[str, Any] | None]:
        """The query text for the driver and a parameter template (``None``: no parameters)."""
        if LAST_ITEM not in query:
            return query, None
        text = query.replace("%", "%%") if self.escape_percent else query
        return text.replace(LAST_ITEM, self.marker), {PARAM_NAME: None}

    @contextmanager
    def read_only_cursor(self, conn_id: str) -> Iterator[Any]:
        """A cursor in a read-only session that streams rows with ``fetchmany``."""
        raise NotImplementedError
        yield

    def normalise(self, value: Any) -> Any:
        """A driver value as a plain Python value (what mapping and the cursor expect)."""
        if isinstance(value, decimal.Decimal):
            return int(value) if value == value.to_integral_value() else value
        if isinstance(value, memoryview):
            value = value.tobytes()
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value.hex()
        if isinstance(value, uuid.UUID):
            return str(value)
        return value


class SqliteSource(SourceDialect):
    name = "sqlite"
    conn_types = ("sqlite",)
    sqlglot_dialect = "sqlite"
    marker = ":last_item"

    @contextmanager
    def read_only_cursor(self, conn_id: str) -> Iterator[Any]:
        from customer_import.hooks.sqlite import CustomerSqliteHook

        hook = CustomerSqliteHook(sqlite_conn_id=conn_id)  # type: ignore[no-untyped-call]
        with closing(hook.get_conn()) as connection:
            connection.execute("PRAGMA query_only = ON")
            with closing(connection.cursor()) as cursor:
                yield cursor


class PostgresSource(SourceDialect):
    name = "postgres"
    conn_types = ("postgres", "postgresql")
    sqlglot_dialect = "postgres"
    marker = "%(last_item)s"
    escape_percent = True

    @contextmanager
    def read_only_cursor(self, conn_id: str) -> Iterator[Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        connection: Any = PostgresHook(postgres_conn_id=conn_id).get_conn()
        with closing(connection):
            connection.read_only = True  # BEGIN READ ONLY
            # A named (server-side) cursor: rows stream in fetchmany-sized chunks, not all at once.
            with closing(connection.cursor(name="customer_import_extract")) as cursor:
                yield cursor
                connection.rollback()

    def normalise(self, value: Any) -> Any:
        if isinstance(value, dt.datetime | dt.date | int | float | str) or value is None:
            return value
        return super().normalise(value)


SOURCE_DIALECTS: tuple[type[SourceDialect], ...] = (SqliteSource, PostgresSource)


def source_dialect_for(conn_type: str) -> SourceDialect:
    for dialect in SOURCE_DIALECTS:
        if conn_type in dialect.conn_types:
            return dialect()
    supported = ", ".join(t for d in SOURCE_DIALECTS for t in d.conn_types)
    raise UnsupportedConnectionError(
        f"no source dialect for connection type {conn_type!r} (supported now: {supported})"
    )
