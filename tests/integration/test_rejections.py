"""Every rejected row of every run is kept in the store's ``<database>_rejections`` (PRODUCT.md "Rejected
rows are kept"; decision record 0007), on SQLite and PostgreSQL stores: in the transaction of its batch,
neither lost nor doubled when a stopped run is run again, masked under ``mask_contacts``, and the runs
older than the last ``keep_runs`` deleted by the run that makes them old."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from customer_import.cursor import MemoryCursor
from customer_import.importer import run_import
from customer_import.report import MAX_REJECTED_ROWS
from customer_import.sources.dialects import source_dialect_for
from customer_import.store import writer as writer_module
from customer_import.store.connection import open_store
from customer_import.store.rejections import of_run
from customer_import.store.tables import Tables
from tests.helpers import make_database, make_spec

# 30 customers in groups of equal updated_at values (a non-unique cursor); every third e-mail is invalid
STAMPS = [f"2026-01-{1 + i // 4:02d}" for i in range(30)]


def _email(i: int) -> str:
    return f"not-an-email-{i}" if i % 3 == 0 else f"c{i}@example.com"


@pytest.fixture
def source(sqlite_conn: Callable[[str], Path], store: str) -> Path:
    path = sqlite_conn("src")
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, updated_at TEXT)")
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(i, _email(i), s) for i, s in enumerate(STAMPS, 1)],
        )
    return path


def run(
    run_id: str,
    *,
    op: str = ">",
    limit: str = "",
    cursor: MemoryCursor | None = None,
    keep_runs: int = 10,
    batch_size: int = 4,
    **spec_changes: Any,
) -> dict[str, Any]:
    spec = make_spec(
        source={
            "conn_id": "src",
            "query": f"SELECT id, email, updated_at FROM customers WHERE updated_at {op} {{lastItem}} "
            f"ORDER BY updated_at, id {limit}",
            "cursor": {"column": "updated_at", "start_value": "2000-01-01"},
            "drain": True,
        },
        mapping=[{"field": "email", "column": "email"}, {"field": "crm_id", "column": "id"}],
        **spec_changes,
    )
    report = run_import(
        spec,
        make_database(),
        query=spec.source.query,
        source=source_dialect_for("sqlite"),
        cursor_state=cursor or MemoryCursor("2000-01-01"),
        run_id=run_id,
        batch_size=batch_size,
        store_conn_id="store",
        keep_runs=keep_runs,
    )
    return report.to_dict()


def kept(run_id: str) -> list[tuple[Any, ...]]:
    """The run's rows in ``shop_rejections``: (row, cursor, column, code, message, value)."""
    with open_store("store") as (dialect, connection):
        cursor = connection.cursor()
        cursor.execute(of_run(dialect, Tables("shop")), ("shop_import", run_id))
        return [tuple(row) for row in cursor.fetchall()]


def all_run_ids() -> set[str]:
    with open_store("store") as (_, connection):
        cursor = connection.cursor()
        cursor.execute("SELECT DISTINCT run_id FROM shop_rejections")
        return {row[0] for row in cursor.fetchall()}


INVALID = [i for i in range(1, 31) if i % 3 == 0]


def test_every_rejected_row_is_kept_with_its_reason(source: Path) -> None:
    report = run("run-1")
    rows = kept("run-1")
    assert report["summary"]["failed"] == len(INVALID) == len(rows)
    assert [r[5] for r in rows] == [_email(i) for i in INVALID]  # the value, whole
    assert [r[1] for r in rows] == [STAMPS[i - 1] for i in INVALID]  # the cursor value
    assert [r[0] for r in rows] == INVALID  # the row number within the run (one row per id here)
    assert {r[2] for r in rows} == {"email"}
    assert {r[3] for r in rows} == set(report["error_counts"])
    assert all(r[4] for r in rows)


def test_contacts_are_masked_under_mask_contacts(source: Path) -> None:
    run("run-1", reports={"mask_contacts": True})
    rows = kept("run-1")
    assert rows
    for _, _, _, _, message, value in rows:
        assert "not-an-email" not in value
        assert "not-an-email" not in message


