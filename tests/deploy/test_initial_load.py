"""The parallel initial load on real processes: the CeleryExecutor with two workers (worker-a, worker-b).

A spec with ``initial_load: {partitions: 4}`` is triggered through the REST API. One partition's source
rows fail (a transient error) until the test releases them: the run fails with three partitions staged,
nothing written into the profiles and the cursor untouched. The failed partition is then cleared through
the REST API (as an operator would retry it): it runs again alone, the import task writes every staged
batch and moves the cursor to the maximum. The partitions ran on both workers.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import pendulum
import pytest

from tests.deploy import data
from tests.deploy.harness import Deployment

pytestmark = pytest.mark.deploy

DAG_ID = "deploy_initial_load"
TABLE = "source_initial_load"
ROWS = 4000
FAILING_ID = 2500  # in the third of four partitions of 1000 rows
GUARD = f"""
CREATE TABLE IF NOT EXISTS release_{TABLE} (ok boolean);
-- STABLE: the plan's boundaries query reads only the cursor column (id) and PostgreSQL drops this call
CREATE OR REPLACE FUNCTION guarded_{TABLE}(i integer, email text) RETURNS text LANGUAGE plpgsql STABLE AS $$
BEGIN
  IF i = {FAILING_ID} AND NOT EXISTS (SELECT 1 FROM release_{TABLE}) THEN
    RAISE EXCEPTION 'source hiccup at row %', i USING ERRCODE = '40001';
  END IF;
  RETURN email;
END $$;
"""


def partitions(d: Deployment, run_id: str) -> list[dict[str, Any]]:
    found = d.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/load_partition/listMapped")
    return sorted(found["task_instances"], key=lambda ti: ti["map_index"])


def wait_for_state(d: Deployment, run_id: str, state: str, timeout: float = 600) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = d.api("GET", f"/dags/{DAG_ID}/dagRuns/{run_id}")
        if run["state"] == state:
            return dict(run)
        time.sleep(2)
    raise AssertionError(f"run {run_id} did not reach {state!r} in {timeout}s (last: {run['state']})")


def test_partitions_run_on_both_workers_and_a_failed_one_is_retried_alone(
    celery_deployment: Deployment,
) -> None:
    d = celery_deployment
    data.prepare(d, TABLE)
    now = pendulum.now("UTC")
    data.insert(d, TABLE, data.rows(1, ROWS, now - dt.timedelta(days=1), "initial"))
    with d.data() as db:
        db.execute(GUARD)
    text = data.spec(
        DAG_ID,
        table=TABLE,
        times=now.add(hours=12).strftime("%H:%M"),
        query=f"SELECT id, guarded_{TABLE}(id, email) AS email, first_name FROM {{table}} "
        "WHERE id > {lastItem} ORDER BY id",
    )
    text = text.replace(
        "  cursor: {column: id, start_value: 0}\n",
        "  cursor: {column: id, start_value: 0}\n  initial_load: {partitions: 4}\n",
    )
    assert "initial_load" in text
    d.write_spec(DAG_ID, text)
    d.wait_for_dags(DAG_ID)
    d.set_paused(DAG_ID, False)

    run_id = d.trigger(DAG_ID)
    failed = d.wait_for_run(DAG_ID, run_id)
    assert failed["state"] == "failed"
    first = partitions(d, run_id)
    print(
        "first attempt:", [(ti["map_index"], ti["state"], ti["try_number"], ti["hostname"]) for ti in first]
    )
    assert [ti["state"] for ti in first] == ["success", "success", "failed", "success"]
    tis = d.task_instances(DAG_ID, run_id)
    assert tis["plan_initial_load"]["state"] == "success"
    assert tis["import_profiles"]["state"] == "upstream_failed"
    # Nothing reached the profiles, the cursor did not move; three partitions wait, staged.
    assert data.stored_emails(d, "initial-") == []
    assert d.variable(f"customer_import.{DAG_ID}.last_item") is None
    with d.data() as db:
        staged = db.execute(
            "SELECT partition_no, sum(row_count) FROM customers_staged_batches WHERE import_name = %s "
            "GROUP BY 1 ORDER BY 1",
            (DAG_ID,),
        ).fetchall()
    assert staged == [(0, 1000), (1, 1000), (3, 1000)]

    # The source recovers; the operator clears the failed partition (and what follows it) in the API.
    with d.data() as db:
        db.execute(f"INSERT INTO release_{TABLE} VALUES (true)")
    d.api(
        "POST",
        f"/dags/{DAG_ID}/clearTaskInstances",
        json={
            "dry_run": False,
            "dag_run_id": run_id,
            "task_ids": [["load_partition", 2]],
            "include_downstream": True,
            "only_failed": False,
            "reset_dag_runs": True,
        },
    )
    done = wait_for_state(d, run_id, "success")
    assert done["state"] == "success"
    second = partitions(d, run_id)
    print(
        "after the retry:",
        [(ti["map_index"], ti["state"], ti["try_number"], ti["hostname"]) for ti in second],
    )
    assert [ti["state"] for ti in second] == ["success"] * 4
    assert [ti["try_number"] for ti in second] == [1, 1, 2, 1]  # only the failed partition ran again
    hosts = {ti["hostname"] for ti in (*first, *second)}
    print("partitions ran on:", sorted(hosts))
    assert hosts == set(d.workers)  # both workers took partitions

    summary = d.report(DAG_ID, run_id)["summary"]
    assert (summary["read"], summary["created"], summary["failed"]) == (ROWS, ROWS, 0)
    assert summary["cursor_after"] == ROWS
    assert d.variable(f"customer_import.{DAG_ID}.last_item") == str(ROWS)
    emails = data.stored_emails(d, "initial-")
    assert len(emails) == len(set(emails)) == ROWS
    with d.data() as db:
        assert db.execute(
            "SELECT count(*) FROM customers_staged_batches WHERE import_name = %s", (DAG_ID,)
        ).fetchone() == (0,)
