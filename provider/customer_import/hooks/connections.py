"""Find an Airflow connection from a task or from a plain process (the ``customer-import`` command).

Inside a task the Task SDK resolves connections through the execution API (``airflow.sdk.BaseHook``,
which asks environment variables, secrets backends and the metadata database): its "not found" is final.
A plain process has no such channel: the SDK sees only environment variables and secrets backends, not
connections stored in the metadata database (``airflow connections add …``). There, and only there, the
core model is asked, and the connection is handed to the hooks of this process through the standard
``AIRFLOW_CONN_<ID>`` variable. (Asking the core model inside a task forwards to the SDK with a
``DeprecationWarning`` in every task log: ``Connection.get_connection_from_secrets`` is deprecated there.)
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _not_found(error: Exception) -> bool:
    text = str(error)
    return (
        "isn't defined" in text
        or "not found" in text.lower()
        or type(error).__name__
        in (
            "AirflowNotFoundException",
            "AirflowRuntimeError",
        )
    )


def in_task() -> bool:
    """Whether this process runs a task under the Task SDK supervisor (Airflow's own test for it)."""
    return hasattr(sys.modules.get("airflow.sdk.execution_time.task_runner"), "SUPERVISOR_COMMS")


def find_connection(conn_id: str) -> Any | None:
    """The connection ``conn_id``, or None when Airflow does not know it."""
    from airflow.sdk import BaseHook

    try:
        return BaseHook.get_connection(conn_id)
    except Exception as error:
        if not _not_found(error):
            raise
    if in_task():
        return None
    try:
        from airflow.models.connection import Connection

        stored = Connection.get_connection_from_secrets(conn_id)
    except Exception as error:  # not found, or no metadata database here
        if _not_found(error) or "ORM" in str(error) or "database" in str(error).lower():
            return None
        raise
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = stored.as_json()
    return BaseHook.get_connection(conn_id)
