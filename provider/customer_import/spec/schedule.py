"""Schedule plans of the import spec (PRODUCT.md "Schedules"). Turned into timetables by ``schedule/``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Literal

import pendulum
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from customer_import.spec.problems import error_at
from customer_import.spec.vocab import Weekday

_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_EVERY = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _time_of_day(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads an unquoted 15:30 as the sexagesimal integer 930.
        raise ValueError('write times in quotes, e.g. "15:30" (unquoted, YAML reads 15:30 as a number)')
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if not isinstance(value, str) or not _TIME.match(value.strip()):
        raise ValueError(f"{value!r} is not a time of day HH:MM (00:00 to 23:59)")
    hour, minute = value.strip().split(":")
    return f"{int(hour):02d}:{minute}"


TimeOfDay = Annotated[str, BeforeValidator(_time_of_day)]
Times = Annotated[list[TimeOfDay], Field(min_length=1, description="Times of day, HH:MM, in `timezone`.")]
Months = Annotated[list[Annotated[int, Field(ge=1, le=12)]], Field(min_length=1)]


def _parse_datetime(value: Any) -> Any:
    """Accept YAML dates/datetimes and ISO strings (YAML leaves 2027-06-30T00:00 as a string).

    A value without an offset is a wall-clock time in the plan's ``timezone`` (kept naive here).
    """
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValueError(f"{value!r} is not an ISO date or datetime (e.g. 2027-06-30T00:00)") from exc
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


DateTimeValue = Annotated[dt.datetime, BeforeValidator(_parse_datetime)]


class _PlanBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    timezone: str = Field("UTC", description="IANA time zone the plan's wall-clock times are in.")
    start_date: DateTimeValue | None = Field(
        None, description="No run before this (wall clock in `timezone`)."
    )
    deactivate_at: DateTimeValue | None = Field(
        None, description="No run after this (wall clock in `timezone`)."
    )

    @field_validator("timezone")
    @classmethod
    def _check_timezone(cls, value: str) -> str:
        try:
            pendulum.timezone(value)
        except Exception as exc:
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Europe/Berlin)") from exc
        return value

    @model_validator(mode="after")
    def _check_window(self) -> _PlanBase:
        if (
            self.start_date
            and self.deactivate_at
            and (self.localize(self.deactivate_at) <= self.localize(self.start_date))
        ):
            raise error_at("deactivate_at must be after start_date", "deactivate_at")
        return self

    def localize(self, value: dt.datetime) -> pendulum.DateTime:
        """A spec datetime as an aware datetime: naive values are wall-clock times in ``timezone``."""
        tz = pendulum.timezone(self.timezone)
        if value.tzinfo is None:
            # Like Airflow's cron timetables: a wall-clock time that does not exist (spring forward) moves
            # an hour later, one that exists twice (fall back) is its second occurrence.
            return tz.convert(pendulum.instance(value.replace(fold=1), tz=None).naive().replace(fold=1))
        return pendulum.instance(value).in_timezone(tz)


class ManualPlan(_PlanBase):
    plan: Literal["manual"]


class OncePlan(_PlanBase):
    """One run at ``at``; or several runs on one date (``at`` as a list, or ``date`` with ``times``)."""

    plan: Literal["once"]
    at: DateTimeValue | list[DateTimeValue] | None = None
    date: dt.date | None = None
    times: Times | None = None

    @model_validator(mode="after")
    def _check_form(self) -> OncePlan:
        if (self.at is None) == (self.date is None):
            raise ValueError(
                "a once plan needs either 'at' (a datetime or a list of them) or 'date' with 'times'"
            )
        if self.date is not None and not self.times:
            raise error_at("'date' needs 'times'", "times")
        if self.at is not None and self.times is not None:
            raise error_at("'times' goes with 'date', not with 'at'", "times")
        if isinstance(self.at, list):
            if not self.at:
                raise error_at("'at' must not be an empty list", "at")
            if len({a.date() for a in self.instants()}) > 1:
                raise error_at(
                    f"the datetimes of a once plan must all be on one date (in {self.timezone})", "at"
                )
        return self

    def instants(self) -> list[pendulum.DateTime]:
        if self.date is not None:
            assert self.times is not None
            return sorted(
                self.localize(dt.datetime.combine(self.date, dt.time.fromisoformat(t))) for t in self.times
            )
        ats = self.at if isinstance(self.at, list) else [self.at]
        return sorted(self.localize(a) for a in ats if a is not None)


class DailyPlan(_PlanBase):
    plan: Literal["daily"]
    times: Times


class WeeklyPlan(_PlanBase):
    plan: Literal["weekly"]
    weekdays: Annotated[list[Weekday], Field(min_length=1)]
    months: Months | None = None
    times: Times


class MonthlyPlan(_PlanBase):
    plan: Literal["monthly"]
    days: Annotated[
        list[Annotated[int, Field(ge=-1, le=31)]],
        Field(min_length=1, description="Days of the month 1-31; -1 is the last day."),
    ]
    months: Months | None = None
    times: Times

    @field_validator("days")
    @classmethod
    def _no_zero(cls, days: list[int]) -> list[int]:
        if 0 in days:
            raise ValueError("days are 1-31, or -1 for the last day of the month")
        return days


class NthWeekdayPlan(_PlanBase):
    plan: Literal["nth_weekday"]
    weekday: Weekday
    nth: int = Field(description="1-5, or -1 for the last such weekday of the month.")
    months: Months | None = None
    times: Times

    @field_validator("nth")
    @classmethod
    def _check_nth(cls, nth: int) -> int:
        if nth not in (1, 2, 3, 4, 5, -1):
            raise ValueError("nth is 1-5, or -1 for the last")
        return nth


class IntervalPlan(_PlanBase):
    plan: Literal["interval"]
    every: str = Field(description="A duration: a number and s, m, h or d, e.g. 15m or 2h.")

    @field_validator("every")
    @classmethod
    def _check_every(cls, value: str) -> str:
        match = _EVERY.match(str(value))
        if not match or int(match.group(1)) == 0:
            raise ValueError(f"{value!r} is not a duration like 30s, 15m, 2h or 1d")
        if int(match.group(1)) * _UNIT_SECONDS[match.group(2)] < 60:
            raise ValueError("the shortest interval is 1m")
        return value

    def delta(self) -> dt.timedelta:
        match = _EVERY.match(self.every)
        assert match is not None
        return dt.timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])


class CronPlan(_PlanBase):
    plan: Literal["cron"]
    expression: str = Field(description="A five-field cron expression, evaluated in `timezone`.")

    @field_validator("expression")
    @classmethod
    def _check_expression(cls, value: str) -> str:
        from croniter import croniter

        if len(value.split()) != 5 or not croniter.is_valid(value):
            raise ValueError(f"{value!r} is not a valid five-field cron expression")
        return value


Schedule = Annotated[
    ManualPlan | OncePlan | DailyPlan | WeeklyPlan | MonthlyPlan | NthWeekdayPlan | IntervalPlan | CronPlan,
    Field(discriminator="plan"),
]
