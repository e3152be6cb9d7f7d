"""ClickHouse sources through airflow-clickhouse-plugin's ClickHouseHook (clickhouse-driver, native TCP).

The plugin is not an Airflow provider, so this package declares the ``clickhouse`` connection type.
clickhouse-driver substitutes ``%(last_item)s`` on the client with its own escaping (the native protocol
of the servers we support has no server-side parameters); the value is never formatted by our code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from typing import Any

from customer_import import driver_errors
from customer_import.sources.dialects.base import SourceDialect


class _StreamingCursor:
    """A DB-API-like face over ``Client.execute_iter`` (streamed in blocks of ``max_block_size`` rows)."""

    def __init__(self, client: Any, batch_size: int, settings: dict[str, int]) -> None:
        self._client = client
        self._settings = {**settings, "max_block_size": batch_size}
        self._rows: Iterator[Any] = iter(())
        self.description: list[tuple[str, str]] = []

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        rows = self._client.execute_iter(sql, params, with_column_types=True, settings=self._settings)
        self.description = list(next(rows))
        self._rows = rows

    def fetchmany(self, size: int) -> list[Any]:
        return list(islice(self._rows, size))


class ClickHouseSource(SourceDialect):
    name = "clickhouse"
    conn_types = ("clickhouse",)
    sqlglot_dialect = "clickhouse"
    marker = "%(last_item)s"
    escape_percent = True
    read_only = "setting readonly = 1"
    error_codes = driver_errors.CLICKHOUSE  # every clickhouse-driver error has a code: no markers needed

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        from customer_import.hooks.clickhouse import ClickHouseSourceHook

        client = ClickHouseSourceHook(clickhouse_conn_id=conn_id).get_conn()
        try:
            yield _StreamingCursor(client, batch_size, self.session_settings(self.statement_timeout()))
        finally:
            client.disconnect()

    @staticmethod
    def session_settings(timeout_seconds: int) -> dict[str, int]:
        """The settings sent with the query. ``readonly = 1``, not 2: with 2 the query itself may still
        change settings (``SETTINGS max_execution_time = 0`` lifts the timeout) and use table functions
        (``url``, ``remote``, ``file``); with 1 the server refuses both (code 164, READONLY), and the
        settings sent here with the query are applied before it runs (checked on the server here, 18.16).
        The price: a query using any table function, even ``numbers()``, is refused on ClickHouse."""
        settings = {"readonly": 1}
        if timeout_seconds:
            settings["max_execution_time"] = timeout_seconds
        return settings

    plain_types = SourceDialect.plain_types - {dt.datetime}  # normalise changes these

    def normalise(self, value: Any) -> Any:
        # Nullable -> None, LowCardinality(String) -> str, Enum -> str, UUID, IPv4/IPv6, Decimal, Array and
        # Tuple are handled by the base; DateTime('tz') and DateTime64 arrive as aware datetimes.
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            return value.astimezone(dt.UTC)
        return super().normalise(value)
