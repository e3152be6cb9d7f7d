"""A run's counts and duration as Airflow metrics (StatsD, or whatever ``[metrics]`` configures).

``customer_import.<name>.rows_read``, ``.rows_created``, ``.rows_updated``, ``.rows_unchanged``,
``.rows_skipped``, ``.rows_failed`` (counters, incremented by the run's counts) and
``customer_import.<name>.duration`` (a timer, milliseconds), through the Task SDK's ``Stats``, so they
carry ``[metrics] statsd_prefix`` and go wherever Airflow's own task metrics go.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")


def metric_names(import_name: str) -> list[str]:
    return [f"customer_import.{import_name}.rows_{count}" for count in COUNTS]


def emit(import_name: str, summary: dict[str, Any], duration_seconds: float) -> None:
    """Send one run's counts and duration."""
    from airflow.sdk.observability import stats

    for count, name in zip(COUNTS, metric_names(import_name), strict=True):
        stats.incr(name, count=int(summary.get(count) or 0))
    stats.timing(f"customer_import.{import_name}.duration", dt.timedelta(seconds=duration_seconds))
