"""Schedule plans -> timetables: the fire times Airflow's scheduler-side classes compute, DST included.

Pure unit tests: no metadata database. Importing Airflow reads ``AIRFLOW_HOME`` (and creates ``logs/`` in
it), so unless the environment already sets one, this module points it at a fresh temporary directory
*before* anything imports Airflow.

Plans are written as YAML, as in a spec file, and parsed with ``TypeAdapter(Schedule)``. Every expected
instant is UTC, ``YYYY-MM-DD HH:MM``; the comment gives the wall-clock time in the plan's zone. ``END`` means
``next_dagrun_info`` returned None (no further run).
"""

from __future__ import annotations

import os
import tempfile

os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="airflow-home-"))

import datetime as dt
from typing import Any

import pendulum
import pytest
import time_machine
import yaml
from airflow.sdk import DAG, DeltaTriggerTimetable, EventsTimetable
from airflow.serialization.encoders import coerce_to_core_timetable
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction
from pydantic import TypeAdapter, ValidationError

from customer_import.schedule.calendar_timetable import CalendarTimetable
from customer_import.schedule.timetables import (
    build_timetable,
    cron_expressions,
    dag_window,
    describe,
)
from customer_import.spec.schedule import (
    DailyPlan,
    MonthlyPlan,
    NthWeekdayPlan,
    Schedule,
    WeeklyPlan,
)

SCHEDULE: TypeAdapter[Any] = TypeAdapter(Schedule)
END = "END"


def plan_of(text: str) -> Any:
    return SCHEDULE.validate_python(yaml.safe_load(text))


def fire_times(text: str, start: str | None, count: int, *, catchup: bool = True) -> list[str]:
    """The next ``count`` runs of the plan as the scheduler computes them, in UTC; ``END`` when they stop.

    ``restriction.earliest`` is the DAG's start_date (the plan's) or else ``start``; ``latest`` is the
    plan's deactivate_at, exactly as the DAG factory hands them to Airflow.
    """
    return [END if info is None else utc(info.run_after) for info in next_runs(text, start, count, catchup)]


def data_intervals(text: str, start: str | None, count: int) -> list[str]:
    """The data intervals of the plan's next ``count`` runs (with catchup), ``start -> end`` in UTC."""
    return [
        END
        if info is None or info.data_interval is None
        else f"{utc(info.data_interval.start)} -> {utc(info.data_interval.end)}"
        for info in next_runs(text, start, count, catchup=True)
    ]


def utc(instant: dt.datetime) -> str:
    return pendulum.instance(instant).in_timezone("UTC").strftime("%Y-%m-%d %H:%M")


def next_runs(text: str, start: str | None, count: int, catchup: bool) -> list[DagRunInfo | None]:
    """The run infos behind ``fire_times``: the list ends with None when the plan stops."""
    plan = plan_of(text)
    window_start, window_end = dag_window(plan)
    assert (window_start is None) != (start is None), "give a start only for plans without start_date"
    earliest = window_start or pendulum.parse(start or "")
    assert isinstance(earliest, pendulum.DateTime)
    timetable = build_timetable(plan)
    assert timetable is not None
    core = coerce_to_core_timetable(timetable)
    restriction = TimeRestriction(earliest=earliest, latest=window_end, catchup=catchup)
    runs: list[DagRunInfo | None] = []
    last: DataInterval | None = None
    for _ in range(count):
        info = core.next_dagrun_info(last_automated_data_interval=last, restriction=restriction)
        runs.append(info)
        if info is None:
            break
        # A run starts when its data interval ends; its logical date is the interval's start.
        assert info.data_interval is not None
        assert info.data_interval.end == info.run_after
        assert info.logical_date == info.data_interval.start
        last = info.data_interval
    return runs


BERLIN = "timezone: Europe/Berlin"
NEW_YORK = "timezone: America/New_York"

