"""SQL Server sources through MsSqlHook (pymssql).

SQL Server has no read-only transaction or session setting (``ApplicationIntent=ReadOnly`` only routes to a
readable secondary of an availability group). What it gets: the SELECT-only validation of the query in the
T-SQL dialect (which also refuses locking hints), a transaction that is always rolled back, and the
advice to give the connection's login only ``db_datareader``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import import driver_errors
from customer_import.sources.dialects.base import SourceDialect


class MsSqlSource(SourceDialect):
    name = "mssql"
    conn_types = ("mssql",)
    sqlglot_dialect = "tsql"
    marker = "%(last_item)s"
    escape_percent = True
    read_only = "none available: SELECT-only validation, rolled-back transaction, db_datareader login"
    error_codes = driver_errors.MSSQL
    fatal_markers = ("login failed",)  # an error without its number (pymssql keeps it in args[0])
    # No statement timeout is set: SQL Server has no per-session one, and pymssql's query_timeout is
    # FreeTDS's dbsettime, which "sets it application wide" (pymssql's own comment): every connection of
    # the process. Bound runaway queries with the login's Resource Governor workload group instead.
    # pymssql (FreeTDS) promises a connection only to the thread that opened it, and no SQL Server ran
    # here to show otherwise: batches are fetched in the task's own thread.
    fetch_ahead = False

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from airflow.providers.microsoft.mssql.hooks.mssql import MsSqlHook

        connection: Any = MsSqlHook(mssql_conn_id=conn_id).get_conn()
        with closing(connection):
            # pymssql reads the result from the TDS stream as fetchmany asks for it.
            with closing(connection.cursor()) as cursor:
                cursor.arraysize = batch_size
                yield cursor
            connection.rollback()

    plain_types = SourceDialect.plain_types - {dt.datetime}  # normalise changes these

    def normalise(self, value: Any) -> Any:
        # DATETIMEOFFSET arrives as an aware datetime, BIT as bool, UNIQUEIDENTIFIER as uuid.UUID,
        # MONEY/DECIMAL as Decimal: the base handles them; DATETIME2 beyond microseconds is truncated by pymssql.
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return super().normalise(value)
