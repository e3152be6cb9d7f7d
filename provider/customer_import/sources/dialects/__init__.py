"""Source dialects, one module per DBMS, chosen from the Airflow connection type."""

from __future__ import annotations

from customer_import.dialect_lookup import dialect_for
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
    return dialect_for(SOURCE_DIALECTS, conn_type, "no source dialect for connection type {conn_type!r}")
