"""run_immediately by content version: what the timetable decides from its reference run (no database).

The database side (which DAG version the newest scheduled run was created under) is exercised on a live
scheduler in ``tests/deploy/test_run_immediately.py``; here the reference run's answer is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
import time_machine
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction

from customer_import.factory import build_dag
from customer_import.schedule.deploy_run import (
    DeployRunTimetable,
    ReferenceRunInfo,
    _spec_version_of,
    content_version,
)
from customer_import.schedule.timetables import build_timetable
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.loader import load_project, yaml_files
from customer_import.spec.schedule import DailyPlan

UTC = pendulum.UTC
NOW = pendulum.datetime(2026, 11, 28, 10, 17, tz=UTC)
NO_CATCHUP = TimeRestriction(earliest=None, latest=None, catchup=False)
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _frozen_now() -> Iterator[None]:
    with time_machine.travel(NOW, tick=False):
        yield


def daily(version: str = "v1") -> DeployRunTimetable:
    plan = DailyPlan(plan="daily", times=["03:00"], timezone="Europe/Berlin")
    return DeployRunTimetable(coerce_to_core_timetable(build_timetable(plan)), version)


def reference(info: DagRunInfo, *, version_has_run: bool) -> ReferenceRunInfo:
    ref = ReferenceRunInfo(*info)
    ref.version_has_run = version_has_run
    return ref


SCHEDULED_03 = DagRunInfo.interval(
    pendulum.datetime(2026, 11, 27, 2, tz=UTC), pendulum.datetime(2026, 11, 28, 2, tz=UTC)
)


def test_no_automated_run_yet_means_the_deploy_run_is_now() -> None:
    info = daily().next_dagrun_info_v2(last_dagrun_info=None, restriction=NO_CATCHUP)
    assert info is not None
    assert info.run_after == NOW
    # One period of the plan ending now (like a manual run); its start is no tick of the plan.
    assert info.data_interval == DataInterval(NOW.subtract(days=1), NOW)


def test_a_new_version_gets_its_run_an_old_one_does_not() -> None:
    timetable = daily()
    due = timetable.next_dagrun_info_v2(
        last_dagrun_info=reference(SCHEDULED_03, version_has_run=False), restriction=NO_CATCHUP
    )
    assert due is not None
    assert due.run_after == NOW
    done = timetable.next_dagrun_info_v2(
        last_dagrun_info=reference(SCHEDULED_03, version_has_run=True), restriction=NO_CATCHUP
    )
    assert done is not None
    assert done.run_after == pendulum.datetime(2026, 11, 29, 2, tz=UTC)  # the plan's next 03:00 Berlin
    assert done.data_interval == DataInterval(pendulum.datetime(2026, 11, 28, 2, tz=UTC), done.run_after)


def test_after_the_deploy_run_the_plan_continues_from_it() -> None:
    timetable = daily()
    deploy = timetable.next_dagrun_info_v2(last_dagrun_info=None, restriction=NO_CATCHUP)
    assert deploy is not None
    after = timetable.next_dagrun_info_v2(
        last_dagrun_info=reference(deploy, version_has_run=True), restriction=NO_CATCHUP
    )
    assert after is not None
    assert after.run_after == pendulum.datetime(2026, 11, 29, 2, tz=UTC)


def test_backfills_and_callers_without_a_reference_run_see_the_plan_only() -> None:
    timetable = daily()
    backfill = TimeRestriction(earliest=pendulum.datetime(2026, 11, 1, tz=UTC), latest=NOW, catchup=True)
    first = timetable.next_dagrun_info_v2(last_dagrun_info=None, restriction=backfill)
    assert first is not None
    assert first.run_after == pendulum.datetime(2026, 11, 1, 2, tz=UTC)
    # A plain DagRunInfo (the UI calendar, `dags next-execution`) says nothing about versions: no deploy run.
    plain = timetable.next_dagrun_info_v2(last_dagrun_info=SCHEDULED_03, restriction=NO_CATCHUP)
    assert plain is not None
    assert plain.run_after == pendulum.datetime(2026, 11, 29, 2, tz=UTC)


def test_start_date_and_deactivate_at_bound_the_deploy_run() -> None:
    timetable = DeployRunTimetable(None, "v1")
    start = pendulum.datetime(2026, 12, 1, tz=UTC)
    info = timetable.next_dagrun_info_v2(
        last_dagrun_info=None, restriction=TimeRestriction(earliest=start, latest=None, catchup=False)
    )
    assert info is not None
    assert info.run_after == start
    ended = TimeRestriction(earliest=None, latest=pendulum.datetime(2026, 11, 1, tz=UTC), catchup=False)
    assert timetable.next_dagrun_info_v2(last_dagrun_info=None, restriction=ended) is None


def test_manual_plan_runs_once_per_version_only() -> None:
    timetable = DeployRunTimetable(None, "v1")
    first = timetable.next_dagrun_info_v2(last_dagrun_info=None, restriction=NO_CATCHUP)
    assert first is not None
    assert first.data_interval == DataInterval.exact(NOW)
    again = timetable.next_dagrun_info_v2(
        last_dagrun_info=reference(first, version_has_run=True), restriction=NO_CATCHUP
    )
    assert again is None
    assert timetable.periodic is False


@pytest.mark.parametrize("inner", [True, False])
def test_serialises_with_its_version(inner: bool) -> None:
    timetable = daily("abc") if inner else DeployRunTimetable(None, "abc")
    data = timetable.serialize()
    assert data["spec_version"] == "abc"
    again = DeployRunTimetable.deserialize(data)
    assert again == timetable
    assert again.summary == timetable.summary


SPEC = """\
name: versioned
run_immediately: true
target: {database: customers, matching: {by: email}}
schedule: {plan: daily, times: ["03:00"], timezone: Europe/Berlin}
source:
  conn_id: crm
  query: SELECT id, email FROM customers WHERE id > {lastItem} ORDER BY id
  cursor: {column: id, start_value: 0}
