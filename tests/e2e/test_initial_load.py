"""The parallel initial load (``source.initial_load``) through ``dag.test()`` on real PostgreSQL: the
store ends exactly as a single-task load leaves it, a partition that fails once is retried alone, the
cursor moves to the maximum only after every partition, and the next run is incremental.

Across Celery workers: ``tests/deploy/test_initial_load.py``.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import PG_DSN, airflow_conn_env
from tests.e2e.conftest import run_dag, variable

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

NAME = "pg_first_load"
ROWS = 2000
# Skewed cursor values: the first 1200 rows share 10 hours (120 rows per value, so tiles of 500 rows end
# inside a value), the rest one hour each.
# Rows 1001..2000 repeat the emails of rows 1..1000 with other names (or none: keep_existing_on_empty),
# so one customer has rows in two partitions; every 40th email is broken.
SOURCE_DDL = f"""
CREATE TABLE customers (id bigint PRIMARY KEY, email text, first_name text, tier text, updated_at timestamptz);
INSERT INTO customers
SELECT i,
       CASE WHEN i % 40 = 0 THEN 'broken-' || i ELSE 'user' || ((i - 1) % 1000) || '@Example.COM' END,
       CASE WHEN i > 1000 AND i % 3 = 0 THEN NULL ELSE 'Name ' || i END,
       (ARRAY['bronze','silver','gold'])[1 + i % 3],
       CASE WHEN i <= 1200 THEN timestamptz '2025-01-01 00:00+00' + ((i - 1) / 120) * interval '1 hour'
            ELSE timestamptz '2025-02-01 00:00+00' + i * interval '1 hour' END
FROM generate_series(1, {ROWS}) AS i;
CREATE TABLE release (ok boolean);
-- STABLE: PostgreSQL drops the unused column from the plan's boundaries query, so only partitions call it
CREATE FUNCTION guarded(i bigint) RETURNS bigint LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF i = 1500 AND NOT EXISTS (SELECT 1 FROM release) THEN
    RAISE EXCEPTION 'source hiccup at row %', i USING ERRCODE = '40001';
  END IF;
  RETURN i;
END $$;
"""
QUERY = (
    "SELECT guarded(id) AS id, email, first_name, tier, updated_at FROM customers "
    "WHERE updated_at > {lastItem} ORDER BY updated_at"
)


def spec(partitions: int | None) -> dict[str, Any]:
    source: dict[str, Any] = {
        "conn_id": "pg_src",
        "table": "customers",
        "query": QUERY,
        "cursor": {"column": "updated_at", "start_value": "2000-01-01T00:00:00+00:00"},
    }
    if partitions is not None:
        source["initial_load"] = {"partitions": partitions}
    return {
        "name": NAME,
        "target": {"database": "customers", "matching": {"by": "email_profile"}},
        "source": source,
        "prevent_duplication": {"keep_existing_on_empty": True},
        "mapping": [
            {"field": "crm_id", "column": "id"},
            {"field": "email", "column": "email"},
            {"field": "first_name", "column": "first_name"},
            {"field": "tier", "column": "tier"},
        ],
    }


@pytest.fixture
def databases(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A source and two stores (single-task load, partitioned load) as throwaway databases."""
    names = {role: f"ci_test_{role}_{uuid.uuid4().hex[:8]}" for role in ("src", "single", "parallel")}
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            uris = {role: PG_DSN.rsplit("/", 1)[0] + "/" + name for role, name in names.items()}
            with psycopg.connect(uris["src"], autocommit=True) as db:
                db.execute(SOURCE_DDL)
            monkeypatch.setenv(airflow_conn_env("pg_src"), uris["src"])
            monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__BATCH_SIZE", "150")
            yield uris
        finally:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def store_state(uri: str) -> dict[str, Any]:
    """What a load leaves: every profile's values, the events per type, the rejected rows."""
    with psycopg.connect(uri) as db:
        return {
            "profiles": db.execute(
                "SELECT email, crm_id, first_name, tier FROM customers_profiles ORDER BY email"
            ).fetchall(),
            "events": db.execute(
                "SELECT event_type, count(*) FROM customers_events GROUP BY 1 ORDER BY 1"
            ).fetchall(),
            "rejections": db.execute(
                "SELECT row_no, cursor_value, code FROM customers_rejections ORDER BY row_no"
            ).fetchall(),
            "staged": db.execute("SELECT to_regclass('customers_staged_batches') IS NOT NULL").fetchone(),
        }


def task_tries(dag_id: str) -> dict[tuple[str, int], tuple[str, int]]:
    """The latest run's task instances: (task, map index) -> (state, tries)."""
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        latest = session.scalar(
            select(DagRun.run_id).where(DagRun.dag_id == dag_id).order_by(DagRun.id.desc())
        )
        rows = session.execute(
            select(
                TaskInstance.task_id, TaskInstance.map_index, TaskInstance.state, TaskInstance.try_number
            ).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == latest)
        ).all()
    return {(task, index): (str(state), int(tries)) for task, index, state, tries in rows}


def release_after_first_failure(uri: str, stop: threading.Event) -> None:
    """Let the failing database work again once a task has failed (a task instance is up for retry)."""
    while not stop.is_set():
        if any(state == "up_for_retry" for state, _ in task_tries(NAME).values()):
            with psycopg.connect(uri, autocommit=True) as db:
                db.execute("INSERT INTO release VALUES (true)")
            return
        time.sleep(0.2)