FIRE_TIMES = [
    pytest.param(
        f"{{plan: daily, times: ['15:30', '03:00', '09:15'], {BERLIN}}}",
        "2026-06-01T00:00Z",
        [
            "2026-06-01 01:00",  # 03:00 CEST
            "2026-06-01 07:15",  # 09:15
            "2026-06-01 13:30",  # 15:30
            "2026-06-02 01:00",
            "2026-06-02 07:15",
            "2026-06-02 13:30",
            "2026-06-03 01:00",
        ],
        id="daily-several-times",
    ),
    pytest.param(
        f"{{plan: daily, times: ['03:00'], {BERLIN}}}",
        "2026-03-27T00:00Z",
        [
            "2026-03-27 02:00",  # 03:00 CET
            "2026-03-28 02:00",  # 03:00 CET
            "2026-03-29 01:00",  # 03:00 CEST, the day clocks jump 02:00 -> 03:00
            "2026-03-30 01:00",  # 03:00 CEST
        ],
        id="berlin-0300-spring-forward",
    ),
    pytest.param(
        f"{{plan: daily, times: ['02:30'], {BERLIN}}}",
        "2026-03-27T00:00Z",
        [
            "2026-03-27 01:30",  # 02:30 CET
            "2026-03-28 01:30",  # 02:30 CET
            "2026-03-29 01:30",  # 02:30 does not exist: runs at 03:30 CEST
            "2026-03-30 00:30",  # 02:30 CEST
        ],
        id="berlin-0230-spring-forward",
    ),
    pytest.param(
        f"{{plan: daily, times: ['03:00'], {BERLIN}}}",
        "2026-10-23T00:00Z",
        [
            "2026-10-23 01:00",  # 03:00 CEST
            "2026-10-24 01:00",  # 03:00 CEST
            "2026-10-25 02:00",  # 03:00 CET, the day clocks go back 03:00 -> 02:00
            "2026-10-26 02:00",  # 03:00 CET
        ],
        id="berlin-0300-fall-back",
    ),
    pytest.param(
        f"{{plan: daily, times: ['02:30'], {BERLIN}}}",
        "2026-10-23T00:00Z",
        [
            "2026-10-23 00:30",  # 02:30 CEST
            "2026-10-24 00:30",  # 02:30 CEST
            "2026-10-25 01:30",  # 02:30 happens twice: runs once, at the second (CET)
            "2026-10-26 01:30",  # 02:30 CET
        ],
        id="berlin-0230-fall-back",
    ),
    pytest.param(
        f"{{plan: daily, times: ['02:00', '03:00'], {BERLIN}}}",
        "2026-03-28T00:00Z",
        [
            "2026-03-28 01:00",  # 02:00 CET
            "2026-03-28 02:00",  # 03:00 CET
            "2026-03-29 01:00",  # 02:00 (missing, moved to 03:00) and 03:00 CEST: one run
            "2026-03-30 00:00",  # 02:00 CEST
            "2026-03-30 01:00",  # 03:00 CEST
        ],
        id="berlin-two-times-merge-at-spring-forward",
    ),
    pytest.param(
        f"{{plan: daily, times: ['02:30'], {NEW_YORK}}}",
        "2026-03-06T12:00Z",
        [
            "2026-03-07 07:30",  # 02:30 EST
            "2026-03-08 07:30",  # 02:30 does not exist: 03:30 EDT
            "2026-03-09 06:30",  # 02:30 EDT
            "2026-03-10 06:30",
        ],
        id="new-york-spring-forward",
    ),
    pytest.param(
        f"{{plan: daily, times: ['01:30'], {NEW_YORK}}}",
        "2026-10-30T12:00Z",
        [
            "2026-10-31 05:30",  # 01:30 EDT
            "2026-11-01 06:30",  # 01:30 twice: the second (EST)
            "2026-11-02 06:30",  # 01:30 EST
            "2026-11-03 06:30",
        ],
        id="new-york-fall-back",
    ),
    pytest.param(
        "{plan: weekly, weekdays: [mon, wed, fri], times: ['18:00', '09:00']}",
        "2026-06-01T00:00Z",
        [
            "2026-06-01 09:00",  # Mon
            "2026-06-01 18:00",
            "2026-06-03 09:00",  # Wed
            "2026-06-03 18:00",
            "2026-06-05 09:00",  # Fri
            "2026-06-05 18:00",
            "2026-06-08 09:00",  # Mon
        ],
        id="weekly-several-days-and-times",
    ),
    pytest.param(
        f"{{plan: weekly, weekdays: [sun], months: [10, 3], times: ['02:30'], {BERLIN}}}",
        "2026-03-10T00:00Z",
        [
            "2026-03-15 01:30",  # 02:30 CET
            "2026-03-22 01:30",
            "2026-03-29 01:30",  # 03:30 CEST (spring forward)
            "2026-10-04 00:30",  # April-September skipped; 02:30 CEST
            "2026-10-11 00:30",
            "2026-10-18 00:30",
            "2026-10-25 01:30",  # 02:30 CET (second 02:30)
            "2027-03-07 01:30",  # November-February skipped
        ],
        id="weekly-with-months",
    ),
    pytest.param(
        "{plan: monthly, days: [31], times: ['06:00']}",
        "2026-01-01T00:00Z",
        [
            "2026-01-31 06:00",
            "2026-03-31 06:00",  # months without a 31st are skipped
            "2026-05-31 06:00",
            "2026-07-31 06:00",
            "2026-08-31 06:00",
            "2026-10-31 06:00",
        ],
        id="monthly-day-31",
    ),
    pytest.param(
        "{plan: monthly, days: [-1], times: ['06:00']}",
        "2027-12-15T00:00Z",
        [
            "2027-12-31 06:00",
            "2028-01-31 06:00",
            "2028-02-29 06:00",  # leap year
            "2028-03-31 06:00",
            "2028-04-30 06:00",
        ],
        id="monthly-last-day",
    ),
    pytest.param(
        f"{{plan: monthly, days: [-1, 15], months: [2], times: ['06:00'], {BERLIN}}}",
        "2027-01-01T00:00Z",
        [
            "2027-02-15 05:00",  # 06:00 CET
            "2027-02-28 05:00",  # not a leap year
            "2028-02-15 05:00",
            "2028-02-29 05:00",  # leap year
            "2029-02-15 05:00",
            "2029-02-28 05:00",
        ],
        id="monthly-last-day-of-february",
    ),
    pytest.param(
        f"{{plan: nth_weekday, weekday: mon, nth: 2, times: ['09:00'], {BERLIN}}}",
        "2026-01-01T00:00Z",
        [
            "2026-01-12 08:00",  # 09:00 CET
            "2026-02-09 08:00",
            "2026-03-09 08:00",
            "2026-04-13 07:00",  # 09:00 CEST
        ],
        id="nth-weekday-2nd-monday",
    ),
    pytest.param(
        "{plan: nth_weekday, weekday: fri, nth: 5, times: ['09:00']}",
        "2026-01-01T00:00Z",
        [
            "2026-01-30 09:00",
            "2026-05-29 09:00",  # February-April have four Fridays
            "2026-07-31 09:00",
            "2026-10-30 09:00",
            "2027-01-29 09:00",
        ],
        id="nth-weekday-5th-friday",
    ),
    pytest.param(
        f"{{plan: nth_weekday, weekday: sun, nth: -1, times: ['03:00'], {BERLIN}}}",
        "2026-01-01T00:00Z",
        [
            "2026-01-25 02:00",  # 03:00 CET
            "2026-02-22 02:00",
            "2026-03-29 01:00",  # 03:00 CEST
            "2026-04-26 01:00",
        ],
        id="nth-weekday-last-sunday",
    ),
    pytest.param(
        f"{{plan: nth_weekday, weekday: sun, nth: -1, months: [3, 10], times: ['02:30'], {BERLIN}}}",
        "2026-01-01T00:00Z",
        [
            "2026-03-29 01:30",  # 03:30 CEST
            "2026-10-25 01:30",  # second 02:30, CET
            "2027-03-28 01:30",
            "2027-10-31 01:30",
        ],
        id="nth-weekday-last-sunday-dst-days",
    ),
    pytest.param(
        f"{{plan: interval, every: 15m, {BERLIN}}}",
        "2026-03-29T00:20Z",
        [
            "2026-03-29 00:20",  # 01:20 CET
            "2026-03-29 00:35",
            "2026-03-29 00:50",
            "2026-03-29 01:05",  # 03:05 CEST: elapsed time, not wall clock
            "2026-03-29 01:20",
        ],
        id="interval-15m",
    ),
    pytest.param(
        f"{{plan: interval, every: 2h, start_date: 2026-03-29 01:10:00, {BERLIN}}}",
        None,
        [
            "2026-03-29 00:10",  # start_date, 01:10 CET
            "2026-03-29 02:10",  # 04:10 CEST
            "2026-03-29 04:10",
        ],
        id="interval-2h-from-start-date",
    ),
    pytest.param(
        f"{{plan: cron, expression: '*/20 9-10 * * 1-5', {NEW_YORK}}}",
        "2026-03-06T00:00Z",
        [
            "2026-03-06 14:00",  # Fri 09:00 EST
            "2026-03-06 14:20",
            "2026-03-06 14:40",
            "2026-03-06 15:00",
            "2026-03-06 15:20",
            "2026-03-06 15:40",  # 10:40
            "2026-03-09 13:00",  # Mon 09:00 EDT, after the weekend's switch
        ],
        id="cron",
    ),
    pytest.param(
        f"{{plan: once, at: 2026-05-01 09:00:00, {BERLIN}}}",
        "2026-01-01T00:00Z",
        ["2026-05-01 07:00", END],  # 09:00 CEST
        id="once-at",
    ),
    pytest.param(
        "{plan: once, at: 2026-05-01 09:00:00+02:00}",
        "2026-01-01T00:00Z",
        ["2026-05-01 07:00", END],
        id="once-at-with-offset",
    ),
    pytest.param(
        f"{{plan: once, at: [2026-05-01 17:00:00, 2026-05-01 09:00:00], {BERLIN}}}",
        "2026-01-01T00:00Z",
        ["2026-05-01 07:00", "2026-05-01 15:00", END],
        id="once-at-list",
    ),
    pytest.param(
        f"{{plan: once, date: 2026-05-01, times: ['17:00', '09:00', '09:00'], {BERLIN}}}",
        "2026-01-01T00:00Z",
        ["2026-05-01 07:00", "2026-05-01 15:00", END],
        id="once-date-and-times",
    ),
    pytest.param(
        f"{{plan: once, at: [2020-05-01 05:00:00, 2020-05-01 13:00:00], {NEW_YORK}}}",
        "2020-05-01T12:00Z",
        ["2020-05-01 17:00", END],  # 13:00 EDT; the 05:00 EDT run is before earliest
        id="once-past-instants-with-catchup",
    ),
    pytest.param(
        f"{{plan: daily, times: ['03:00'], deactivate_at: 2026-06-03 03:00:00, {BERLIN}}}",
        "2026-06-01T00:00Z",
        ["2026-06-01 01:00", "2026-06-02 01:00", "2026-06-03 01:00", END],  # a run at deactivate_at is kept
        id="deactivate-at-stops-daily",
    ),
    pytest.param(
        f"{{plan: interval, every: 1h, deactivate_at: 2026-06-01 04:30:00, {BERLIN}}}",
        "2026-06-01T00:00Z",
        ["2026-06-01 00:00", "2026-06-01 01:00", "2026-06-01 02:00", END],
        id="deactivate-at-stops-interval",
    ),
    pytest.param(
        "{plan: once, date: 2026-05-01, times: ['09:00', '17:00'],"
        f" deactivate_at: 2026-05-01 12:00:00, {BERLIN}}}",
        "2026-01-01T00:00Z",
        ["2026-05-01 07:00", END],
        id="deactivate-at-drops-later-once",
    ),
    pytest.param(
        f"{{plan: daily, times: ['03:00'], start_date: 2026-06-10 12:00:00, {BERLIN}}}",
        None,
        ["2026-06-11 01:00", "2026-06-12 01:00"],  # 2026-06-10 03:00 is before start_date
        id="start-date-delays-first-run",
    ),
    pytest.param(
        f"{{plan: monthly, days: [1], times: ['00:00'], start_date: 2026-02-01, {BERLIN}}}",
        None,
        ["2026-01-31 23:00", "2026-02-28 23:00"],  # start_date on a tick: that tick runs
        id="start-date-on-a-tick",
    ),
]


