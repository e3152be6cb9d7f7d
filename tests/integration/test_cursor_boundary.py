"""A non-unique cursor column (e.g. updated_at shared by many rows): the cursor only ever moves to a value
whose rows are all committed (decision record 0005), with ``>`` and ``>=``, with and without LIMIT, and
when a run fails in the middle of a group of equal values."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_import.cursor import MemoryCursor
from customer_import.exceptions import QueryError
from customer_import.importer import run_import
from customer_import.sources.dialects import source_dialect_for
from customer_import.store.connection import open_store
from tests.helpers import make_database, make_spec

# ten customers, their updated_at values in groups that a LIMIT of 5 (and batches of 2) cut through
STAMPS = ["2026-01-01"] * 3 + ["2026-01-02"] * 4 + ["2026-01-03"] * 3


def _fill(path: Path, stamps: list[str]) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, updated_at TEXT)")
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(i, f"c{i}@example.com", s) for i, s in enumerate(stamps, 1)],
        )


@pytest.fixture
def source(sqlite_conn: Callable[[str], Path]) -> Path:
    sqlite_conn("store")
    path = sqlite_conn("src")
    _fill(path, STAMPS)
    return path


def run(
    op: str,
    limit: str = "LIMIT 5",
    *,
    skip_unchanged: bool = True,
    cursor: MemoryCursor | None = None,
    drain: bool = True,
    order: str = "ORDER BY updated_at, id",
) -> dict[str, Any]:
    spec = make_spec(
        source={
            "conn_id": "src",
            "query": f"SELECT id, email, updated_at FROM customers WHERE updated_at {op} {{lastItem}} "
            f"{order} {limit}",
            "cursor": {"column": "updated_at", "start_value": "2000-01-01"},
            "drain": drain,
        },
        mapping=[{"field": "email", "column": "email"}, {"field": "crm_id", "column": "id"}],
        prevent_duplication={"skip_unchanged": skip_unchanged},
    )
    report = run_import(
        spec,
        make_database(),
        query=spec.source.query,
        source=source_dialect_for("sqlite"),
        cursor_state=cursor or MemoryCursor("2000-01-01"),
        run_id="boundary",
        batch_size=2,
        store_conn_id="store",
    )
    return report.to_dict()["summary"]


def stored_ids() -> list[int]:
    with open_store("store") as (_, connection):
        rows = connection.execute("SELECT crm_id FROM shop_profiles ORDER BY crm_id").fetchall()
    return [row[0] for row in rows]


def test_greater_than_with_limit_reads_the_rest_of_a_value_the_limit_cut(source: Path) -> None:
    summary = run(">")
    # part 1 reads ids 1-5 and stops inside 2026-01-02: ids 6 and 7 are read again from 2026-01-01 and
    # written before the cursor moves to 2026-01-02; part 2 reads ids 8-10 (fewer than the LIMIT: done).
    assert stored_ids() == list(range(1, 11))
    assert summary["read"] == 10  # rows 4 and 5, read a second time, are not counted twice
    assert summary["created"] == 10
    assert summary["cursor_after"] == "2026-01-03"


def test_greater_than_with_a_unique_cursor_still_moves_to_the_largest_value_of_the_part(
    sqlite_conn: Callable[[str], Path],
) -> None:
    sqlite_conn("store")
    _fill(sqlite_conn("src"), [f"2026-01-{d:02d}" for d in range(1, 11)])
    summary = run(">", drain=False)
    assert summary["read"] == 5
    assert summary["cursor_after"] == "2026-01-05"  # PRODUCT.md: the part's largest value


def test_more_equal_values_than_the_limit_fail_clearly_and_keep_the_cursor(
    sqlite_conn: Callable[[str], Path],
) -> None:
    sqlite_conn("store")
    _fill(sqlite_conn("src"), ["2026-01-01"] * 2 + ["2026-01-02"] * 7)
    cursor = MemoryCursor("2000-01-01")
    with pytest.raises(QueryError, match="Raise the LIMIT"):
        run(">", cursor=cursor)
    assert cursor.value == "2026-01-01"  # every row of 2026-01-01 was written; 2026-01-02 was not finished
    assert stored_ids() == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("limit", ["", "LIMIT 5"])
def test_greater_or_equal_reads_every_row(source: Path, limit: str) -> None:
    summary = run(">=", limit)
    assert summary["created"] == 10  # nothing skipped
    assert summary["cursor_after"] == "2026-01-03"
    again = run(">=", limit)
    assert again["created"] == 0
    assert again["updated"] == 0
    assert again["unchanged"] == again["read"]


class FailingCursor(MemoryCursor):
    """A cursor whose n-th save stops the run right after writing: as a kill after the cursor write."""

    def __init__(self, start: Any, fail_at: int) -> None:
        super().__init__(start)
        self.saves: Iterator[int] = iter(range(1, 1_000))
        self.fail_at = fail_at

    def save(self, value: Any) -> None:
        super().save(value)
        if next(self.saves) == self.fail_at:
            raise RuntimeError("killed")


@pytest.mark.parametrize("limit", ["", "LIMIT 5"])
@pytest.mark.parametrize("fail_at", [1, 2, 3])
@pytest.mark.parametrize("op", [">", ">="])
def test_a_run_stopped_inside_a_group_of_equal_values_loses_nothing(
    source: Path, limit: str, fail_at: int, op: str
) -> None:
    cursor = FailingCursor("2000-01-01", fail_at)
    with pytest.raises(RuntimeError, match="killed"):
        run(op, limit, cursor=cursor)
    # what the stopped run saved is a value whose rows are all committed: the re-run finds the rest
    run(op, limit, cursor=MemoryCursor(cursor.value))
    assert stored_ids() == list(range(1, 11))


def test_an_unordered_part_moves_the_cursor_only_when_it_is_complete(source: Path) -> None:
    cursor = FailingCursor("2000-01-01", 1)
    with pytest.raises(RuntimeError, match="killed"):
        run(">", "", cursor=cursor, order="ORDER BY id DESC")
    assert cursor.value == "2026-01-03"  # the first save is at the part's end: a batch may hold any value
    assert stored_ids() == list(range(1, 11))
    summary = run(">", "", order="ORDER BY id DESC", drain=False)
    assert summary["cursor_after"] == "2026-01-03"
    assert stored_ids() == list(range(1, 11))
