"""Defences of the source session on the real servers (PostgreSQL, MariaDB, ClickHouse, and SQLite):

* the session itself refuses writes that got past the SELECT-only check (the dialect's raw cursor is
  used, as if the check were bypassed), and a canary table survives;
* ``[customer_import] statement_timeout_seconds`` cuts a slow query, and the error is transient;
* a hand-edited cursor value is bound as a parameter (the rows are those of a bound comparison) or
  refused with a clear message, never spliced into the SQL: the canary table survives;
* errors are classified by the driver's code: a missing column or bad SQL fails at once, a session
  killed by the server's administrator mid-read is transient (and a new read then completes).
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from customer_import.cursor import decode
from customer_import.exceptions import SourceError
from customer_import.sources.dialects import SourceDialect, source_dialect_for
from customer_import.sources.extract import extract_part
from tests.conftest import airflow_conn_env

ROWS = [(1, ""), (2, "A"), (3, "B"), (4, "a"), (5, "m"), (6, "z"), (7, "0"), (8, "9"), (9, "!")]
HOSTILE_VALUES = [
    "0; DROP TABLE canary",
    "' OR 1=1 --",
    "') OR ('1'='1",
    "'; DELETE FROM canary; --",
    "\\'; DROP TABLE canary; -- ",
    "B' OR 'x'='x",
    "%(last_item)s",
    "%s",
    ":last_item",
]
TIMEOUT = "AIRFLOW__CUSTOMER_IMPORT__STATEMENT_TIMEOUT_SECONDS"


@dataclass
class Source:
    """A seeded throwaway source: conn ``src``, tables ``customers (id, code)`` and ``canary``."""

    kind: str
    dialect: SourceDialect
    run: Callable[[str], None]  # a statement on a separate (admin) connection
    bound: Callable[[str, Any], list[tuple[Any, ...]]]  # "... > ?" with the value bound by the driver
    canary: Callable[[], int]  # rows in canary (fails if the table is gone)


def _postgres(uri: str) -> tuple[Callable[[str], None], Callable[[str, Any], list[Any]]]:
    import psycopg

    def run(sql: str) -> None:
        with psycopg.connect(uri, autocommit=True) as db:
            db.execute(sql)

    def bound(sql: str, value: Any) -> list[Any]:
        with psycopg.connect(uri) as db:
            return [tuple(r) for r in db.execute(sql.replace("?", "%s"), (value,)).fetchall()]

    return run, bound


def _mysql(uri: str) -> tuple[Callable[[str], None], Callable[[str, Any], list[Any]]]:
    import MySQLdb

    def connect() -> Any:
        return MySQLdb.connect(
            host="127.0.0.1", user="root", passwd="", db=uri.rsplit("/", 1)[1], charset="utf8mb4"
        )

    def run(sql: str) -> None:
        db = connect()
        try:
            db.cursor().execute(sql)
            db.commit()
        finally:
            db.close()

    def bound(sql: str, value: Any) -> list[Any]:
        db = connect()
        try:
            cursor = db.cursor()
            cursor.execute(sql.replace("?", "%s"), (value,))
            return [tuple(r) for r in cursor.fetchall()]
        finally:
            db.close()

    return run, bound


def _clickhouse(uri: str) -> tuple[Callable[[str], None], Callable[[str, Any], list[Any]]]:
    from clickhouse_driver import Client

    database = uri.rsplit("/", 1)[1]

    def run(sql: str) -> None:
        head, values = sql.split(" VALUES ", 1) if sql.startswith("INSERT") else (sql, "")
        if values:  # the native protocol sends inserted rows as data, not in the SQL text
            rows = [row if isinstance(row, tuple) else (row,) for row in ast.literal_eval(f"[{values}]")]
            Client("127.0.0.1", database=database).execute(f"{head} VALUES", rows)
        else:
            Client("127.0.0.1", database=database).execute(sql)

    def bound(sql: str, value: Any) -> list[Any]:
        rows = Client("127.0.0.1", database=database).execute(sql.replace("?", "%(v)s"), {"v": value})
        return [tuple(r) for r in rows]

    return run, bound


def _sqlite(path: Any) -> tuple[Callable[[str], None], Callable[[str, Any], list[Any]]]:
    import sqlite3

    def run(sql: str) -> None:
        with sqlite3.connect(path) as db:
            db.execute(sql)

    def bound(sql: str, value: Any) -> list[Any]:
        with sqlite3.connect(path) as db:
            return [tuple(r) for r in db.execute(sql, (value,)).fetchall()]

    return run, bound


SCHEMA = {
    "postgres": ("CREATE TABLE customers (id bigint PRIMARY KEY, code text)", "CREATE TABLE canary (id int)"),
    "mysql": (
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, code VARCHAR(50)) CHARACTER SET utf8mb4",
        "CREATE TABLE canary (id INT)",
    ),
    "clickhouse": (
        "CREATE TABLE customers (id UInt64, code String) ENGINE = MergeTree ORDER BY id",
        "CREATE TABLE canary (id UInt32) ENGINE = MergeTree ORDER BY id",
    ),
    "sqlite": (
        "CREATE TABLE customers (id INTEGER PRIMARY KEY, code TEXT)",
        "CREATE TABLE canary (id INTEGER)",
    ),
}


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("clickhouse", marks=pytest.mark.clickhouse),
        "sqlite",
    ]
)
def source(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, sqlite_conn: Any) -> Source:
    kind = request.param
    if kind == "sqlite":
        run, bound = _sqlite(sqlite_conn("src"))
    else:
        uri = request.getfixturevalue(
            {"postgres": "pg_database", "mysql": "mysql_database", "clickhouse": "clickhouse_database"}[kind]
        )
        monkeypatch.setenv(airflow_conn_env("src"), uri)
        run, bound = {"postgres": _postgres, "mysql": _mysql, "clickhouse": _clickhouse}[kind](uri)
    for statement in SCHEMA[kind]:
        run(statement)
    values = ", ".join(f"({i}, '{code}')" for i, code in ROWS)  # no quote in ROWS' codes
    run(f"INSERT INTO customers (id, code) VALUES {values}")
    run("INSERT INTO canary (id) VALUES (1)")

    def canary() -> int:
        return int(bound("SELECT count(*) FROM canary WHERE id = ?", 1)[0][0])

    dialect = source_dialect_for({"mysql": "mysql"}.get(kind, kind))
    return Source(kind, dialect, run, bound, canary)


def _read(source: Source, query: str, last_item: Any, batch_size: int = 3) -> list[tuple[Any, ...]]:
    return [
        row
        for batch in extract_part(source.dialect, "src", query, last_item, batch_size)
        for row in batch.rows
    ]


def _raw(dialect: SourceDialect, statement: str) -> None:
    """Run any statement through the dialect's read-only session, as if the SQL check were bypassed."""
    with dialect.read_only_cursor("src", 10) as cursor:
        cursor.execute(statement)
        while cursor.fetchmany(100):  # ClickHouse reports an error when the stream is read (even after rows)
            pass