@pytest.mark.parametrize(("plan", "start", "expected"), FIRE_TIMES)
def test_fire_times(plan: str, start: str | None, expected: list[str]) -> None:
    assert fire_times(plan, start, len(expected)) == expected


@pytest.mark.parametrize(
    ("plan", "start"),
    [
        pytest.param(
            f"{{plan: daily, times: ['03:00'], {BERLIN}}}", "2026-03-25T00:00Z", id="berlin-03-spring"
        ),
        pytest.param(
            f"{{plan: daily, times: ['02:30'], {BERLIN}}}", "2026-03-25T00:00Z", id="berlin-0230-spring"
        ),
        pytest.param(
            f"{{plan: daily, times: ['03:00'], {BERLIN}}}", "2026-10-21T00:00Z", id="berlin-03-fall"
        ),
        pytest.param(
            f"{{plan: daily, times: ['02:30'], {BERLIN}}}", "2026-10-21T00:00Z", id="berlin-0230-fall"
        ),
        pytest.param(
            f"{{plan: daily, times: ['02:00'], {BERLIN}}}", "2026-10-21T00:00Z", id="berlin-02-fall"
        ),
        pytest.param(f"{{plan: daily, times: ['02:30'], {NEW_YORK}}}", "2026-03-04T12:00Z", id="ny-spring"),
        pytest.param(f"{{plan: daily, times: ['01:30'], {NEW_YORK}}}", "2026-10-28T12:00Z", id="ny-fall"),
    ],
)
def test_one_run_per_day_across_dst(plan: str, start: str) -> None:
    zone = plan_of(plan).timezone
    runs = [
        pendulum.from_format(run, "YYYY-MM-DD HH:mm", tz="UTC").in_timezone(zone).date()
        for run in fire_times(plan, start, 10)
    ]
    first = runs[0]
    assert runs == [first + dt.timedelta(days=n) for n in range(10)]


