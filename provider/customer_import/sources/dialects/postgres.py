"""PostgreSQL sources through PostgresHook (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import.sources.dialects.base import SourceDialect


class PostgresSource(SourceDialect):
    name = "postgres"
    conn_types = ("postgres", "postgresql")
    sqlglot_dialect = "postgres"
    marker = "%(last_item)s"
    escape_percent = True
    read_only = "BEGIN READ ONLY (psycopg connection.read_only)"
    fatal_markers = (
        "password authentication failed",
        "authentication failed",
        "role ",  # role "x" does not exist
        "does not exist",  # relation / column / database does not exist
        "permission denied",
        "syntax error",
        "UndefinedTable",
        "UndefinedColumn",
        "InsufficientPrivilege",
        "read-only transaction",
    )

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        connection: Any = PostgresHook(postgres_conn_id=conn_id).get_conn()
        with closing(connection):
            connection.read_only = True
            # A named (server-side) cursor: rows stream in fetchmany-sized chunks, not all at once.
            with closing(connection.cursor(name="customer_import_extract")) as cursor:
                cursor.itersize = batch_size
                yield cursor
            connection.rollback()
