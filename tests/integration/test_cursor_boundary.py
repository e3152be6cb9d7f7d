"""The boundary trap of a non-unique cursor column (e.g. updated_at) and the pattern that avoids it:
``>=`` with ``skip_unchanged``, so the rows sharing the last value are read again but not rewritten."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from customer_import.cursor import MemoryCursor
from customer_import.importer import run_import
from customer_import.sources.dialects import source_dialect_for
from tests.helpers import make_database, make_spec

# ten customers, their updated_at values in groups that a LIMIT of 5 cuts through
STAMPS = ["2026-01-01"] * 3 + ["2026-01-02"] * 4 + ["2026-01-03"] * 3


@pytest.fixture
def source(sqlite_conn: Callable[[str], Path]) -> None:
    sqlite_conn("store")
    with sqlite3.connect(sqlite_conn("src")) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, updated_at TEXT)")
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(i, f"c{i}@example.com", s) for i, s in enumerate(STAMPS, 1)],
        )


def run(op: str, skip_unchanged: bool = True) -> dict[str, Any]:
    spec = make_spec(
        source={
            "conn_id": "src",
            "query": f"SELECT id, email, updated_at FROM customers WHERE updated_at {op} {{lastItem}} "
            "ORDER BY updated_at, id LIMIT 5",
            "cursor": {"column": "updated_at", "start_value": "2000-01-01"},
            "drain": True,
        },
        mapping=[{"field": "email", "column": "email"}, {"field": "crm_id", "column": "id"}],
        prevent_duplication={"skip_unchanged": skip_unchanged},
    )
    report = run_import(
        spec,
        make_database(),
        query=spec.source.query,
        source=source_dialect_for("sqlite"),
        cursor_state=MemoryCursor("2000-01-01"),
        run_id="boundary",
        batch_size=2,
        store_conn_id="store",
    )
    return report.to_dict()["summary"]


def test_greater_than_skips_rows_that_share_the_last_value(source: None) -> None:
    summary = run(">")
    # part 1 reads ids 1-5 (cursor 2026-01-02); part 2 asks for > 2026-01-02: ids 6 and 7 are never read
    assert summary["read"] == 8
    assert summary["created"] == 8


def test_greater_or_equal_with_skip_unchanged_reads_every_row_and_rewrites_none(source: None) -> None:
    summary = run(">=")
    assert summary["created"] == 10  # nothing skipped
    # parts: ids 1-5 (cursor -> 01-02), ids 4-8 (-> 01-03), ids 8-10 (cursor stays: draining stops)
    assert summary["read"] == 13  # the boundary rows 4, 5 and 8 were read again ...
    assert summary["unchanged"] == 3  # ... and not written again (no update, no event)
    assert summary["cursor_after"] == "2026-01-03"
    again = run(">=")
    assert again["created"] == 0
    assert again["updated"] == 0
    assert again["unchanged"] == again["read"]
