"""benchmarks/import_benchmark.py runs end to end on a few hundred rows (its figures are not checked: a
benchmark prints, it never asserts a duration): rounds on copies of the pre-loaded store, the same counts in
every round, and every throwaway database dropped after."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.conftest import PG_DSN, _unavailable
from tests.integration.benchmark_runs import run_benchmark

ROWS = 400


@pytest.fixture
def admin() -> Iterator[psycopg.Connection[Any]]:
    try:
        connection = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
        raise
    with connection:
        yield connection


def test_rounds_start_from_the_preloaded_store_and_leave_no_database_behind(
    admin: psycopg.Connection[Any],
) -> None:
    out = run_benchmark("import_benchmark.py", "--rows", str(ROWS), "--rounds", "2")
    assert "2 rounds, each on a copy of the pre-loaded store" in out
    rounds = re.findall(
        r"^  ([12]) +[\d.]+ s +[\d.]+ s +[\d.]+x +[\d.]+ s +[\d.]+x .* (\d+) / (\d+)$", out, re.MULTILINE
    )
    assert [number for number, _, _ in rounds] == ["1", "2"], out
    # Every round wrote the same: each started from the pre-loaded store, not from the round before's.
    assert rounds[0][1:] == rounds[1][1:] and int(rounds[0][1]) > 0 and int(rounds[0][2]) > 0, out
    # Each round saw the same store: our import found the pre-loaded half, the re-run found it all.
    upsert = re.search(r"our import: run_import, upsert .*\n +read (\d+), created (\d+), updated (\d+)", out)
    rerun = re.search(r"our re-run, nothing changed .*\n +read (\d+), created (\d+)", out)
    assert upsert is not None and rerun is not None, out
    assert int(upsert[1]) == ROWS and 0 < int(upsert[2]) <= ROWS // 2 and int(upsert[3]) > 0
    assert (int(rerun[1]), int(rerun[2])) == (ROWS, 0)
    assert re.search(r"CPU: this process [\d.]+ s, the machine [\d.]+ s of \d+ x", out)
    tag = re.search(r"generating \d+ customers in bench_source_(\w+)", out)
    assert tag is not None
    left = admin.execute(
        "SELECT datname FROM pg_database WHERE datname LIKE %s", (f"bench_%_{tag[1]}%",)
    ).fetchall()
    assert left == []
