"""Calendar and cron plans: run at every tick; each run's data interval runs from the plan's previous tick.

Airflow's ``CronTriggerTimetable`` / ``MultipleCronTriggerTimetable`` give a run the data interval
``[run - interval, run]`` with one fixed ``interval`` (zero by default). No fixed length is right for a
plan: a day in Europe/Berlin lasts 23 or 25 hours on the DST days, a month 28 to 31 days, and the gaps
between the times of a "several times a day" plan differ. This timetable picks the run times exactly as
``MultipleCronTriggerTimetable`` does (same crons, zone, catchup and start rules: it delegates to one),
and gives each run the interval from the plan's previous tick to its own, so that
``{{ data_interval_start }}`` / ``{{ data_interval_end }}`` tile time without gaps or overlaps:

* daily at 03:00: the previous day's 03:00 to this 03:00 (23 h on the spring-forward day, 25 h in autumn);
* several times a day: from the previous time of the plan (03:00 -> 15:30 -> next day 03:00);
* weekly / monthly / nth_weekday: from the previous run of the plan (last week's Monday, last month's 1st);
* cron: from the previous tick of the expression.

As for every interval-style timetable, a run's logical date is the start of its interval (the previous
tick) and it runs at the end. A manual run covers one period of the plan ending when it runs.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from airflow.timetables.base import DagRunInfo, DataInterval, Timetable
from airflow.timetables.trigger import CronTriggerTimetable, MultipleCronTriggerTimetable

if TYPE_CHECKING:
    from airflow.timetables.base import TimeRestriction
    from pendulum import DateTime

_STEP_BACK = dt.timedelta(minutes=1)
_UPGRADE_STEP = dt.timedelta(microseconds=1)


class CalendarTimetable(Timetable):
    """Runs at every tick of ``crons`` (five-field, in ``timezone``); data interval: previous tick -> tick."""

    def __init__(self, *crons: str, timezone: str, description: str = "") -> None:
        if not crons:
            raise ValueError("a calendar timetable needs at least one cron expression")
        self.crons = tuple(crons)
        self.timezone = timezone
        self._ticks = MultipleCronTriggerTimetable(*crons, timezone=timezone)
        self._per_cron = [CronTriggerTimetable(cron, timezone=timezone) for cron in crons]
        self.description = description or self._ticks.description

    @property
    def summary(self) -> str:
        return ", ".join(self.crons)

    def validate(self) -> None:
        for cron in self._per_cron:
            cron.validate()

    def previous_tick(self, tick: DateTime) -> DateTime:
        """The plan's last tick strictly before ``tick`` (the start of the run at ``tick``)."""
        return max(_tick_before(cron, tick) for cron in self._per_cron)

    def next_tick(self, after: DateTime) -> DateTime:
        """The plan's first tick strictly after ``after``."""
        return min(cron._get_next(after) for cron in self._per_cron)

    def next_dagrun_info(
        self, *, last_automated_data_interval: DataInterval | None, restriction: TimeRestriction
    ) -> DagRunInfo | None:
        info = self._ticks.next_dagrun_info(
            last_automated_data_interval=last_automated_data_interval, restriction=restriction
        )
        if info is None:
            return None
        tick = info.run_after
        start = self.previous_tick(tick)
        last = last_automated_data_interval
        if last is not None and last.start == last.end == start:
            # The previous run was made before runs had intervals (zero length, logical date = its tick,
            # this provider before 0005): this run's logical date would be that run's, and the scheduler
            # would skip it as "already exists". Start a microsecond later instead (once, at upgrade).
            start += _UPGRADE_STEP
        return DagRunInfo.interval(start, tick)

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """One period of the plan ending at ``run_after`` (the period it falls in, moved to end there).

        Its start is never a tick unless ``run_after`` is one, so a deploy run (which Airflow stores with
        this start as its logical date) cannot take the logical date of a scheduled run.
        """
        following = self.next_tick(run_after)
        length = following - self.previous_tick(following)
        return DataInterval(run_after - length, run_after)

    def serialize(self) -> dict[str, Any]:
        return {"crons": list(self.crons), "timezone": self.timezone, "description": self.description}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Timetable:
        return cls(*data["crons"], timezone=data["timezone"], description=data.get("description", ""))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CalendarTimetable):
            return NotImplemented
        return (self.crons, self.timezone) == (other.crons, other.timezone)

    def __hash__(self) -> int:
        return hash((self.crons, self.timezone))

    def __repr__(self) -> str:
        crons = ", ".join(repr(cron) for cron in self.crons)
        return f"{type(self).__name__}({crons}, timezone={self.timezone!r})"


def _tick_before(cron: CronTriggerTimetable, tick: DateTime) -> DateTime:
    """``cron``'s last tick strictly before ``tick``, with Airflow's own DST rules (``_get_prev``).

    A wall-clock time that does not exist on a spring-forward day is moved an hour later, so the tick of
    02:00 can land on the same instant as 03:00: then step back past it to the day before.
    """
    previous = cron._get_prev(tick)
    probe = tick
    for _ in range(48):
        if previous < tick:
            return previous
        probe = min(probe, previous) - _STEP_BACK
        previous = cron._get_prev(probe)
    raise ValueError(f"no tick of {cron.summary!r} before {tick.isoformat()}")
