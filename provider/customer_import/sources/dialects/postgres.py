"""PostgreSQL sources through PostgresHook (psycopg 3)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import import driver_errors
from customer_import.sources.dialects.base import SourceDialect
from customer_import.sources.values import register_postgres_loaders


class PostgresSource(SourceDialect):
    name = "postgres"
    conn_types = ("postgres", "postgresql")
    sqlglot_dialect = "postgres"
    marker = "%(last_item)s"
    escape_percent = True
    read_only = "BEGIN READ ONLY (psycopg connection.read_only)"
    error_codes = driver_errors.POSTGRES
    # libpq reports a refused connection without a SQLSTATE: these are its words for the fatal ones.
    fatal_markers = (
        "password authentication failed",
        "authentication failed",
        'role "',  # role "x" does not exist
        'database "',  # database "x" does not exist
        "no pg_hba.conf entry",
        "permission denied",  # permission denied for database
        "invalid connection option",
        "invalid dsn",
    )

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        connection: Any = PostgresHook(postgres_conn_id=conn_id).get_conn()
        with closing(connection):
            connection.read_only = True
            if timeout := self.statement_timeout():
                # The first statement opens the transaction (BEGIN READ ONLY); set_config(..., true) is
                # SET LOCAL with a bound value: it lasts until the transaction ends, with the cursor.
                with closing(connection.cursor()) as setup:
                    setup.execute("SELECT set_config('statement_timeout', %s, true)", (f"{timeout * 1000}",))
            register_postgres_loaders(connection)  # values psycopg cannot load become markers (values.py)
            # Describing a query for the columnar reader runs on this session (``columnar``).
            # A named (server-side) cursor: rows stream in fetchmany-sized chunks, not all at once.
            with closing(connection.cursor(name="customer_import_extract")) as cursor:
                cursor.itersize = batch_size
                yield cursor
            connection.rollback()

    def has_columnar_reader(self) -> bool:
        from customer_import.sources import arrow_text

        return arrow_text.available()

    def columnar(self, cursor: Any, text: str, params: dict[str, Any] | None) -> Any:
        """The query read as Arrow text (``sources/arrow_text.py``), with its parameters inlined as
        literals (psycopg's quoting); None where ADBC is missing or the session is not UTF-8."""
        from customer_import.sources import arrow_text

        connection = cursor.connection
        if not arrow_text.usable(connection):
            return None
        from psycopg import ClientCursor

        with closing(ClientCursor(connection)) as client:
            literal = client.mogrify(text, params) if params is not None else text
        return arrow_text.describe(connection, literal, self.statement_timeout())
