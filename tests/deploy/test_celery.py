"""The CeleryExecutor: two ``airflow celery worker`` processes (worker-a, worker-b; concurrency 1 each).

A scheduled import and a triggered one succeed on the workers (the task instances' hostname names the
worker, ``[core] hostname_callable``; their Celery task ids are in that worker's log); connections come
through the Task SDK with no deprecation warning in any task log; and without ``profile_store_default``
a run fails before writing anything, saying to configure it (the embedded SQLite file would live on one
worker's disk).
"""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from tests.deploy import data
from tests.deploy.harness import Deployment

pytestmark = pytest.mark.deploy

SCHEDULED = "deploy_celery_scheduled"
TRIGGERED = "deploy_celery_triggered"
EMBEDDED = "deploy_celery_embedded"
TABLE = "source_celery"
DEPRECATED = "get_connection_from_secrets"


def test_scheduled_and_triggered_imports_run_on_the_workers(celery_deployment: Deployment) -> None:
    d = celery_deployment
    data.prepare(d, TABLE)
    now = pendulum.now("UTC")
    data.insert(d, TABLE, data.rows(1, 50, now, "celery"))
    tick = now.subtract(hours=12).strftime("%H:%M")  # the latest tick runs once the DAG is switched on
    start = (now - dt.timedelta(days=3)).date().isoformat()
    d.write_spec(SCHEDULED, data.spec(SCHEDULED, table=TABLE, times=tick, start_date=start))
    far = now.add(hours=12).strftime("%H:%M")
    d.write_spec(TRIGGERED, data.spec(TRIGGERED, table=TABLE, times=far))
    d.wait_for_dags(SCHEDULED, TRIGGERED)

    d.set_paused(SCHEDULED, False)
    d.set_paused(TRIGGERED, False)  # a paused DAG's triggered runs wait for it to be switched on
    run_id = d.trigger(TRIGGERED)
    [scheduled] = d.wait_for_runs(SCHEDULED, 1, run_type="scheduled")
    triggered = d.wait_for_run(TRIGGERED, run_id)
    assert (scheduled["state"], triggered["state"]) == ("success", "success")
    assert triggered["run_type"] == "manual"

    worker_logs = {name: d.process_log(name) for name in d.workers}
    used = set()
    for dag_id, run in ((SCHEDULED, scheduled), (TRIGGERED, triggered)):
        summary = d.report(dag_id, run["dag_run_id"])["summary"]
        assert (summary["read"], summary["cursor_after"]) == (50, 50)
        celery_ids = d.celery_task_ids(dag_id, run["dag_run_id"])
        for task_id, ti in sorted(d.task_instances(dag_id, run["dag_run_id"]).items()):
            worker = ti["hostname"]
            print(
                f"{dag_id} {run['run_type']} {task_id}: state={ti['state']} hostname={worker} pid={ti['pid']} "
                f"celery task {celery_ids[task_id]}"
            )
            assert ti["state"] == "success"
            assert worker in d.workers
            # The worker named in the task instance received its Celery task; the other one did not.
            received = f"execute_workload[{celery_ids[task_id]}] received"
            assert [name for name, log in worker_logs.items() if received in log] == [worker]
            used.add(worker)
    print("workers used:", sorted(used))
    # Both imports stored the same 50 customers once: one profile each.
    emails = data.stored_emails(d, "celery-")
    assert len(emails) == len(set(emails)) == 50

    # Connections come through the Task SDK: no deprecated core lookup in any task log.
    logs = [*d.task_log_files(SCHEDULED), *d.task_log_files(TRIGGERED)]
    assert len(logs) >= 4
    for path in logs:
        assert DEPRECATED not in path.read_text(errors="replace"), path


def test_embedded_store_under_celery_fails_before_writing(celery_deployment: Deployment) -> None:
    d = celery_deployment
    data.prepare(d, TABLE)
    embedded = d.home / "embedded" / "profiles.db"
    d.write_spec(
        EMBEDDED, data.spec(EMBEDDED, table=TABLE, times=pendulum.now("UTC").add(hours=12).strftime("%H:%M"))
    )
    d.wait_for_dags(EMBEDDED)
    d.set_paused(EMBEDDED, False)
    d.delete_connection("profile_store_default")
    try:
        run = d.wait_for_run(EMBEDDED, d.trigger(EMBEDDED))
    finally:
        d.add_connection("profile_store_default", d.data_uri())
    assert run["state"] == "failed"
    tis = d.task_instances(EMBEDDED, run["dag_run_id"])
    assert tis["prepare_store"]["state"] == "failed"
    assert tis["import_profiles"]["state"] == "upstream_failed"
    assert tis["prepare_store"]["try_number"] == 1  # not retried: retrying cannot fix it
    [log] = [p for p in d.task_log_files(EMBEDDED) if "task_id=prepare_store" in str(p)]
    text = log.read_text(errors="replace")
    assert "profile_store_default" in text and "CeleryExecutor" in text
    assert "Configure the connection" in text
    print("prepare_store failed on", tis["prepare_store"]["hostname"], "with:", _error_line(text))
    assert not embedded.exists()  # nothing written on the worker's disk
    assert DEPRECATED not in text


def _error_line(text: str) -> str:
    for line in text.splitlines():
        if "Configure the connection" in line:
            return line[:600]
    return ""
