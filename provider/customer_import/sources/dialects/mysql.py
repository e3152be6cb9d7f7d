"""MySQL and MariaDB sources through MySqlHook (mysqlclient)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import.sources.dialects.base import SourceDialect


class MySqlSource(SourceDialect):
    name = "mysql"
    conn_types = ("mysql",)
    sqlglot_dialect = "mysql"
    marker = "%(last_item)s"
    escape_percent = True
    read_only = "START TRANSACTION READ ONLY"
    fatal_markers = (
        "(1045,",  # access denied
        "(1044,",  # access denied to database
        "(1049,",  # unknown database
        "(1146,",  # table doesn't exist
        "(1054,",  # unknown column
        "(1064,",  # syntax error
        "(1142,",  # command denied
        "(1792,",  # cannot execute statement in a READ ONLY transaction
        "access denied",
    )

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from airflow.providers.mysql.hooks.mysql import MySqlHook
        from MySQLdb.cursors import SSCursor

        connection: Any = MySqlHook(mysql_conn_id=conn_id).get_conn()
        with closing(connection):
            # SSCursor streams rows from the server instead of buffering the whole result.
            with closing(connection.cursor(SSCursor)) as cursor:
                cursor.execute("START TRANSACTION READ ONLY")
                yield cursor
            connection.rollback()

    def normalise(self, value: Any) -> Any:
        if (
            isinstance(value, bytes)
            and 0 < len(value) <= 8
            and any(b < 0x20 and b not in (9, 10, 13) for b in value)
        ):
            # BIT(n) columns arrive as big-endian bytes (control bytes, which text never has)
            return int.from_bytes(value, "big")
        return super().normalise(value)
