"""SQLite sources (and the embedded demo CRM)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import.sources.dialects.base import SourceDialect


class SqliteSource(SourceDialect):
    name = "sqlite"
    conn_types = ("sqlite",)
    sqlglot_dialect = "sqlite"
    marker = ":last_item"
    read_only = "PRAGMA query_only = ON"
    fatal_markers = ("no such table", "no such column", "unable to open database", "syntax error")
    fetch_ahead = False  # a sqlite3 connection refuses calls from another thread than its own

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from customer_import.hooks.sqlite import CustomerSqliteHook

        hook = CustomerSqliteHook(sqlite_conn_id=conn_id)  # type: ignore[no-untyped-call]
        with closing(hook.get_conn()) as connection:
            connection.execute("PRAGMA query_only = ON")
            with closing(connection.cursor()) as cursor:
                cursor.arraysize = batch_size
                yield cursor
