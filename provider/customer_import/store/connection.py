"""Open the profile store's DB-API connection from an Airflow connection (``profile_store_default``).

Without that connection the store is the embedded default: a SQLite file under ``AIRFLOW_HOME``
(``[customer_import] embedded_store_path``), so the demo and a laptop need no set-up.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

from customer_import.config import embedded_store_path
from customer_import.exceptions import CustomerImportError, StoreError
from customer_import.hooks.connections import find_connection
from customer_import.store.dialects import StoreDialect, store_dialect_for

log = logging.getLogger(__name__)
DEFAULT_CONN_ID = "profile_store_default"


@contextmanager
def open_store(conn_id: str | None = None) -> Iterator[tuple[StoreDialect, Any]]:
    """Yield ``(dialect, DB-API connection)``; the caller commits; the connection is closed after."""
    conn_id = conn_id or DEFAULT_CONN_ID
    connection = find_connection(conn_id)
    if connection is None:
        if conn_id != DEFAULT_CONN_ID:
            raise LookupError(f"the Airflow connection {conn_id!r} is not defined")
        path = embedded_store_path()
        _refuse_embedded_store_on_distributed_executor(path)
        log.warning("Connection %s is not defined: using the embedded SQLite store %s", conn_id, path)
        yield from _sqlite(path)
        return
    dialect = store_dialect_for(connection.conn_type)
    if dialect.name == "sqlite":
        from customer_import.hooks.sqlite import CustomerSqliteHook

        hook = CustomerSqliteHook(sqlite_conn_id=conn_id)  # type: ignore[no-untyped-call]
        with store_errors(dialect, conn_id, "connecting"):
            raw = hook.get_conn()
        with closing(raw), store_errors(dialect, conn_id):
            yield dialect, raw
        return
    from airflow.providers.postgres.hooks.postgres import PostgresHook

    with store_errors(dialect, conn_id, "connecting"):
        raw = PostgresHook(postgres_conn_id=conn_id).get_conn()
    with closing(raw):
        with store_errors(dialect, conn_id, "connecting"):
            # A batch's statements are short: compiling them (JIT) took longer than running them
            # (measured: the classify statement of 10,000 rows, 275 ms with JIT, 38 ms without).
            with closing(raw.cursor()) as cursor:
                cursor.execute("SET jit = off")
            raw.commit()
        with store_errors(dialect, conn_id):
            yield dialect, raw


# What the innermost store function in a failure's traceback was doing (for the StoreError message).
_DOING = {
    "write": "writing a batch",
    "ensure_schema": "creating or evolving the profile tables",
    "evolve": "creating or evolving the profile tables",
    "stored_fingerprints": "reading the stored fingerprints",
    "known_fingerprints": "reading the stored fingerprints",
    "iter_profiles": "exporting profiles",
}


def _doing(error: BaseException) -> str:
    doing = "using it"
    traceback = error.__traceback__
    while traceback is not None:  # outermost first: the last match is the innermost
        frame = traceback.tb_frame
        if str(frame.f_globals.get("__name__", "")).startswith("customer_import.store."):
            doing = _DOING.get(frame.f_code.co_name, doing)
        traceback = traceback.tb_next
    return doing


@contextmanager
def store_errors(
    dialect: StoreDialect, conn_id: str, doing: str | None = None, *, label: str | None = None
) -> Iterator[None]:
    """Turn an error of the store's driver into a :class:`StoreError` naming the connection, what was
    being done (``doing``, else read from the traceback: writing a batch, evolving the tables ...), the
    cause, and whether retrying can help (by the error's SQLSTATE / SQLite code: driver_errors). Other
    errors pass unchanged (this package's own, and bugs, which are not the store's)."""
    try:
        yield
    except CustomerImportError:
        raise
    except dialect.error_types() as exc:
        fatal = dialect.is_fatal(exc)
        kind = "fails" if fatal else "is unavailable"
        where = label or f"profile store connection {conn_id!r} ({dialect.name})"
        raise StoreError(
            f"{where} {kind} while {doing or _doing(exc)}: {dialect.describe_error(exc)}", fatal=fatal
        ) from exc


LOCAL_EXECUTORS = frozenset({"LocalExecutor", "SequentialExecutor", "DebugExecutor"})


def distributed_executor() -> str | None:
    """The configured ``[core] executor`` when tasks may run on another machine than the last one, else None.

    Local: one of ``LOCAL_EXECUTORS`` alone, or a task run by ``dag.test()`` / ``airflow dags test`` (in
    the calling process, whatever the configuration says). Anything else is distributed: Celery,
    Kubernetes, Edge, any other executor, and a list of several executors.
    """
    import sys

    from airflow.configuration import conf

    runner = sys.modules.get("airflow.sdk.execution_time.task_runner")
    comms = getattr(runner, "SUPERVISOR_COMMS", None)
    if type(comms).__name__ == "InProcessSupervisorComms":
        return None
    configured = str(conf.get("core", "executor", fallback="") or "LocalExecutor").strip()
    entries = [entry.strip() for entry in configured.split(",") if entry.strip()]
    names = [entry.split(":")[-1].rsplit(".", 1)[-1] for entry in entries]
    if len(names) == 1 and names[0] in LOCAL_EXECUTORS:
        return None
    return configured


def _refuse_embedded_store_on_distributed_executor(path: Path) -> None:
    """Fail before anything is written: on a distributed executor the embedded SQLite file would live on
    whichever worker ran the task, and the next run (on another worker) would not see those profiles."""
    executor = distributed_executor()
    if executor is None:
        return
    from airflow.sdk.exceptions import AirflowFailException

    raise AirflowFailException(
        f"the Airflow connection {DEFAULT_CONN_ID!r} is not defined, and the executor {executor!r} runs "
        f"tasks on several machines: the embedded SQLite store ({path}) would keep profiles on one worker's "
        f"disk. Configure the connection {DEFAULT_CONN_ID!r} to the shared PostgreSQL store on every worker "
        f"(e.g. AIRFLOW_CONN_{DEFAULT_CONN_ID.upper()}=postgresql://user:password@host:5432/profiles)"
    )


def _sqlite(path: Path) -> Iterator[tuple[StoreDialect, Any]]:
    import sqlite3

    path.parent.mkdir(parents=True, exist_ok=True)
    dialect = store_dialect_for("sqlite")
    label = f"the embedded profile store {os.fspath(path)!r} (sqlite; {DEFAULT_CONN_ID!r} is not defined)"
    with store_errors(dialect, DEFAULT_CONN_ID, "connecting", label=label):
        raw = sqlite3.connect(os.fspath(path), isolation_level=None, timeout=60)
    with closing(raw), store_errors(dialect, DEFAULT_CONN_ID, label=label):
        yield dialect, raw
