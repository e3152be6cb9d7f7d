"""Source dialects, one module per DBMS, chosen from the Airflow connection type."""

from __future__ import annotations

from customer_import.exceptions import UnsupportedConnectionError
from customer_import.sources.dialects.base import PARAM_NAME, SourceDialect
from customer_import.sources.dialects.clickhouse import ClickHouseSource
from customer_import.sources.dialects.mssql import MsSqlSource
from customer_import.sources.dialects.mysql import MySqlSource
from customer_import.sources.dialects.oracle import OracleSource
from customer_import.sources.dialects.postgres import PostgresSource
from customer_import.sources.dialects.sqlite import SqliteSource

SOURCE_DIALECTS: tuple[type[SourceDialect], ...] = (
    SqliteSource,
    PostgresSource,
    MySqlSource,
    MsSqlSource,
    OracleSource,
    ClickHouseSource,
)

__all__ = ["PARAM_NAME", "SOURCE_DIALECTS", "SourceDialect", "source_dialect_for"]


def source_dialect_for(conn_type: str) -> SourceDialect:
    for dialect in SOURCE_DIALECTS:
        if conn_type in dialect.conn_types:
            return dialect()
    supported = ", ".join(t for d in SOURCE_DIALECTS for t in d.conn_types)
    raise UnsupportedConnectionError(
        f"no source dialect for connection type {conn_type!r} (supported: {supported})"
    )
