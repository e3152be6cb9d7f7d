"""run_immediately: one run when the spec version is deployed, then the plan's own schedule."""

from __future__ import annotations

from collections.abc import Iterator

import pendulum
import pytest
import time_machine
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.timetables.base import DataInterval, TimeRestriction

from customer_import.schedule.deploy_run import DeployRunTimetable
from customer_import.schedule.timetables import build_timetable
from customer_import.spec.schedule import DailyPlan

UTC = pendulum.UTC
DEPLOYED = pendulum.datetime(2026, 11, 28, 10, 17, tz=UTC)
NO_LIMIT = TimeRestriction(earliest=None, latest=None, catchup=False)


@pytest.fixture(autouse=True)
def _now_is_just_after_the_deploy() -> Iterator[None]:
    """Without catchup, Airflow's timetables never schedule before "now": freeze it just after DEPLOYED."""
    with time_machine.travel(DEPLOYED.add(minutes=5), tick=False):
        yield


def daily() -> DeployRunTimetable:
    plan = DailyPlan(plan="daily", times=["03:00"], timezone="Europe/Berlin")
    return DeployRunTimetable(coerce_to_core_timetable(build_timetable(plan)), DEPLOYED)


def test_first_run_is_at_deploy_then_the_plan_continues() -> None:
    timetable = daily()
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=NO_LIMIT)
    assert first is not None
    assert first.run_after == DEPLOYED
    after = timetable.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=NO_LIMIT)
    assert after is not None
    assert after.run_after == pendulum.datetime(2026, 11, 29, 2, 0, tz=UTC)  # 03:00 Berlin


def test_a_run_before_this_deploy_does_not_count_a_run_after_it_does() -> None:
    timetable = daily()
    before = DataInterval.exact(pendulum.datetime(2026, 11, 28, 2, 0, tz=UTC))
    info = timetable.next_dagrun_info(last_automated_data_interval=before, restriction=NO_LIMIT)
    assert info is not None
    assert info.run_after == DEPLOYED
    later = DataInterval.exact(pendulum.datetime(2026, 11, 29, 2, 0, tz=UTC))
    info = timetable.next_dagrun_info(last_automated_data_interval=later, restriction=NO_LIMIT)
    assert info is not None
    assert info.run_after == pendulum.datetime(2026, 11, 30, 2, 0, tz=UTC)


def test_start_date_and_deactivate_at_bound_the_deploy_run() -> None:
    timetable = DeployRunTimetable(None, DEPLOYED)
    start = pendulum.datetime(2026, 12, 1, tz=UTC)
    info = timetable.next_dagrun_info(
        last_automated_data_interval=None,
        restriction=TimeRestriction(earliest=start, latest=None, catchup=False),
    )
    assert info is not None
    assert info.run_after == start
    ended = TimeRestriction(earliest=None, latest=pendulum.datetime(2026, 11, 1, tz=UTC), catchup=False)
    assert timetable.next_dagrun_info(last_automated_data_interval=None, restriction=ended) is None


def test_manual_plan_runs_once_per_deploy_only() -> None:
    timetable = DeployRunTimetable(None, DEPLOYED)
    first = timetable.next_dagrun_info(last_automated_data_interval=None, restriction=NO_LIMIT)
    assert first is not None
    assert (
        timetable.next_dagrun_info(last_automated_data_interval=first.data_interval, restriction=NO_LIMIT)
        is None
    )
    assert timetable.periodic is False


@pytest.mark.parametrize("inner", [True, False])
def test_serialises_and_deserialises(inner: bool) -> None:
    timetable = daily() if inner else DeployRunTimetable(None, DEPLOYED)
    again = DeployRunTimetable.deserialize(timetable.serialize())
    assert again == timetable
    assert again.summary == timetable.summary
