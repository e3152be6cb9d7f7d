"""run_immediately on a live scheduler: one run per deployed spec *content* version, nobody triggering.

A new spec starts exactly one run; ``touch``, a copy of the unchanged file and a reformatted file with
the same content start none; one changed key starts exactly one more; a scheduler and dag-processor
restart starts none. The plan's own time is 12 hours away, so every run seen here is a deploy run.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil

import pendulum
import pytest

from tests.deploy import data
from tests.deploy.harness import Deployment

pytestmark = pytest.mark.deploy

DAG_ID = "deploy_ri_customers"
PLAIN_DAG_ID = "deploy_plain_customers"
TABLE = "source_ri"


def test_run_immediately_runs_once_per_spec_version(local_deployment: Deployment, tmp_path: object) -> None:
    d = local_deployment
    data.prepare(d, TABLE)
    now = dt.datetime.now(dt.UTC)
    data.insert(d, TABLE, data.rows(1, 5, now, "ri"))
    far = (now + dt.timedelta(hours=12)).strftime("%H:%M")  # the plan's own tick is 12 hours away
    text = data.spec(DAG_ID, table=TABLE, times=far, run_immediately=True)
    path = d.write_spec(DAG_ID, text)
    d.write_spec(PLAIN_DAG_ID, data.spec(PLAIN_DAG_ID, table=TABLE, times=far))

    d.wait_for_dags(DAG_ID, PLAIN_DAG_ID)
    # Airflow creates new DAGs paused here ([core] dags_are_paused_at_creation); run_immediately opts out.
    assert d.dag(DAG_ID)["is_paused"] is False
    assert d.dag(PLAIN_DAG_ID)["is_paused"] is True

    # 1. A new spec: exactly one run, started by the scheduler.
    [first] = d.wait_for_runs(DAG_ID, 1)
    print("after deploy:", data.run_summary(d, DAG_ID, first))
    assert first["state"] == "success"
    assert first["run_type"] == "scheduled"
    assert first["triggered_by"] == "timetable"
    assert d.report(DAG_ID, first["dag_run_id"])["summary"]["read"] == 5
    assert d.runs(PLAIN_DAG_ID) == []

    # 2. touch, a copy of the unchanged file, the same content written differently: no run.
    os.utime(path)
    copy = d.home / "spec-copy.yaml"
    shutil.copy(path, copy)
    shutil.copy(copy, path)
    reformatted = "# reformatted, same content\n" + text.replace(
        "description: deployment test", "description: 'deployment test'"
    )
    reformatted = reformatted.replace(
        "target: {database: customers, matching: {by: email}}",
        "target:\n  matching: {by: email}\n  database: customers\n  mode: upsert",
    )
    assert reformatted != text
    d.write_spec(DAG_ID, reformatted)
    d.wait_for_parses(DAG_ID, 2)
    assert len(d.runs(DAG_ID)) == 1
    print("after touch/copy/reformat: runs=1, next run after", no_deploy_run_pending(d))

    # 3. One changed key: exactly one more run (it reads the rows added since).
    data.insert(d, TABLE, data.rows(6, 2, now, "ri"))
    d.write_spec(DAG_ID, text.replace("description: deployment test", "description: deployment test, v2"))
    runs = d.wait_for_runs(DAG_ID, 2)
    for run in runs:
        print("after a changed key:", data.run_summary(d, DAG_ID, run))
    assert [r["state"] for r in runs] == ["success", "success"]
    assert d.report(DAG_ID, runs[1]["dag_run_id"])["summary"]["read"] == 2

    # 4. A scheduler and dag-processor restart: no run.
    d.restart("scheduler")
    d.restart("dag-processor")
    d.wait_for_parses(DAG_ID, 2)
    assert len(d.runs(DAG_ID)) == 2
    no_deploy_run_pending(d)
    assert d.variable(f"customer_import.{DAG_ID}.last_item") == "7"
    assert data.stored_emails(d, "ri-") == data.source_emails(d, TABLE)
    print("after restarting scheduler and dag-processor: runs=2, cursor=7")


def no_deploy_run_pending(d: Deployment) -> object:
    """The DAG's next run is the plan's own tick, 12 hours away: no deploy run is due (one would be "now")."""
    next_run = pendulum.parse(d.dag(DAG_ID)["next_dagrun_run_after"])
    assert next_run > pendulum.now("UTC").add(hours=11), next_run
    return next_run
