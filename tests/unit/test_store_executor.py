"""The embedded SQLite store only where tasks run on one machine; connections inside a task via the SDK only.

The live counterpart (a run under the CeleryExecutor failing before it writes anything) is
``tests/deploy/test_celery.py``.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowFailException

from customer_import.hooks import connections
from customer_import.store.connection import distributed_executor, open_store


@pytest.mark.parametrize(
    ("executor", "distributed"),
    [
        ("LocalExecutor", False),
        ("airflow.executors.local_executor.LocalExecutor", False),
        ("my_local:LocalExecutor", False),
        ("SequentialExecutor", False),
        ("CeleryExecutor", True),
        ("airflow.providers.celery.executors.celery_executor.CeleryExecutor", True),
        ("KubernetesExecutor", True),
        ("airflow.providers.edge3.executors.EdgeExecutor", True),
        ("LocalExecutor,CeleryExecutor", True),  # a task may land on either
        ("my.company.SomeExecutor", True),  # unknown: assume it spreads tasks
    ],
)
def test_distributed_executors(monkeypatch: pytest.MonkeyPatch, executor: str, distributed: bool) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", executor)
    assert (distributed_executor() is not None) is distributed


def test_dag_test_runs_tasks_in_process_whatever_the_executor(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    runner = types.ModuleType("airflow.sdk.execution_time.task_runner")
    runner.SUPERVISOR_COMMS = type("InProcessSupervisorComms", (), {})()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.sdk.execution_time.task_runner", runner)
    assert distributed_executor() is None


def test_embedded_store_under_celery_fails_before_writing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "embedded" / "profiles.db"
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__EMBEDDED_STORE_PATH", str(path))
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "CeleryExecutor")
    monkeypatch.delenv("AIRFLOW_CONN_PROFILE_STORE_DEFAULT", raising=False)
    with pytest.raises(AirflowFailException, match="profile_store_default") as failure, open_store():
        pass
    assert "CeleryExecutor" in str(failure.value)
    assert not path.parent.exists()


def test_embedded_store_under_the_local_executor(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "embedded" / "profiles.db"
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__EMBEDDED_STORE_PATH", str(path))
    monkeypatch.setenv("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    monkeypatch.delenv("AIRFLOW_CONN_PROFILE_STORE_DEFAULT", raising=False)
    with open_store() as (dialect, _):
        assert dialect.name == "sqlite"
    assert path.exists()


def test_inside_a_task_a_missing_connection_is_not_asked_of_the_core_model(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The core model's lookup is deprecated inside tasks (a DeprecationWarning in every task log)."""
    from airflow.models.connection import Connection
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    def missing(conn_id: str) -> None:
        raise AirflowNotFoundException(f"The conn_id `{conn_id}` isn't defined")

    def deprecated(*args: object, **kwargs: object) -> None:
        raise AssertionError("Connection.get_connection_from_secrets was called inside a task")

    runner = types.ModuleType("airflow.sdk.execution_time.task_runner")
    runner.SUPERVISOR_COMMS = object()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.sdk.execution_time.task_runner", runner)
    monkeypatch.setattr(BaseHook, "get_connection", classmethod(lambda cls, conn_id: missing(conn_id)))
    monkeypatch.setattr(Connection, "get_connection_from_secrets", classmethod(deprecated))
    assert connections.in_task()
    assert connections.find_connection("profile_store_default") is None