# Data intervals: every run covers one period of its plan, from the plan's previous tick to its own, so a
# query windowed on {{ data_interval_start }} / {{ data_interval_end }} (a backfill's) reads each row once.
DATA_INTERVALS = [
    pytest.param(
        f"{{plan: daily, times: ['03:00'], {BERLIN}}}",
        "2026-03-27T00:00Z",
        [
            "2026-03-26 02:00 -> 2026-03-27 02:00",  # 03:00 CET -> 03:00 CET
            "2026-03-27 02:00 -> 2026-03-28 02:00",
            "2026-03-28 02:00 -> 2026-03-29 01:00",  # 23 hours: the day clocks jump 02:00 -> 03:00
            "2026-03-29 01:00 -> 2026-03-30 01:00",  # 03:00 CEST -> 03:00 CEST
        ],
        id="daily-spring-forward",
    ),
    pytest.param(
        f"{{plan: daily, times: ['03:00'], {BERLIN}}}",
        "2026-10-23T00:00Z",
        [
            "2026-10-22 01:00 -> 2026-10-23 01:00",
            "2026-10-23 01:00 -> 2026-10-24 01:00",
            "2026-10-24 01:00 -> 2026-10-25 02:00",  # 25 hours: the day clocks go back 03:00 -> 02:00
            "2026-10-25 02:00 -> 2026-10-26 02:00",
        ],
        id="daily-fall-back",
    ),
    pytest.param(
        f"{{plan: daily, times: ['15:30', '03:00'], {BERLIN}}}",
        "2026-06-01T00:00Z",
        [
            "2026-05-31 13:30 -> 2026-06-01 01:00",  # 15:30 -> 03:00 CEST: 11.5 hours
            "2026-06-01 01:00 -> 2026-06-01 13:30",  # 03:00 -> 15:30: 12.5 hours
            "2026-06-01 13:30 -> 2026-06-02 01:00",
        ],
        id="several-times-a-day-from-the-previous-time",
    ),
    pytest.param(
        f"{{plan: daily, times: ['02:00', '03:00'], {BERLIN}}}",
        "2026-03-28T00:00Z",
        [
            "2026-03-27 02:00 -> 2026-03-28 01:00",
            "2026-03-28 01:00 -> 2026-03-28 02:00",
            "2026-03-28 02:00 -> 2026-03-29 01:00",  # 02:00 (moved to 03:00) and 03:00 CEST: one run
            "2026-03-29 01:00 -> 2026-03-30 00:00",  # 03:00 CEST -> 02:00 CEST
        ],
        id="two-times-on-one-instant-spring-forward",
    ),
    pytest.param(
        "{plan: weekly, weekdays: [mon, thu], times: ['08:00']}",
        "2026-06-01T00:00Z",
        [
            "2026-05-28 08:00 -> 2026-06-01 08:00",  # Thursday -> Monday
            "2026-06-01 08:00 -> 2026-06-04 08:00",  # Monday -> Thursday
            "2026-06-04 08:00 -> 2026-06-08 08:00",
        ],
        id="weekly",
    ),
    pytest.param(
        "{plan: monthly, days: [-1], times: ['08:00']}",
        "2026-01-15T00:00Z",
        [
            "2025-12-31 08:00 -> 2026-01-31 08:00",
            "2026-01-31 08:00 -> 2026-02-28 08:00",  # 28 days
            "2026-02-28 08:00 -> 2026-03-31 08:00",  # 31 days
        ],
        id="monthly-last-day",
    ),
    pytest.param(
        "{plan: nth_weekday, weekday: mon, nth: 2, times: ['08:00']}",
        "2026-06-01T00:00Z",
        [
            "2026-05-11 08:00 -> 2026-06-08 08:00",  # 2nd Monday of May -> of June
            "2026-06-08 08:00 -> 2026-07-13 08:00",
        ],
        id="nth-weekday",
    ),
    pytest.param(
        "{plan: interval, every: 2h}",
        "2026-06-01T00:00Z",
        ["2026-05-31 22:00 -> 2026-06-01 00:00", "2026-06-01 00:00 -> 2026-06-01 02:00"],
        id="interval-every",
    ),
    pytest.param(
        "{plan: cron, expression: '*/20 9-10 * * *'}",
        "2026-06-01T00:00Z",
        [
            "2026-05-31 10:40 -> 2026-06-01 09:00",  # from the previous tick, the day before
            "2026-06-01 09:00 -> 2026-06-01 09:20",
            "2026-06-01 09:20 -> 2026-06-01 09:40",
        ],
        id="cron-previous-tick",
    ),
    pytest.param(
        f"{{plan: once, at: [2026-05-01 09:00:00, 2026-05-01 17:00:00], {BERLIN}}}",
        "2026-01-01T00:00Z",
        ["2026-05-01 07:00 -> 2026-05-01 07:00", "2026-05-01 15:00 -> 2026-05-01 15:00", END],
        id="once-has-zero-length-intervals",
    ),
]