# --- the read-only session ------------------------------------------------------------------------------

WRITES = {
    "postgres": ["WITH d AS (DELETE FROM canary RETURNING *) SELECT * FROM d", "DELETE FROM canary"],
    "mysql": ["DELETE FROM canary", "CREATE TEMPORARY TABLE t (a INT)"],
    "clickhouse": ["INSERT INTO canary (id) VALUES (2)", "CREATE TABLE t (a UInt8) ENGINE = Memory"],
    "sqlite": ["DELETE FROM canary", "CREATE TABLE t (a)"],
}


def test_the_session_refuses_writes_that_got_past_the_check(source: Source) -> None:
    """The SELECT-only check bypassed (the dialect's own cursor, any statement): the session refuses
    the write itself, the refusal is fatal (retrying would write again), and the canary survives."""
    for statement in WRITES[source.kind]:
        with pytest.raises(Exception) as refused:  # each driver's own class
            _raw(source.dialect, statement)
        assert source.dialect.is_fatal(refused.value), refused.value
    assert source.canary() == 1


@pytest.mark.clickhouse
def test_clickhouse_readonly_1_also_refuses_table_functions_and_setting_changes(
    monkeypatch: pytest.MonkeyPatch, clickhouse_database: str
) -> None:
    """Why readonly = 1 and not 2: with 2 a query could lift the statement timeout (SETTINGS) and call
    url()/remote(); the server refuses both with code 164 (READONLY)."""
    from clickhouse_driver.errors import ServerException

    monkeypatch.setenv(airflow_conn_env("src"), clickhouse_database)
    monkeypatch.setenv(TIMEOUT, "5")
    dialect = source_dialect_for("clickhouse")
    for statement in (
        "SELECT 1 SETTINGS max_execution_time = 0",
        "SELECT * FROM remote('127.0.0.1', system.one)",
        "SELECT * FROM url('http://127.0.0.1:1/x', CSV, 'a String')",
    ):
        with pytest.raises(ServerException) as refused:
            _raw(dialect, statement)
        assert refused.value.code == 164, statement