mapping:
  - {field: email, column: email}
"""
SAME_CONTENT = """\
# the same spec, reformatted: comments, key order, quoting, flow vs block style, a default written out
name: "versioned"
schedule:
  timezone: 'Europe/Berlin'
  plan: daily
  times: ['03:00']
run_immediately: true
target:
  matching: {by: "email"}
  database: customers
  mode: upsert
source:
  query: SELECT id, email FROM customers WHERE id > {lastItem} ORDER BY id
  conn_id: crm
  cursor: {start_value: 0, column: id}
mapping: [{column: email, field: email}]
"""


def load_spec(tmp_path: Path, text: str) -> tuple[Any, ProfileDatabase]:
    folder = tmp_path / "specs"
    folder.mkdir(exist_ok=True)
    (folder / "versioned.yaml").write_text(text)
    project = load_project(
        yaml_files(folder), yaml_files(REPO / "include" / "profile_databases"), root=tmp_path
    )
    assert not project.problems, project.problems
    spec = project.specs["versioned"].model
    return spec, project.databases[spec.target.database].model


def version_of(tmp_path: Path, text: str) -> str:
    spec, _ = load_spec(tmp_path, text)
    return content_version(spec.model_dump(mode="json"))


def test_the_version_is_the_content_not_the_text(tmp_path: Path) -> None:
    assert version_of(tmp_path, SPEC) == version_of(tmp_path, SAME_CONTENT)
    assert version_of(tmp_path, SPEC) != version_of(tmp_path, SPEC.replace('"03:00"', '"04:00"'))


def test_the_serialized_dag_carries_the_version_where_the_scheduler_reads_it(tmp_path: Path) -> None:
    spec, database = load_spec(tmp_path, SPEC)
    dag = build_dag(spec, database, "versioned.yaml")
    data = DagSerialization.to_dict(dag)
    assert _spec_version_of(data, None) == content_version(spec.model_dump(mode="json"))
    assert "one run per deployed spec version" in (dag.doc_md or "")
    assert dag.is_paused_upon_creation is False


def test_only_run_immediately_dags_are_created_unpaused(tmp_path: Path) -> None:
    spec, database = load_spec(tmp_path, SPEC.replace("run_immediately: true", "run_immediately: false"))
    dag = build_dag(spec, database, "versioned.yaml")
    assert dag.is_paused_upon_creation is None  # Airflow's [core] dags_are_paused_at_creation decides
    assert _spec_version_of(DagSerialization.to_dict(dag), None) is None