@pytest.mark.parametrize(("plan", "start", "expected"), DATA_INTERVALS)
def test_data_intervals(plan: str, start: str, expected: list[str]) -> None:
    assert data_intervals(plan, start, len(expected)) == expected


def test_the_first_run_after_an_upgrade_keeps_its_own_logical_date() -> None:
    """Runs made before data intervals had zero length, logical date = their tick. The next run's interval
    would start at that same tick (its logical date): Airflow would skip it as an existing run."""
    timetable = build_timetable(plan_of(f"{{plan: daily, times: ['03:00'], {BERLIN}}}"))
    assert timetable is not None
    core = coerce_to_core_timetable(timetable)
    old_run = DataInterval.exact(pendulum.datetime(2026, 6, 1, 1, tz="UTC"))  # 03:00 CEST, before upgrade
    restriction = TimeRestriction(earliest=None, latest=None, catchup=True)
    info = core.next_dagrun_info(last_automated_data_interval=old_run, restriction=restriction)
    assert info is not None
    assert info.run_after == pendulum.datetime(2026, 6, 2, 1, tz="UTC")
    assert info.logical_date == old_run.end + dt.timedelta(microseconds=1)
    after = core.next_dagrun_info(last_automated_data_interval=info.data_interval, restriction=restriction)
    assert after is not None
    assert after.logical_date == info.run_after  # from then on, from the previous tick