# --- the statement timeout ------------------------------------------------------------------------------

SLOW = {
    "postgres": "SELECT pg_sleep(5)",
    "mysql": "SELECT SLEEP(5)",
    "clickhouse": "SELECT sleep(3)",  # ClickHouse sleeps at most 3 s a block
    "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) "
    "SELECT count(*) FROM c",
}
TIMEOUT_CODE = {"postgres": "57014", "mysql": 1969, "clickhouse": 159, "sqlite": 9}


def test_the_statement_timeout_cuts_a_slow_query_and_the_error_is_transient(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    from customer_import.driver_errors import code_in

    monkeypatch.setenv(TIMEOUT, "1")
    with pytest.raises(Exception) as cut:  # each driver's own class
        _raw(source.dialect, SLOW[source.kind])
    assert code_in(cut.value, source.dialect.error_codes) == TIMEOUT_CODE[source.kind], cut.value
    assert source.dialect.is_fatal(cut.value) is False  # retried: see driver_errors on timeouts


def test_without_a_statement_timeout_the_same_session_reads(
    source: Source, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TIMEOUT, "0")
    assert _read(source, "SELECT id FROM customers ORDER BY id", None) == [(i,) for i, _ in ROWS]


@pytest.mark.postgres
def test_a_read_waiting_on_a_lock_is_cut_and_named_as_transient(
    pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through extract_part: a table locked by another session, the query waits, the timeout ends it."""
    import psycopg

    monkeypatch.setenv(airflow_conn_env("src"), pg_database)
    monkeypatch.setenv(TIMEOUT, "1")
    with psycopg.connect(pg_database, autocommit=True) as db:
        db.execute("CREATE TABLE customers (id bigint)")
    with psycopg.connect(pg_database) as locker:
        locker.execute("LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
        with pytest.raises(SourceError) as cut:
            list(extract_part(source_dialect_for("postgres"), "src", "SELECT id FROM customers", None, 10))
        locker.rollback()
    assert cut.value.fatal is False
    message = str(cut.value)
    assert message.startswith("source connection 'src' (postgres) is unavailable (Airflow retries the task)")
    assert "QueryCanceled [SQLSTATE 57014]: canceling statement due to statement timeout" in message


# --- hostile cursor values ------------------------------------------------------------------------------

TEXT_QUERY = "SELECT id, code FROM customers WHERE code > {lastItem} ORDER BY id"
INT_QUERY = "SELECT id, code FROM customers WHERE id > {lastItem} ORDER BY id"


@pytest.mark.parametrize("value", HOSTILE_VALUES)
def test_a_hostile_text_cursor_is_bound_as_a_value(source: Source, value: str) -> None:
    """The Variable of a text cursor (start_value "") hand-edited: the rows are exactly those the
    database's own comparison with the bound value gives, never all of them as an injection would."""
    last_item = decode(value, "")
    rows = _read(source, TEXT_QUERY, last_item)
    expected = source.bound(TEXT_QUERY.replace("{lastItem}", "?"), last_item)
    assert rows == expected
    assert len(rows) < len(ROWS)  # the row with code '' is never greater: "OR 1=1" would return it
    assert source.canary() == 1


@pytest.mark.parametrize("value", [*HOSTILE_VALUES, "abc", "1.5", "2026-01-01"])
def test_a_hostile_int_cursor_is_refused_clearly_and_never_spliced(source: Source, value: str) -> None:
    """The Variable of an int cursor (start_value 0) hand-edited: decoding refuses it with a message
    naming the value; bound anyway (as text), the database compares or refuses it, nothing runs."""
    with pytest.raises(ValueError, match="is not a int like start_value 0; fix or delete the Variable"):
        decode(value, 0)
    try:
        expected: list[Any] | None = source.bound(INT_QUERY.replace("{lastItem}", "?"), value)
    except Exception:
        expected = None  # the database refuses to compare an integer with that text
    if expected is None:
        with pytest.raises(SourceError) as refused:
            _read(source, INT_QUERY, value)
        assert refused.value.fatal is True
        assert "source connection 'src'" in str(refused.value)
    else:
        assert _read(source, INT_QUERY, value) == expected
    assert source.canary() == 1


# --- errors classified by their code, on the real servers ------------------------------------------------


def test_a_missing_column_and_bad_sql_fail_at_once(source: Source) -> None:
    with pytest.raises(SourceError) as missing:
        _read(source, "SELECT no_such_column FROM customers", None)
    assert missing.value.fatal is True
    assert "no_such_column" in str(missing.value) and "source connection 'src'" in str(missing.value)
    with pytest.raises(Exception) as bad:  # the raw cursor: past the SQL check
        _raw(source.dialect, "SELEC id FROM customers")
    assert source.dialect.is_fatal(bad.value) is True


STREAM = {
    "postgres": "SELECT g FROM generate_series(1, 5000000) AS g",
    "mysql": "SELECT seq FROM seq_1_to_5000000",
    "clickhouse": "SELECT number AS customer_import_kill_me FROM system.numbers LIMIT 50000000",
}


def _drain(batches: Iterator[Any]) -> None:
    for _ in batches:
        pass


def _kill(source: Source, database: str) -> None:
    """End the source's session (or query) from another connection, as an administrator would."""
    if source.kind == "postgres":
        source.run(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    elif source.kind == "mysql":
        import MySQLdb

        admin = MySQLdb.connect(host="127.0.0.1", user="root", passwd="")
        try:
            cursor = admin.cursor()
            cursor.execute(
                "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s AND ID <> CONNECTION_ID()",
                (database,),
            )
            for (thread,) in cursor.fetchall():
                cursor.execute(f"KILL {int(thread)}")
        finally:
            admin.close()
    else:
        from clickhouse_driver import Client

        admin = Client("127.0.0.1")
        found = admin.execute(
            "SELECT query_id FROM system.processes WHERE query LIKE '%customer_import_kill_me%' "
            "AND query NOT LIKE '%system.processes%'"
        )
        for (query_id,) in found:
            # ASYNC: the query may be blocked sending to this test, which reads on only after the kill
            admin.execute("KILL QUERY WHERE query_id = %(q)s ASYNC", {"q": query_id})


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("clickhouse", marks=pytest.mark.clickhouse),
    ],
)
def test_a_session_killed_mid_read_is_transient_and_the_next_read_completes(
    kind: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri = request.getfixturevalue(
        {"postgres": "pg_database", "mysql": "mysql_database", "clickhouse": "clickhouse_database"}[kind]
    )
    monkeypatch.setenv(airflow_conn_env("src"), uri)
    run, bound = {"postgres": _postgres, "mysql": _mysql, "clickhouse": _clickhouse}[kind](uri)
    source = Source(kind, source_dialect_for(kind), run, bound, lambda: 0)
    batches = extract_part(source.dialect, "src", STREAM[kind], None, 100)
    try:
        assert len(next(batches).rows) == 100
        _kill(source, uri.rsplit("/", 1)[1])
        with pytest.raises(SourceError) as killed:
            _drain(batches)
    finally:
        batches.close()
    assert killed.value.fatal is False, str(killed.value)
    assert str(killed.value).startswith(
        f"source connection 'src' ({kind}) is unavailable (Airflow retries the task)"
    )
    # The retry: a new session reads to the end.
    short = {
        "postgres": "SELECT g FROM generate_series(1, 1000) AS g",
        "mysql": "SELECT seq FROM seq_1_to_1000",
    }
    query = short.get(kind, "SELECT number FROM system.numbers LIMIT 1000")
    assert sum(len(b.rows) for b in extract_part(source.dialect, "src", query, None, 100)) == 1000