def test_more_rows_than_the_report_samples_are_all_kept(
    sqlite_conn: Callable[[str], Path], store: str
) -> None:
    total = MAX_REJECTED_ROWS + 500
    with sqlite3.connect(sqlite_conn("src")) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, updated_at TEXT)")
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)", [(i, f"bad {i}", "2026-01-01") for i in range(total)]
        )
    report = run("big", batch_size=400)
    assert report["summary"]["failed"] == total
    assert len(report["rejected"]) < total  # the XCom report keeps a sample
    assert len(kept("big")) == total  # the store keeps every row


def test_ambiguous_and_duplicate_rows_are_kept(source: Path) -> None:
    with sqlite3.connect(source) as db:  # id 31 and 32 share an e-mail: duplicate_keys reject
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?)",
            [(31, "dup@example.com", "2026-02-01"), (32, "dup@example.com", "2026-02-01")],
        )
    report = run("run-1", prevent_duplication={"duplicate_keys": "reject"})
    codes = [r[3] for r in kept("run-1")]
    assert codes.count("duplicate_key") == 2
    assert len(codes) == report["summary"]["failed"]


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


@pytest.mark.parametrize("limit", ["", "LIMIT 10"])
@pytest.mark.parametrize("fail_at", [1, 2, 4])
@pytest.mark.parametrize("op", [">", ">="])
def test_a_stopped_run_run_again_keeps_every_rejected_row_once(
    source: Path, op: str, limit: str, fail_at: int
) -> None:
    cursor = FailingCursor("2000-01-01", fail_at)
    with pytest.raises(RuntimeError, match="killed"):
        run("run-1", op=op, limit=limit, cursor=cursor)
    before = kept("run-1")
    assert before  # the stopped run committed some batches, with their rejected rows
    start = cursor.value
    retry = run("run-1", op=op, limit=limit, cursor=MemoryCursor(start))  # the retry of the same run
    values = sorted(r[5] for r in kept("run-1"))
    if op == ">":  # every row is read once: each rejected row is kept exactly once
        assert values == sorted(_email(i) for i in INVALID)
    else:
        # '>=' reads the rows of the value it starts from again, by design (in every part of a run too):
        # the run keeps what the retry rejected and what the stopped attempt rejected before ``start``.
        assert sorted(set(values)) == sorted(_email(i) for i in INVALID)
        earlier = [r for r in before if r[1] < start]
        assert len(values) == retry["summary"]["failed"] + len(earlier)


def test_a_batch_that_fails_leaves_none_of_its_rejected_rows(
    source: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keep = writer_module.ProfileWriter._keep_rejections
    calls = iter(range(100))

    def keep_then_fail(self: Any, cursor: Any, rejected: Any, stamp: Any, prints: Any) -> None:
        keep(self, cursor, rejected, stamp, prints)
        if rejected and next(calls) == 1:  # the second batch with rejected rows fails after keeping them
            raise RuntimeError("store failed")

    monkeypatch.setattr(writer_module.ProfileWriter, "_keep_rejections", keep_then_fail)
    with pytest.raises(RuntimeError, match="store failed"):
        run("run-1")
    rows = kept("run-1")
    assert [r[5] for r in rows] == [_email(3)]  # the first batch's; the failed batch rolled back


def test_runs_older_than_keep_runs_are_deleted_by_the_run_that_makes_them_old(source: Path) -> None:
    for n in range(1, 4):
        run(f"run-{n}", keep_runs=2)
        assert len(all_run_ids()) == min(n, 2)
    assert all_run_ids() == {"run-2", "run-3"}
    assert len(kept("run-3")) == len(INVALID)
    run("run-3", keep_runs=2)  # a retry of a kept run is not a new run: nothing else is deleted
    assert all_run_ids() == {"run-2", "run-3"}
    assert len(kept("run-3")) == len(INVALID)