# The store fails (a transient error) when the import task writes crm_id 1500, in the third partition's
# staged batches: the batches before it are written, the task fails and is retried.
STORE_FAULT = """
CREATE TABLE release (ok boolean);
CREATE FUNCTION refuse_1500() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.crm_id = 1500 AND NOT EXISTS (SELECT 1 FROM release) THEN
    RAISE EXCEPTION 'store hiccup at crm_id %', NEW.crm_id USING ERRCODE = '40001';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_1500 BEFORE INSERT OR UPDATE ON customers_profiles FOR EACH ROW EXECUTE FUNCTION refuse_1500();
"""


def prepared_store_with_fault(uri: str) -> None:
    """The profile tables made ahead of the run (as prepare_store makes them), with the fault's trigger."""
    import yaml

    from customer_import.spec.database import ProfileDatabase
    from customer_import.store.connection import open_store
    from customer_import.store.writer import ensure_schema
    from tests.conftest import REPO

    database = yaml.safe_load((REPO / "include" / "profile_databases" / "customers.yaml").read_text())
    with open_store() as (dialect, connection):
        ensure_schema(dialect, connection, ProfileDatabase.model_validate(database))
    with psycopg.connect(uri, autocommit=True) as db:
        db.execute(STORE_FAULT)


@pytest.mark.parametrize("failing", ["source", "store"])
def test_partitioned_load_equals_a_single_task_load_after_a_failed_task_is_retried(
    project: Any, databases: dict[str, str], monkeypatch: pytest.MonkeyPatch, failing: str
) -> None:
    """``source``: one partition's read fails once: that partition alone runs again. ``store``: the
    import task fails once while writing the staged batches: it runs again, writing each batch once."""
    key = f"customer_import.{NAME}.last_item"
    # The reference: one task, the same query, the same store code.
    with psycopg.connect(databases["src"], autocommit=True) as db:
        db.execute("INSERT INTO release VALUES (true)")
    monkeypatch.setenv(airflow_conn_env("profile_store_default"), databases["single"])
    project(spec(None))
    state, single_report = run_dag(NAME)
    assert state == "success" and single_report is not None
    single_cursor = variable(key)
    reference = store_state(databases["single"])

    # The same load in 4 partitions; row 1500 fails once with a transient error (source or store).
    from airflow.models import Variable

    Variable.delete(key)
    monkeypatch.setenv(airflow_conn_env("profile_store_default"), databases["parallel"])
    if failing == "source":
        with psycopg.connect(databases["src"], autocommit=True) as db:
            db.execute("DELETE FROM release")
    else:
        prepared_store_with_fault(databases["parallel"])
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__RETRIES", "1")
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__RETRY_DELAY_SECONDS", "3")
    project(spec(4))
    stop = threading.Event()
    failing_db = databases["src" if failing == "source" else "parallel"]
    releaser = threading.Thread(target=release_after_first_failure, args=(failing_db, stop), daemon=True)
    releaser.start()
    try:
        state, report = run_dag(NAME)
    finally:
        stop.set()
        releaser.join(timeout=10)
    assert state == "success" and report is not None
    tries = task_tries(NAME)
    partitions = sorted(
        (index, tries[key]) for key in tries if key[0] == "load_partition" for index in [key[1]]
    )
    print("partitions (map index, (state, tries)):", partitions)
    assert [index for index, _ in partitions] == [0, 1, 2, 3]
    retried = 1 if failing == "source" else 0
    assert [t for _, t in partitions].count(("success", 2)) == retried  # the failing one, retried alone
    assert [t for _, t in partitions].count(("success", 1)) == 4 - retried
    assert tries[("plan_initial_load", -1)] == ("success", 1)
    assert tries[("import_profiles", -1)] == ("success", 2 - retried)

    parallel = store_state(databases["parallel"])
    assert reference["staged"] == (False,) and parallel["staged"] == (True,)
    with psycopg.connect(databases["parallel"]) as db:  # every staged batch written, and deleted
        assert db.execute("SELECT count(*) FROM customers_staged_batches").fetchone() == (0,)
    assert parallel["profiles"] == reference["profiles"]
    assert parallel["events"] == reference["events"]
    assert parallel["rejections"] == reference["rejections"]
    assert len(reference["profiles"]) == 975 and reference["rejections"]  # the data does what it says
    if failing == "source":  # one attempt of the import task wrote everything: the same counts
        for count in ("read", "created", "updated", "unchanged", "skipped", "failed"):
            assert report["summary"][count] == single_report["summary"][count], count
        assert report["summary"]["read"] == ROWS
    else:  # the retry reports what it wrote: the batches the first attempt had not committed
        assert 0 < report["summary"]["read"] < ROWS
    assert variable(key) == single_cursor == "2025-04-25T08:00:00+00:00"

    # The next run is incremental: no partitions, only the rows after the cursor.
    with psycopg.connect(databases["src"], autocommit=True) as db:
        db.execute(
            "INSERT INTO customers VALUES (5001, 'new@example.com', 'New', 'gold', '2026-01-01 00:00+00')"
        )
    state, report = run_dag(NAME)
    assert state == "success" and report is not None
    assert (report["summary"]["read"], report["summary"]["created"]) == (1, 1)
    assert variable(key) == "2026-01-01T00:00:00+00:00"
