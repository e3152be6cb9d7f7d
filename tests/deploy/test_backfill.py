"""Backfills on a live scheduler: ``airflow backfill create`` over 3 days runs 3 runs, each reading exactly
its day through ``{{ data_interval_start }}`` / ``{{ data_interval_end }}``, without touching the shared
cursor, while a triggered run beside it loses and duplicates nothing.

The plan runs daily at T, a time of day about 12 hours before the test starts (so no tick passes while it
runs); its latest tick T ran when the DAG was unpaused (start_date is in the past). Rows by window:

    [T-1d, T]     ids 1..3         the scheduled run at T
    [T-2d, T-1d]  ids 1001..1004   backfill
    [T-3d, T-2d]  ids 2001..2005   backfill
    [T-4d, T-3d]  ids 3001..3006   backfill
    last hour     ids 501..502     the triggered run (logical date now: its interval is the last day)
"""

from __future__ import annotations

import datetime as dt

import pendulum
import pytest

from tests.deploy import data
from tests.deploy.harness import Deployment

pytestmark = pytest.mark.deploy

DAG_ID = "deploy_bf_customers"
QUERY = (
    "SELECT id, email, first_name FROM {table} WHERE id > {lastItem} "
    "AND updated_at >= '{{ data_interval_start }}' AND updated_at < '{{ data_interval_end }}' ORDER BY id"
)
CURSOR = f"customer_import.{DAG_ID}.last_item"
TABLE = "source_bf"


def test_backfill_reads_each_day_and_leaves_the_cursor(local_deployment: Deployment) -> None:
    d = local_deployment
    data.prepare(d, TABLE)
    now = pendulum.now("UTC")
    tick = now.subtract(hours=12).replace(second=0, microsecond=0)  # T: the plan's latest tick
    day = dt.timedelta(days=1)
    two_hours = dt.timedelta(hours=2)
    data.insert(
        d,
        TABLE,
        data.rows(1, 3, tick - day + two_hours, "bf-today")
        + data.rows(1001, 4, tick - 2 * day + two_hours, "bf-day1")
        + data.rows(2001, 5, tick - 3 * day + two_hours, "bf-day2")
        + data.rows(3001, 6, tick - 4 * day + two_hours, "bf-day3"),
    )
    d.write_spec(
        DAG_ID,
        data.spec(
            DAG_ID,
            table=TABLE,
            times=tick.strftime("%H:%M"),
            query=QUERY,
            start_date=(now - 10 * day).date().isoformat(),
        ),
    )
    d.wait_for_dags(DAG_ID)

    # The scheduled run of the latest tick T, as soon as the DAG is switched on.
    d.set_paused(DAG_ID, False)
    [scheduled] = d.wait_for_runs(DAG_ID, 1, run_type="scheduled")
    print("scheduled:", data.run_summary(d, DAG_ID, scheduled))
    assert scheduled["state"] == "success"
    assert pendulum.parse(scheduled["data_interval_start"]) == tick - day
    assert pendulum.parse(scheduled["data_interval_end"]) == tick
    assert d.report(DAG_ID, scheduled["dag_run_id"])["summary"]["read"] == 3
    assert d.variable(CURSOR) == "3"

    # A backfill of the 3 days before, and a triggered run beside it.
    data.insert(d, TABLE, data.rows(501, 2, now - dt.timedelta(hours=1), "bf-late"))
    created = d.airflow(
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        (tick - 3 * day).isoformat(),
        "--to-date",
        (tick - day).isoformat(),
    )
    print(created.stdout.strip()[-2000:])
    manual_id = d.trigger(DAG_ID, logical_date=now.isoformat())
    backfill = d.wait_for_runs(DAG_ID, 3, run_type="backfill")
    manual = d.wait_for_run(DAG_ID, manual_id)
    for run in [*backfill, manual]:
        print("after the backfill:", data.run_summary(d, DAG_ID, run))

    assert [r["state"] for r in backfill] == ["success"] * 3
    expected = {  # interval start -> rows read (each run reads its own day only)
        tick - 4 * day: 6,
        tick - 3 * day: 5,
        tick - 2 * day: 4,
    }
    seen = {}
    for run in backfill:
        start, end = pendulum.parse(run["data_interval_start"]), pendulum.parse(run["data_interval_end"])
        assert end - start == day
        summary = d.report(DAG_ID, run["dag_run_id"])["summary"]
        assert summary["cursor_before"] == 0  # start_value: a backfill never reads the shared cursor
        seen[start] = summary["read"]
    assert seen == expected

    assert manual["state"] == "success"
    manual_summary = d.report(DAG_ID, manual_id)["summary"]
    assert (manual_summary["read"], manual_summary["cursor_before"], manual_summary["cursor_after"]) == (
        2,
        3,
        502,
    )
    # The shared cursor moved only with the triggered run: the backfill left it alone.
    assert d.variable(CURSOR) == "502"
    print("cursor Variable:", d.variable(CURSOR))

    # Nothing lost, nothing duplicated: every source row is one profile.
    emails = data.stored_emails(d, "bf-")
    assert len(emails) == len(set(emails)) == 20
    assert emails == data.source_emails(d, TABLE)
