"""How each source session is opened (without servers): the statement timeout per DBMS, and what a
failure while closing the session becomes. The sessions themselves are tested on the real servers in
tests/integration/test_source_defences.py (SQL Server and Oracle: no server here, only these)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from customer_import.config import statement_timeout_seconds
from customer_import.exceptions import SourceError
from customer_import.sources.dialects import source_dialect_for
from customer_import.sources.dialects.clickhouse import ClickHouseSource
from customer_import.sources.dialects.mysql import MySqlSource
from customer_import.sources.dialects.sqlite import SqliteSource
from customer_import.sources.extract import extract_part

TIMEOUT = "AIRFLOW__CUSTOMER_IMPORT__STATEMENT_TIMEOUT_SECONDS"


def test_the_statement_timeout_defaults_to_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TIMEOUT, raising=False)
    assert statement_timeout_seconds() == 0
    monkeypatch.setenv(TIMEOUT, "30")
    assert statement_timeout_seconds() == 30
    monkeypatch.setenv(TIMEOUT, "-1")
    with pytest.raises(ValueError, match="statement_timeout_seconds must be 0 or more"):
        statement_timeout_seconds()


def test_clickhouse_is_read_only_1_and_sends_the_timeout() -> None:
    assert ClickHouseSource.session_settings(0) == {"readonly": 1}
    assert ClickHouseSource.session_settings(30) == {"readonly": 1, "max_execution_time": 30}


def test_mariadb_and_mysql_name_their_timeouts_differently() -> None:
    assert MySqlSource.timeout_statement("10.11.19-MariaDB-0+deb12u1", 30) == (
        "SET SESSION max_statement_time = %s",
        (30,),
    )
    assert MySqlSource.timeout_statement("8.4.3", 30) == ("SET SESSION max_execution_time = %s", (30_000,))


class _FakeOracle:
    def __init__(self) -> None:
        self.call_timeout = 0
        self.executed: list[str] = []

    def cursor(self) -> Any:
        outer = self

        class Cursor:
            arraysize = 0
            prefetchrows = 0

            def execute(self, sql: str) -> None:
                outer.executed.append(sql)

            def close(self) -> None:
                pass

        return Cursor()

    def rollback(self) -> None:
        pass

    def close(self) -> None:
        pass


def test_oracle_sets_a_call_timeout_per_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    from airflow.providers.oracle.hooks.oracle import OracleHook

    fake = _FakeOracle()
    monkeypatch.setattr(OracleHook, "get_conn", lambda self: fake)
    monkeypatch.setenv(TIMEOUT, "7")
    with source_dialect_for("oracle").read_only_cursor("crm", 10):
        pass
    assert fake.call_timeout == 7000
    assert fake.executed == ["SET TRANSACTION READ ONLY"]


def test_sqlite_interrupts_a_read_longer_than_the_timeout(
    monkeypatch: pytest.MonkeyPatch, sqlite_conn: Any
) -> None:
    import sqlite3

    sqlite_conn("crm")
    monkeypatch.setenv(TIMEOUT, "1")
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    dialect = SqliteSource()
    with pytest.raises(sqlite3.OperationalError, match="interrupted") as cut:
        _run(dialect, endless)
    assert dialect.is_fatal(cut.value) is False


def _run(dialect: Any, sql: str) -> None:
    with dialect.read_only_cursor("crm", 10) as cursor:
        cursor.execute(sql)
        cursor.fetchall()


class _ClosingFails:
    """A session whose closing fails (as a rollback on a killed connection does)."""

    def __init__(self, fetch_fails: bool) -> None:
        self.fetch_fails = fetch_fails

    def execute(self, sql: str, params: Any = None) -> None:
        self.description = [("id",)]

    def fetchmany(self, size: int) -> list[tuple[Any, ...]]:
        if self.fetch_fails:
            raise ConnectionResetError(104, "the read failed")
        return []


def _session(cursor: _ClosingFails) -> Any:
    @contextmanager
    def read_only_cursor(conn_id: str, batch_size: int) -> Iterator[Any]:
        yield cursor
        raise ConnectionResetError(104, "the rollback failed")  # reached after a good read only

    @contextmanager
    def failing_close(conn_id: str, batch_size: int) -> Iterator[Any]:
        try:
            yield cursor
        finally:
            raise OSError("closing failed")  # what a broken driver does

    return read_only_cursor if not cursor.fetch_fails else failing_close


@pytest.mark.parametrize("fetch_fails", [False, True])
def test_a_failure_to_close_the_session_is_a_source_error_but_never_hides_the_first(
    fetch_fails: bool,
) -> None:
    dialect = SqliteSource()
    dialect.read_only_cursor = _session(_ClosingFails(fetch_fails))  # type: ignore[method-assign]
    with pytest.raises(SourceError) as caught:
        list(extract_part(dialect, "crm", "SELECT id FROM customers", None, 10))
    if fetch_fails:
        assert "while reading rows: ConnectionResetError" in str(caught.value)
        assert "the read failed" in str(caught.value)
    else:
        assert "while closing the session: ConnectionResetError" in str(caught.value)
    assert caught.value.fatal is False
