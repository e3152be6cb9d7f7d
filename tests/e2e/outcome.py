"""What a ``dag.test()`` run of an import did: its state, report, how often Airflow ran the import task,
and every exception a task raised, with what Airflow made of it (recorded by the tasks' own
``on_retry_callback`` / ``on_failure_callback``, which Airflow calls with the exception).

``tries == 1`` with retries allowed means Airflow did not retry (``AirflowFailException``); ``tries == 2``
means it retried.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tests.e2e.conftest import load_dagbag

TASK = "import_profiles"


@dataclass(frozen=True)
class Raised:
    task_id: str
    then: str  # "retry" or "failure": which callback Airflow called
    error: BaseException

    @property
    def message(self) -> str:
        return str(self.error)


@dataclass
class Outcome:
    state: str  # the DAG run's
    report: dict[str, Any] | None  # the import task's XCom return value
    tries: int  # how many times the import task ran
    task_state: str
    raised: list[Raised] = field(default_factory=list)


def run(dag_id: str) -> Outcome:
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = load_dagbag()
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    raised: list[Raised] = []

    def recorder(task_id: str, then: str) -> Callable[[Any], None]:
        def record(context: Any) -> None:
            raised.append(Raised(task_id, then, context["exception"]))

        return record

    for task in dag.tasks:
        task.on_retry_callback = [recorder(task.task_id, "retry")]
        task.on_failure_callback = [recorder(task.task_id, "failure")]
    dag_run = dag.test(logical_date=None)
    with create_session() as session:
        report = session.scalar(
            select(XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == dag_run.run_id,
                XComModel.task_id == TASK,
                XComModel.key == "return_value",
            )
        )
        tries, task_state = session.execute(
            select(TaskInstance.try_number, TaskInstance.state).where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == dag_run.run_id,
                TaskInstance.task_id == TASK,
            )
        ).one()
    return Outcome(str(dag_run.state), report, int(tries or 0), str(task_state), raised)


@contextmanager
def in_background(action: Callable[[], None]) -> Iterator[list[BaseException]]:
    """Run ``action`` in a thread while the block runs; yields the list its exception lands in."""
    errors: list[BaseException] = []

    def guarded() -> None:
        try:
            action()
        except BaseException as exc:  # reported by the test after the block
            errors.append(exc)

    thread = threading.Thread(target=guarded, name="outage", daemon=True)
    thread.start()
    try:
        yield errors
    finally:
        thread.join(timeout=120)


def gated_source(rows: int, gate_row: int, lock_key: int) -> str:
    """DDL of a PostgreSQL source of ``rows`` customers whose query (``SELECT gate(id) AS id ...``) waits
    before row ``gate_row`` while the test holds the advisory lock ``lock_key``: the test decides when the
    read goes on, after the batches before it are committed."""
    return f"""
CREATE TABLE customers (id bigint PRIMARY KEY, email text);
INSERT INTO customers SELECT i, 'user' || i || '@example.com' FROM generate_series(1, {rows}) AS i;
ANALYZE customers;
CREATE FUNCTION gate(i bigint) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  IF i = {gate_row} THEN PERFORM pg_advisory_xact_lock_shared({lock_key}); END IF;
  RETURN i;
END $$;
"""
