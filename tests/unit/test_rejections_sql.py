"""The statements that keep rejected rows (``store/rejections.py``), compared as strings, the value
conversions of the kept rows, and ``[customer_import] keep_runs``."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from customer_import import config
from customer_import.importer import _rereads
from customer_import.mapping.errors import Rejection
from customer_import.report import RunReport, stored_text
from customer_import.store import rejections
from customer_import.store.dialects import PostgresStore, SqliteStore
from customer_import.store.tables import Tables

T = Tables("shop")


def test_tables_and_columns() -> None:
    assert (T.rejections, T.runs) == ("shop_rejections", "shop_runs")
    assert rejections.CSV_COLUMNS == ("row_no", "cursor_value", "column_name", "code", "message", "value")
    ddl = rejections.create_statements(PostgresStore(), T)[0]
    assert ddl.startswith('CREATE TABLE IF NOT EXISTS "shop_rejections" (rejection_id BIGINT GENERATED')
    assert '"recorded_at" TIMESTAMPTZ' in ddl and '"row_no" BIGINT NOT NULL' in ddl


def test_prune_keeps_the_last_runs_of_the_import() -> None:
    rejected, runs = rejections.prune(SqliteStore(), T)
    kept = (
        'SELECT run_id FROM "shop_runs" WHERE import_name = ? ORDER BY started_at DESC, run_id DESC LIMIT ?'
    )
    assert rejected == f'DELETE FROM "shop_rejections" WHERE import_name = ? AND run_id NOT IN ({kept})'
    assert runs == f'DELETE FROM "shop_runs" WHERE import_name = ? AND run_id NOT IN ({kept})'
    assert rejections.register_run(PostgresStore(), T) == (
        'INSERT INTO "shop_runs" (import_name, run_id, started_at) VALUES (%s, %s, %s) '
        "ON CONFLICT (import_name, run_id) DO NOTHING"
    )


@pytest.mark.parametrize(
    ("start", "inclusive", "stored", "again"),
    [
        (100, False, "101", True),
        (100, False, "100", False),
        (100, True, "100", True),
        (100, False, "99", False),
        (100, False, None, False),
        (dt.date(2026, 1, 2), False, "2026-01-03", True),
        ("2026-01-02", False, "2026-01-01", False),
        (100, False, "not a number", False),
    ],
)
def test_which_stored_rows_a_retry_reads_again(
    start: object, inclusive: bool, stored: str | None, again: bool
) -> None:
    assert _rereads(start, inclusive)(stored) is again


def test_kept_rows_are_whole_masked_and_storable() -> None:
    report = RunReport("imp", "run", mask_contacts=True, contact_columns=frozenset({"email"}))
    long = "x" * 10_000 + "@example.com"
    row = report.kept(Rejection(7, dt.date(2026, 1, 2), "email", "invalid_email", f"bad: {long}", long))
    assert row[:6] == (7, "2026-01-02", "email", "invalid_email", "bad: x***@example.com", "x***@example.com")
    # ... and how the report showed it, for a later run that meets the row again (known_rejections)
    assert json.loads(row[6]) == {
        "masked": True,
        "cursor": "2026-01-02",
        "value": "x***@example.com",
        "message": "bad: x***@example.com",
    }
    plain = RunReport("imp", "run").kept(Rejection(1, 5, "note", "too_long", "m", long))
    assert plain[5] == long  # whole: the report's sample cuts, the store does not
    assert stored_text("a\x00b") == "a\\x00b"
    assert stored_text("\udcff") == "\\udcff"
    assert stored_text(b"\xff") == "\\xff"


def test_keep_runs_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW__CUSTOMER_IMPORT__KEEP_RUNS", raising=False)
    assert config.keep_runs() == 10
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__KEEP_RUNS", "3")
    assert config.keep_runs() == 3
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__KEEP_RUNS", "0")
    with pytest.raises(ValueError, match="keep_runs"):
        config.keep_runs()