@pytest.mark.parametrize(
    ("plan", "run_after", "expected"),
    [
        pytest.param(
            f"{{plan: daily, times: ['03:00'], {BERLIN}}}",
            "2026-06-01T10:00Z",
            "2026-05-31 10:00 -> 2026-06-01 10:00",
            id="daily-one-day-back",
        ),
        pytest.param(
            f"{{plan: daily, times: ['03:00'], {BERLIN}}}",
            "2026-03-28T10:00Z",
            "2026-03-27 11:00 -> 2026-03-28 10:00",  # the period it falls in lasts 23 hours
            id="daily-spring-forward-period",
        ),
        pytest.param(
            "{plan: interval, every: 15m}", "2026-06-01T10:07Z", "2026-06-01 09:52 -> 2026-06-01 10:07"
        ),
    ],
)
def test_a_manual_run_covers_one_period_of_the_plan(plan: str, run_after: str, expected: str) -> None:
    timetable = build_timetable(plan_of(plan))
    assert timetable is not None
    moment = pendulum.parse(run_after)
    assert isinstance(moment, pendulum.DateTime)
    interval = coerce_to_core_timetable(timetable).infer_manual_data_interval(run_after=moment)
    assert f"{utc(interval.start)} -> {utc(interval.end)}" == expected


# catchup=False measures against the real clock: "now" is frozen at NOW, so "past" and "future" stay so.
NOW = "2026-06-15T12:00:00+00:00"


@pytest.mark.parametrize(
    ("plan", "start", "expected"),
    [
        pytest.param(
            f"{{plan: once, at: [2020-05-01 05:00:00, 2020-05-01 13:00:00], {NEW_YORK}}}",
            "2020-01-01T00:00Z",
            [END],
            id="once-in-the-past-never-runs",
        ),
        pytest.param(
            f"{{plan: once, at: 2026-06-16 09:00:00, {BERLIN}}}",
            "2020-01-01T00:00Z",
            ["2026-06-16 07:00", END],
            id="once-in-the-future",
        ),
        pytest.param(
            f"{{plan: daily, times: ['03:00'], start_date: 2026-07-01 12:00:00, {BERLIN}}}",
            None,
            ["2026-07-02 01:00", "2026-07-03 01:00"],
            id="start-date-in-the-future",
        ),
        pytest.param(
            f"{{plan: daily, times: ['03:00'], start_date: 2019-01-01, deactivate_at: 2020-01-01, {BERLIN}}}",
            None,
            [END],
            id="deactivated-in-the-past",
        ),
    ],
)
@time_machine.travel(NOW, tick=False)
def test_fire_times_without_catchup(plan: str, start: str | None, expected: list[str]) -> None:
    assert fire_times(plan, start, len(expected), catchup=False) == expected


@time_machine.travel(NOW, tick=False)
def test_without_catchup_the_first_run_is_the_next_tick_after_now() -> None:
    """catchup=False skips every tick before "now" (the frozen NOW), whatever the start_date."""
    plan = f"{{plan: daily, times: ['03:00'], start_date: 2026-01-01, {BERLIN}}}"
    assert fire_times(plan, None, 2, catchup=False) == ["2026-06-15 01:00", "2026-06-16 01:00"]


@pytest.mark.parametrize(
    ("plan", "crons"),
    [
        pytest.param("{plan: daily, times: ['9:05']}", ["5 9 * * *"], id="daily"),
        pytest.param(
            "{plan: daily, times: ['15:30', '03:00', '03:00']}",
            ["0 3 * * *", "30 15 * * *"],
            id="daily-dedup",
        ),
        pytest.param(
            "{plan: weekly, weekdays: [sun, sat, mon], times: ['08:00']}", ["0 8 * * 0,1,6"], id="weekly"
        ),
        pytest.param(
            "{plan: weekly, weekdays: [tue], months: [12, 1], times: ['08:00']}",
            ["0 8 * 1,12 2"],
            id="weekly-months",
        ),
        pytest.param(
            "{plan: monthly, days: [-1, 15, 1], times: ['08:00']}", ["0 8 1,15,L * *"], id="monthly"
        ),
        pytest.param(
            "{plan: nth_weekday, weekday: mon, nth: 2, times: ['08:00']}", ["0 8 * * 1#2"], id="2nd-mon"
        ),
        pytest.param(
            "{plan: nth_weekday, weekday: fri, nth: -1, times: ['08:00']}", ["0 8 * * L5"], id="last-fri"
        ),
        pytest.param(
            "{plan: nth_weekday, weekday: sun, nth: 1, months: [4], times: ['08:00']}",
            ["0 8 * 4 0#1"],
            id="1st-sun-april",
        ),
    ],
)
def test_cron_expressions(plan: str, crons: list[str]) -> None:
    parsed = plan_of(plan)
    assert isinstance(parsed, DailyPlan | WeeklyPlan | MonthlyPlan | NthWeekdayPlan)
    assert cron_expressions(parsed) == crons


