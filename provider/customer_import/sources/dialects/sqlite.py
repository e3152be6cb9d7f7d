"""SQLite sources (and the embedded demo CRM)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import import driver_errors
from customer_import.sources.dialects.base import SourceDialect
from customer_import.sources.values import read_sqlite_text


class SqliteSource(SourceDialect):
    name = "sqlite"
    conn_types = ("sqlite",)
    sqlglot_dialect = "sqlite"
    marker = ":last_item"
    read_only = "PRAGMA query_only = ON"
    error_codes = driver_errors.SQLITE  # sqlite3 errors carry sqlite_errorcode (Python 3.11+)
    fetch_ahead = False  # a sqlite3 connection refuses calls from another thread than its own

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from customer_import.hooks.sqlite import CustomerSqliteHook

        hook = CustomerSqliteHook(sqlite_conn_id=conn_id)  # type: ignore[no-untyped-call]
        with closing(hook.get_conn()) as connection:
            connection.execute("PRAGMA query_only = ON")
            if timeout := self.statement_timeout():
                # SQLite has no statement timeout: a progress handler interrupts the read (SQLITE_INTERRUPT,
                # "interrupted") once it has run longer than the timeout since the session opened.
                deadline = time.monotonic() + timeout
                connection.set_progress_handler(lambda: time.monotonic() > deadline, 10_000)
            connection.text_factory = read_sqlite_text  # TEXT that is not UTF-8: a marker (values.py)
            with closing(connection.cursor()) as cursor:
                cursor.arraysize = batch_size
                yield cursor
