"""The ``clickhouse`` connection type: airflow-clickhouse-plugin's ClickHouseHook, declared as a
connection type of this provider (the plugin itself registers none)."""

from __future__ import annotations

from typing import Any

from airflow_clickhouse_plugin.hooks.clickhouse import ClickHouseHook


class ClickHouseSourceHook(ClickHouseHook):  # type: ignore[misc]
    """ClickHouse over the native TCP protocol (port 9000); schema = database, extras = driver options."""

    conn_name_attr = "clickhouse_conn_id"
    default_conn_name = "clickhouse_default"
    conn_type = "clickhouse"
    hook_name = "ClickHouse"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