@pytest.mark.parametrize(
    ("plan", "kind", "summary"),
    [
        pytest.param("{plan: manual}", None, None, id="manual"),
        pytest.param("{plan: daily, times: ['03:00']}", CalendarTimetable, "0 3 * * *", id="daily-one"),
        pytest.param(
            "{plan: daily, times: ['03:00', '15:30']}",
            CalendarTimetable,
            "0 3 * * *, 30 15 * * *",
            id="daily-several",
        ),
        pytest.param("{plan: interval, every: 15m}", DeltaTriggerTimetable, "0:15:00", id="interval"),
        pytest.param("{plan: cron, expression: '0 9 * * 1-5'}", CalendarTimetable, "0 9 * * 1-5", id="cron"),
        pytest.param(
            f"{{plan: once, at: 2026-05-01 09:00:00, {BERLIN}}}",
            None,
            "once at 2026-05-01 09:00 (Europe/Berlin)",
            id="once",
        ),
    ],
)
def test_dag_serialises_and_keeps_the_timetable(plan: str, kind: type | None, summary: str | None) -> None:
    """The DAG the factory builds survives serialisation (what the DAG processor does) with its schedule."""
    parsed = plan_of(plan)
    timetable = build_timetable(parsed)
    if kind is not None:
        assert isinstance(timetable, kind)
    start, end = dag_window(parsed)
    dag = DAG("schedule_probe", schedule=timetable, start_date=start, end_date=end)
    restored = DagSerialization.from_dict(DagSerialization.to_dict(dag))
    if summary is None:
        assert type(restored.timetable).__name__ == "NullTimetable"
    else:
        assert restored.timetable.summary == summary
        assert restored.timetable.can_be_scheduled


def test_sdk_events_timetable_is_not_serialisable_in_this_airflow() -> None:
    """Why ``once`` uses the core EventsTimetable: the SDK one breaks DAG serialisation in Airflow 3.3.2.

    If this test fails, Airflow has fixed it and ``build_timetable`` can return the SDK class again.
    """
    sdk_events = EventsTimetable([pendulum.datetime(2026, 5, 1, 9)], restrict_to_events=True, description="x")
    with pytest.raises(KeyError, match="_summary"):
        coerce_to_core_timetable(sdk_events)


@pytest.mark.parametrize(
    ("plan", "text"),
    [
        pytest.param("{plan: manual}", "manual runs only", id="manual"),
        pytest.param(
            f"{{plan: daily, times: ['15:30', '03:00'], {BERLIN}}}",
            "daily at 03:00, 15:30 (Europe/Berlin)",
            id="daily",
        ),
        pytest.param(
            "{plan: weekly, weekdays: [sun, mon], months: [6, 3], times: ['08:00']}",
            "weekly on Mon, Sun in Mar, Jun at 08:00 (UTC)",
            id="weekly",
        ),
        pytest.param(
            "{plan: monthly, days: [-1, 15, 1], times: ['08:00']}",
            "monthly on day 1, 15 and the last day at 08:00 (UTC)",
            id="monthly",
        ),
        pytest.param(
            "{plan: monthly, days: [-1], times: ['08:00']}",
            "monthly on the last day at 08:00 (UTC)",
            id="last-day",
        ),
        pytest.param(
            "{plan: nth_weekday, weekday: mon, nth: 2, times: ['08:00']}",
            "monthly on the 2nd Monday at 08:00 (UTC)",
            id="nth",
        ),
        pytest.param(
            "{plan: nth_weekday, weekday: sun, nth: -1, months: [10], times: ['08:00']}",
            "monthly on the last Sunday in Oct at 08:00 (UTC)",
            id="last-sunday",
        ),
        pytest.param("{plan: interval, every: 15m}", "every 15m", id="interval"),
        pytest.param(
            f"{{plan: cron, expression: '0 9 * * 1-5', {NEW_YORK}}}",
            "cron '0 9 * * 1-5' (America/New_York)",
            id="cron",
        ),
        pytest.param(
            f"{{plan: once, date: 2026-05-01, times: ['17:00', '09:00'], {BERLIN}}}",
            "once on 2026-05-01 at 09:00, 17:00 (Europe/Berlin)",
            id="once-several",
        ),
        pytest.param(
            "{plan: daily, times: ['03:00'], start_date: 2026-06-01,"
            f" deactivate_at: 2026-12-31 18:00:00, {BERLIN}}}",
            "daily at 03:00 (Europe/Berlin), from 2026-06-01 00:00, until 2026-12-31 18:00",
            id="window",
        ),
    ],
)
def test_describe(plan: str, text: str) -> None:
    assert describe(plan_of(plan)) == text


