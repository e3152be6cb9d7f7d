"""Schedule plans (``spec/schedule.py``) as Airflow's built-in timetables, plus a one-line description.

Every calendar plan becomes cron, evaluated by Airflow in the plan's IANA ``timezone``, so runs keep their
wall-clock time across DST changes. What Airflow 3.3 does on the transition days (checked in
``tests/unit/test_schedule.py``):

* a time that does not exist (spring forward, e.g. 02:30 in Europe/Berlin on 2026-03-29) runs one hour
  later on the wall clock, at the same UTC instant as 03:30 (01:30 UTC);
* a time that exists twice (fall back, e.g. 02:30 in Europe/Berlin on 2026-10-25) runs once, at the second
  occurrence (02:30 CET = 01:30 UTC);
* two times of one plan that land on the same instant (02:00 and 03:00 on a spring-forward day) give one run.

Each run's data interval is one period of the plan, so a query can window on ``{{ data_interval_start }}`` /
``{{ data_interval_end }}`` (backfills do): calendar and cron plans from the plan's previous tick to the run
(``calendar_timetable.py``), ``interval`` plans the last ``every``. ``once`` runs have zero-length intervals.

``interval`` plans count elapsed time (``every: 1d`` is 24 hours, not "same time tomorrow"). With catchup the
ticks are start_date + n * every; without it (the 3.x default) the first run starts as soon as the scheduler
sees the DAG, and each next one ``every`` after the previous run (or at once, if that is already past).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, assert_never

import pendulum
from airflow.sdk import DeltaTriggerTimetable

from customer_import.schedule.calendar_timetable import CalendarTimetable
from customer_import.spec.schedule import (
    CronPlan,
    DailyPlan,
    IntervalPlan,
    ManualPlan,
    MonthlyPlan,
    NthWeekdayPlan,
    OncePlan,
    Schedule,
    WeeklyPlan,
)
from customer_import.spec.vocab import Weekday

if TYPE_CHECKING:
    from airflow.sdk.bases.timetable import BaseTimetable
    from airflow.timetables.base import Timetable as CoreTimetable

__all__ = ["build_timetable", "cron_expressions", "dag_window", "describe"]

CalendarPlan = DailyPlan | WeeklyPlan | MonthlyPlan | NthWeekdayPlan

# Cron's day-of-week numbers (croniter agrees: 0 is Sunday).
_CRON_DOW: dict[Weekday, int] = {
    Weekday.SUN: 0,
    Weekday.MON: 1,
    Weekday.TUE: 2,
    Weekday.WED: 3,
    Weekday.THU: 4,
    Weekday.FRI: 5,
    Weekday.SAT: 6,
}
_DAY_NAMES: dict[Weekday, str] = {
    Weekday.MON: "Monday",
    Weekday.TUE: "Tuesday",
    Weekday.WED: "Wednesday",
    Weekday.THU: "Thursday",
    Weekday.FRI: "Friday",
    Weekday.SAT: "Saturday",
    Weekday.SUN: "Sunday",
}
_MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_ORDINALS = {1: "1st", 2: "2nd", 3: "3rd", 4: "4th", 5: "5th", -1: "last"}


def build_timetable(plan: Schedule) -> BaseTimetable | CoreTimetable | None:
    """The timetable for the DAG's ``schedule=``; ``None`` (manual/API runs only) for a manual plan.

    Calendar and cron plans get :class:`CalendarTimetable` (registered by this provider's plugin): Airflow's
    cron timetables run at the same times but give every run an interval of one fixed length, which no
    calendar plan has (DST days, months, several times a day). ``interval`` plans get the SDK's
    ``DeltaTriggerTimetable`` with ``interval=every``. ``once`` uses the core
    ``airflow.timetables.events.EventsTimetable``: in Airflow 3.3.2 a DAG with the SDK's ``EventsTimetable``
    cannot be serialised (the SDK encoder leaves out the ``_summary`` key that core
    ``EventsTimetable.deserialize`` reads, so parsing fails with ``KeyError: '_summary'``).

    Raises ``ValueError`` for a plan that can never fire (e.g. ``monthly`` on day 31 in April only, or a
    ``cron`` for 30 February): Airflow would accept it and then fail when computing the next run.
    """
    match plan:
        case ManualPlan():
            return None
        case OncePlan():
            return _once_timetable(plan)
        case IntervalPlan():
            return DeltaTriggerTimetable(plan.delta(), interval=plan.delta())
        case CronPlan():
            _check_fires(plan.expression)
            return CalendarTimetable(plan.expression, timezone=plan.timezone, description=describe(plan))
        case DailyPlan() | WeeklyPlan() | MonthlyPlan() | NthWeekdayPlan():
            crons = cron_expressions(plan)
            for cron in crons:
                _check_fires(cron)
            return CalendarTimetable(*crons, timezone=plan.timezone, description=describe(plan))
        case _:
            assert_never(plan)


def _once_timetable(plan: OncePlan) -> CoreTimetable:
    """Runs at the plan's instants only (aware datetimes, compared with the scheduler's UTC clock).

    Behaviour of core ``EventsTimetable`` in Airflow 3.3:

    * with ``catchup=False`` (the 3.x default) it looks for events at or after
      ``max(start_date, now)``: an instant that is already past when the DAG is deployed or unpaused
      never runs, and once the last instant has passed the DAG simply has no next run;
    * with ``catchup=True`` every instant at or after ``start_date`` runs, past ones at once;
    * ``deactivate_at`` (the DAG's ``end_date``) drops the instants after it;
    * ``restrict_to_events=True``: a manual run gets the logical date of the latest instant before it (or of
      the first instant, if none has passed yet).
    """
    from airflow.timetables.events import EventsTimetable

    return EventsTimetable(
        event_dates=sorted(set(plan.instants())),
        restrict_to_events=True,
        presorted=True,
        description=describe(plan),
    )


def cron_expressions(plan: CalendarPlan) -> list[str]:
    """One five-field cron per distinct time of day, to be evaluated in ``plan.timezone``."""
    months = "*" if isinstance(plan, DailyPlan) else _cron_list(plan.months)
    match plan:
        case DailyPlan():
            day_of_month, day_of_week = "*", "*"
        case WeeklyPlan():
            day_of_month, day_of_week = "*", _cron_list([_CRON_DOW[d] for d in plan.weekdays])
        case MonthlyPlan():
            days = sorted({d for d in plan.days if d > 0})
            day_of_month = ",".join([str(d) for d in days] + (["L"] if -1 in plan.days else []))
            day_of_week = "*"
        case NthWeekdayPlan():
            weekday = _CRON_DOW[plan.weekday]
            day_of_month = "*"
            day_of_week = f"L{weekday}" if plan.nth == -1 else f"{weekday}#{plan.nth}"
        case _:
            assert_never(plan)
    crons = []
    for time in sorted(set(plan.times)):
        hour, minute = (int(part) for part in time.split(":"))
        crons.append(f"{minute} {hour} {day_of_month} {months} {day_of_week}")
    return crons


def _cron_list(values: list[int] | None) -> str:
    return ",".join(str(v) for v in sorted(set(values))) if values else "*"


def _check_fires(cron: str) -> None:
    from croniter import CroniterBadDateError, croniter

    try:
        croniter(cron, dt.datetime(2000, 1, 1)).get_next(dt.datetime)
    except CroniterBadDateError as exc:
        raise ValueError(f"the schedule {cron!r} never fires (no such day in the chosen months)") from exc


def dag_window(plan: Schedule) -> tuple[pendulum.DateTime | None, pendulum.DateTime | None]:
    """``(start_date, end_date)`` for the DAG: the plan's start_date and deactivate_at in its time zone.

    Naive values are wall-clock times in ``plan.timezone``. Airflow keeps a run that falls exactly on
    ``end_date`` and none after it.
    """
    start = plan.localize(plan.start_date) if plan.start_date is not None else None
    end = plan.localize(plan.deactivate_at) if plan.deactivate_at is not None else None
    return start, end


def describe(plan: Schedule) -> str:
    """A short description for the DAG doc, e.g. ``daily at 03:00, 15:30 (Europe/Berlin)``."""
    zone = f" ({plan.timezone})"
    match plan:
        case ManualPlan():
            text = "manual runs only"
        case OncePlan():
            text = _describe_once(plan.instants()) + zone
        case DailyPlan():
            text = f"daily at {_times(plan.times)}" + zone
        case WeeklyPlan():
            days = ", ".join(_DAY_NAMES[d][:3] for d in sorted(set(plan.weekdays), key=_weekday_index))
            text = f"weekly on {days}{_in_months(plan.months)} at {_times(plan.times)}" + zone
        case MonthlyPlan():
            numbered = [str(d) for d in sorted({d for d in plan.days if d > 0})]
            parts = ([f"day {', '.join(numbered)}"] if numbered else []) + (
                ["the last day"] if -1 in plan.days else []
            )
            text = f"monthly on {' and '.join(parts)}{_in_months(plan.months)} at {_times(plan.times)}" + zone
        case NthWeekdayPlan():
            which = f"the {_ORDINALS[plan.nth]} {_DAY_NAMES[plan.weekday]}"
            text = f"monthly on {which}{_in_months(plan.months)} at {_times(plan.times)}" + zone
        case IntervalPlan():
            text = f"every {plan.every.strip()}"
        case CronPlan():
            text = f"cron '{plan.expression}'" + zone
        case _:
            assert_never(plan)
    start, end = dag_window(plan)
    if start is not None:
        text += f", from {_clock(start, with_date=True)}"
    if end is not None:
        text += f", until {_clock(end, with_date=True)}"
    return text


def _describe_once(instants: list[pendulum.DateTime]) -> str:
    dates = {i.date() for i in instants}
    if len(instants) == 1:
        return f"once at {_clock(instants[0], with_date=True)}"
    if len(dates) == 1:
        return f"once on {instants[0].date().isoformat()} at {', '.join(_clock(i) for i in instants)}"
    return "once at " + ", ".join(_clock(i, with_date=True) for i in instants)


def _clock(value: dt.datetime, *, with_date: bool = False) -> str:
    text = value.strftime("%H:%M:%S" if value.second else "%H:%M")
    return f"{value.date().isoformat()} {text}" if with_date else text


def _times(times: list[str]) -> str:
    return ", ".join(sorted(set(times)))


def _in_months(months: list[int] | None) -> str:
    return f" in {', '.join(_MONTH_ABBR[m - 1] for m in sorted(set(months)))}" if months else ""


def _weekday_index(day: Weekday) -> int:
    return list(Weekday).index(day)
