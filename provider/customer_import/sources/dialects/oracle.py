"""Oracle sources through OracleHook (python-oracledb, thin mode by default)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

from customer_import import driver_errors
from customer_import.sources.dialects.base import SourceDialect


class OracleSource(SourceDialect):
    name = "oracle"
    conn_types = ("oracle",)
    sqlglot_dialect = "oracle"
    marker = ":last_item"
    read_only = "SET TRANSACTION READ ONLY"
    error_codes = driver_errors.ORACLE
    # python-oracledb keeps the code in args[0].code / full_code; an error without one (rare): markers.
    fatal_markers = ("ORA-01017", "ORA-28000", "ORA-00942", "ORA-00904", "ORA-01031", "ORA-01456")

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from airflow.providers.oracle.hooks.oracle import OracleHook

        connection: Any = OracleHook(oracle_conn_id=conn_id).get_conn()
        with closing(connection):
            if timeout := self.statement_timeout():
                # Milliseconds per round trip to the server (the execute, each fetch of arraysize rows):
                # a call that takes longer is cancelled (DPY-4024 / ORA-01013, transient).
                connection.call_timeout = timeout * 1000
            with closing(connection.cursor()) as cursor:
                cursor.execute("SET TRANSACTION READ ONLY")
                # arraysize rows per round trip; rows are not all loaded at once.
                cursor.arraysize = batch_size
                cursor.prefetchrows = batch_size + 1
                yield cursor
            connection.rollback()

    plain_types = SourceDialect.plain_types - {float}  # normalise changes these

    def normalise(self, value: Any) -> Any:
        if hasattr(value, "read") and callable(value.read):  # CLOB / NCLOB / BLOB locators
            value = value.read()
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
            # NUMBER without scale can arrive as float for large precisions; keep integers integral
            return int(value)
        return super().normalise(value)