def test_dag_window_is_aware_in_the_plan_zone() -> None:
    plan = plan_of(
        f"{{plan: daily, times: ['03:00'], start_date: 2026-03-01, deactivate_at: 2026-07-01, {BERLIN}}}"
    )
    start, end = dag_window(plan)
    assert start is not None
    assert end is not None
    assert start.isoformat() == "2026-03-01T00:00:00+01:00"
    assert end.isoformat() == "2026-07-01T00:00:00+02:00"
    assert start.timezone_name == end.timezone_name == "Europe/Berlin"
    assert dag_window(plan_of("{plan: daily, times: ['03:00']}")) == (None, None)


@pytest.mark.parametrize(
    "plan",
    [
        pytest.param(
            "{plan: monthly, days: [31], months: [4, 6, 9, 11], times: ['08:00']}", id="31-in-30-day-months"
        ),
        pytest.param("{plan: monthly, days: [30, 31], months: [2], times: ['08:00']}", id="30-february"),
        pytest.param("{plan: cron, expression: '0 0 30 2 *'}", id="cron-30-february"),
    ],
)
def test_plans_that_never_fire_are_refused(plan: str) -> None:
    with pytest.raises(ValueError, match="never fires"):
        build_timetable(plan_of(plan))


@pytest.mark.parametrize(
    ("plan", "message"),
    [
        pytest.param(
            "{plan: daily, times: [15:30]}", "write times in quotes", id="unquoted-time-read-as-930"
        ),
        pytest.param("{plan: daily, times: ['24:00']}", "not a time of day", id="time-24h"),
        pytest.param("{plan: daily, times: []}", "at least 1 item", id="no-times"),
        pytest.param("{plan: monthly, days: [0], times: ['08:00']}", "days are 1-31", id="day-0"),
        pytest.param(
            "{plan: monthly, days: [32], times: ['08:00']}", "less than or equal to 31", id="day-32"
        ),
        pytest.param("{plan: weekly, weekdays: [monday], times: ['08:00']}", "'mon'", id="weekday-name"),
        pytest.param(
            "{plan: weekly, weekdays: [mon], months: [13], times: ['08:00']}", "less than", id="month-13"
        ),
        pytest.param("{plan: nth_weekday, weekday: mon, nth: 6, times: ['08:00']}", "nth is 1-5", id="nth-6"),
        pytest.param("{plan: nth_weekday, weekday: mon, nth: 0, times: ['08:00']}", "nth is 1-5", id="nth-0"),
        pytest.param(
            "{plan: daily, times: ['08:00'], timezone: Europe/Berln}", "not an IANA", id="bad-timezone"
        ),
        pytest.param(
            "{plan: cron, expression: '61 * * * *'}", "not a valid five-field cron", id="cron-minute"
        ),
        pytest.param("{plan: cron, expression: 'every day'}", "not a valid five-field cron", id="cron-words"),
        pytest.param(
            "{plan: cron, expression: '0 0 * * * *'}", "not a valid five-field cron", id="cron-6-fields"
        ),
        pytest.param("{plan: interval, every: 0m}", "not a duration", id="interval-0m"),
        pytest.param("{plan: interval, every: 30s}", "shortest interval is 1m", id="interval-30s"),
        pytest.param("{plan: interval, every: 15 minutes}", "not a duration", id="interval-words"),
        pytest.param("{plan: once}", "needs either 'at'", id="once-empty"),
        pytest.param(
            "{plan: once, at: [2026-05-01 09:00:00, 2026-05-02 09:00:00]}",
            "all be on one date",
            id="once-two-dates",
        ),
        pytest.param(
            "{plan: daily, times: ['08:00'], start_date: 2026-06-01, deactivate_at: 2026-05-01}",
            "deactivate_at must be after start_date",
            id="window-reversed",
        ),
        pytest.param("{plan: hourly}", "does not match any of the expected tags", id="unknown-plan"),
        pytest.param("{plan: daily, time: ['08:00']}", "Extra inputs are not permitted", id="unknown-key"),
    ],
)
def test_invalid_plans_are_rejected(plan: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        plan_of(plan)


def test_iso_string_without_offset_is_wall_clock_time() -> None:
    plan = plan_of(f"{{plan: once, at: '2026-05-01T09:00', {BERLIN}}}")
    assert plan.instants()[0].isoformat() == "2026-05-01T09:00:00+02:00"


def test_mixed_naive_and_aware_window_is_compared_in_the_plan_timezone() -> None:
    plan_of("{plan: daily, times: ['08:00'], start_date: 2026-06-01, deactivate_at: 2026-07-01T00:00+02:00}")
    with pytest.raises(ValidationError, match="deactivate_at must be after start_date"):
        plan_of(
            "{plan: daily, times: ['08:00'], timezone: Europe/Berlin, start_date: '2026-06-01T01:30', "
            "deactivate_at: '2026-05-31T23:00+00:00'}"
        )
