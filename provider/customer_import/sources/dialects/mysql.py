"""MySQL and MariaDB sources through MySqlHook (mysqlclient)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import import driver_errors
from customer_import.sources.dialects.base import SourceDialect
from customer_import.sources.values import install_mysql_converters


class MySqlSource(SourceDialect):
    name = "mysql"
    conn_types = ("mysql",)
    sqlglot_dialect = "mysql"
    marker = "%(last_item)s"
    escape_percent = True
    read_only = "START TRANSACTION READ ONLY"
    error_codes = driver_errors.MYSQL  # every mysqlclient error carries its number: no markers needed

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from airflow.providers.mysql.hooks.mysql import MySqlHook
        from MySQLdb.cursors import SSCursor

        connection: Any = MySqlHook(mysql_conn_id=conn_id).get_conn()
        with closing(connection):
            install_mysql_converters(connection)  # an invalid date: a marker, not NULL (values.py)
            # SSCursor streams rows from the server instead of buffering the whole result.
            with closing(connection.cursor(SSCursor)) as cursor:
                if timeout := self.statement_timeout():
                    cursor.execute(*self.timeout_statement(connection.get_server_info(), timeout))
                cursor.execute("START TRANSACTION READ ONLY")
                yield cursor
            connection.rollback()

    @staticmethod
    def timeout_statement(server_info: str, seconds: int) -> tuple[str, tuple[int | float]]:
        """The session's statement timeout: MariaDB's ``max_statement_time`` (seconds, every statement),
        MySQL's ``max_execution_time`` (milliseconds, read-only SELECTs: all a source runs)."""
        if "mariadb" in server_info.lower():
            return "SET SESSION max_statement_time = %s", (seconds,)
        return "SET SESSION max_execution_time = %s", (seconds * 1000,)

    def normalise(self, value: Any) -> Any:
        if (
            isinstance(value, bytes)
            and 0 < len(value) <= 8
            and any(b < 0x20 and b not in (9, 10, 13) for b in value)
        ):
            # BIT(n) columns arrive as big-endian bytes (control bytes, which text never has)
            return int.from_bytes(value, "big")
        return super().normalise(value)
