"""A run's counts and duration reach a StatsD server (a UDP socket on a free port) as Airflow metrics."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_import.metrics import metric_names
from tests.e2e.conftest import run_dag
from tests.e2e.test_alerts import source
from tests.e2e.test_demo_import import crm_spec

pytestmark = pytest.mark.e2e


@pytest.fixture
def statsd(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """A UDP listener as the StatsD server, and Airflow's metrics pointed at it.

    The task runner initialises ``Stats`` from ``[metrics]`` when it starts a task process; ``dag.test()``
    runs the task in this process, so the test initialises it the same way."""
    from airflow.sdk.observability import stats
    from airflow.sdk.observability.metrics import stats_utils

    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.2)
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_ON", "True")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PORT", str(listener.getsockname()[1]))
    monkeypatch.setenv("AIRFLOW__METRICS__STATSD_PREFIX", "airflow")
    stats.initialize(factory=stats_utils.get_stats_factory(), export_legacy_names=False)
    try:
        yield listener
    finally:
        stats.initialize(factory=stats_utils.NoStatsLogger, export_legacy_names=False)
        listener.close()


def received(listener: socket.socket, settle: float = 1.0) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + settle
    while time.monotonic() < deadline:
        try:
            data = listener.recv(65536)
        except TimeoutError:
            continue
        lines.extend(data.decode().splitlines())
    return lines


def test_the_counts_and_the_duration_are_sent(
    project: Any, sqlite_conn: Any, statsd: socket.socket, tmp_path: Path
) -> None:
    source(sqlite_conn("crm_src"), ["a@example.com", "not-an-email", "b@example.com"])
    sqlite_conn("profile_store_default")
    project(crm_spec())
    state, report = run_dag("crm")
    assert state == "success" and report is not None

    lines = received(statsd)
    counters = {
        name: int(value.split("|")[0])
        for name, _, value in (line.partition(":") for line in lines)
        if value.endswith("|c") and name.startswith("airflow.customer_import.")
    }
    expected = dict(zip([f"airflow.{n}" for n in metric_names("crm")], (3, 2, 0, 0, 0, 1), strict=True))
    assert {name: counters.get(name) for name in expected} == expected
    timers = [line for line in lines if line.startswith("airflow.customer_import.crm.duration:")]
    assert len(timers) == 1 and timers[0].endswith("|ms")
    assert float(timers[0].split(":")[1].split("|")[0]) > 0
