"""The ``clickhouse`` connection type: airflow-clickhouse-plugin's ClickHouseHook, declared as a
connection type of this provider (the plugin itself registers none)."""

from __future__ import annotations

import warnings
from typing import Any

# airflow-clickhouse-plugin 1.8 imports the deprecated alias ``airflow.hooks.base.BaseHook`` (the Task SDK's
# BaseHook under another name, so its get_connection already goes through the SDK); the warning would
# otherwise land in every ClickHouse task's log. Upstream's fix is to import ``airflow.sdk.BaseHook``.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=r".*airflow\.hooks\.base\.BaseHook.*")
    from airflow_clickhouse_plugin.hooks.clickhouse import ClickHouseHook


class ClickHouseSourceHook(ClickHouseHook):  # type: ignore[misc]
    """ClickHouse over the native TCP protocol (port 9000); schema = database, extras = driver options."""

    conn_name_attr = "clickhouse_conn_id"
    default_conn_name = "clickhouse_default"
    conn_type = "clickhouse"
    hook_name = "ClickHouse"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
