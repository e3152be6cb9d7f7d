"""An import's schedule in words, for the console (the plan's own terms, with its timezone apart)."""

from __future__ import annotations

from typing import Any


def _list(values: Any) -> str:
    return ", ".join(str(getattr(v, "value", v)) for v in values)


def schedule_in_words(plan: Any) -> str:
    kind = plan.plan
    times = f" at {_list(plan.times)}" if getattr(plan, "times", None) else ""
    months = f" in months {_list(plan.months)}" if getattr(plan, "months", None) else ""
    if kind == "manual":
        text = "manual runs only"
    elif kind == "once":
        at = plan.at if plan.at is not None else plan.date
        text = f"once, {_list(at) if isinstance(at, list) else at}{times}"
    elif kind == "daily":
        text = f"daily{times}"
    elif kind == "weekly":
        text = f"weekly on {_list(plan.weekdays)}{months}{times}"
    elif kind == "monthly":
        days = ", ".join("the last day" if d == -1 else str(d) for d in plan.days)
        text = f"monthly on day {days}{months}{times}"
    elif kind == "nth_weekday":
        nth = "last" if plan.nth == -1 else {1: "1st", 2: "2nd", 3: "3rd"}.get(plan.nth, f"{plan.nth}th")
        text = f"the {nth} {getattr(plan.weekday, 'value', plan.weekday)} of the month{months}{times}"
    elif kind == "interval":
        text = f"every {plan.every}"
    elif kind == "cron":
        text = f"cron {plan.expression}"
    else:
        text = str(kind)
    if getattr(plan, "deactivate_at", None):
        text += f", until {plan.deactivate_at}"
    return text
