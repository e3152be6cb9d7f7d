"""The same import against real PostgreSQL, MariaDB, ClickHouse (and SQLite): the same rows (NULLs, unicode,
large numbers, time zones) must give the same stored profiles and the same cursor, with parts and batches
crossing each other. Each test gets a throwaway source database and a fresh SQLite store."""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Callable
from typing import Any

import pytest

from customer_import.cursor import MemoryCursor
from customer_import.importer import run_import
from customer_import.sources.dialects import source_dialect_for
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.store.connection import open_store
from customer_import.store.export import iter_profiles
from tests.conftest import airflow_conn_env

UTC = dt.UTC
BERLIN = dt.timezone(dt.timedelta(hours=2))
ROWS: list[tuple[Any, ...]] = [
    # id, email, first_name, ltv, big, seen_at (an instant; each backend stores it in its own way)
    (1, "Anna@Example.com", "Anna", decimal.Decimal("10.50"), 1, dt.datetime(2026, 1, 1, 0, 0, tzinfo=UTC)),
    (2, "zoe@example.com", "Zoë", None, 2**62, dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC)),
    (3, None, "Łukasz", decimal.Decimal("0.01"), -(2**62), dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    (4, "  yamada@example.jp ", "山田 太郎", decimal.Decimal("12345678901234.56"), 0, None),
    (
        5,
        "sam@example.com",
        "🙂 Sam",
        decimal.Decimal("-3"),
        9007199254740993,
        dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    ),
    (6, "not-an-email", "Bad", None, None, dt.datetime(2026, 6, 1, 12, 0, tzinfo=BERLIN)),
    (
        7,
        "o'brien@example.ie",
        "O'Brien",
        decimal.Decimal("99.99"),
        7,
        dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC),
    ),
    *[
        (
            i,
            f"user{i}@example.com",
            None if i % 3 == 0 else f"User {i}",
            decimal.Decimal(i),
            i * 1000,
            dt.datetime(2026, 7, i, 8, 0, tzinfo=UTC),
        )
        for i in range(8, 18)
    ],
]
DATABASE = ProfileDatabase.model_validate(
    {
        "name": "xdb",
        "fields": {
            "crm_id": {"type": "int", "unique": True},
            "big": {"type": "int"},
            "ltv": {"type": "float"},
            "seen_at": {"type": "datetime"},
        },
    }
)


def spec(query: str, start: Any = 0, column: str = "id", partitions: int | None = None) -> ImportSpec:
    return ImportSpec.model_validate(
        {
            "name": "xdb_import",
            "target": {"database": "xdb", "matching": {"by": "custom", "field": "crm_id"}},
            "source": {
                "conn_id": "src",
                "query": query,
                "cursor": {"column": column, "start_value": start},
                "drain": True,
                **({"initial_load": {"partitions": partitions}} if partitions else {}),
            },
            "mapping": [
                {"field": "crm_id", "column": "id"},
                {"field": "email", "column": "email"},
                {"field": "first_name", "column": "first_name"},
                {"field": "ltv", "column": "ltv"},
                {"field": "big", "column": "big"},
                {"field": "seen_at", "column": "seen_at"},
            ],
        }
    )


def expected_profiles() -> list[dict[str, Any]]:
    out = []
    for id_, email, name, ltv, big, seen in ROWS:
        if email == "not-an-email":
            continue
        out.append(
            {
                "crm_id": id_,
                "email": email.strip().lower() if email else None,
                "first_name": name,
                "ltv": float(ltv) if ltv is not None else None,
                "big": big,
                "seen_at": seen.astimezone(UTC).isoformat() if seen else None,
            }
        )
    return out


# --- one seeding function per backend: same rows, each DBMS's own types ---------------------------------


def seed_postgres(uri: str) -> None:
    import psycopg

    with psycopg.connect(uri, autocommit=True) as db:
        db.execute(
            "CREATE TABLE customers (id bigint PRIMARY KEY, email text, first_name text, ltv numeric(20,2), "
            "big bigint, seen_at timestamptz)"
        )
        with db.cursor() as cursor:
            cursor.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s)", ROWS)
        # a function that writes: the only way a SELECT can try to write on PostgreSQL
        db.execute(
            "CREATE FUNCTION sneaky_write() RETURNS bigint LANGUAGE sql AS "
            "'INSERT INTO customers (id) VALUES (100) RETURNING id'"
        )


def seed_mysql(uri: str) -> None:
    import MySQLdb

    database = uri.rsplit("/", 1)[1]
    db = MySQLdb.connect(host="127.0.0.1", user="root", passwd="", db=database, charset="utf8mb4")
    cursor = db.cursor()
    cursor.execute(
        "CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(255), first_name VARCHAR(255), "
        "ltv DECIMAL(20,2), big BIGINT, seen_at DATETIME(6)) CHARACTER SET utf8mb4"
    )
    # DATETIME has no time zone: the instants are stored as UTC wall-clock values
    naive = [(*r[:5], r[5].astimezone(UTC).replace(tzinfo=None) if r[5] else None) for r in ROWS]
    cursor.executemany("INSERT INTO customers VALUES (%s, %s, %s, %s, %s, %s)", naive)
    db.commit()
    db.close()


def seed_clickhouse(uri: str) -> None:
    from clickhouse_driver import Client

    database = uri.rsplit("/", 1)[1]
    client = Client("127.0.0.1", port=9000, database=database)
    client.execute(
        "CREATE TABLE customers (id UInt64, email Nullable(String), first_name Nullable(String), "
        "ltv Nullable(Decimal(20, 2)), big Nullable(Int64), seen_at Nullable(DateTime('UTC'))) "
        "ENGINE = MergeTree ORDER BY id"
    )
    client.execute("INSERT INTO customers VALUES", [list(r) for r in ROWS])
    client.disconnect()


def seed_sqlite(path: Any) -> None:
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, ltv REAL, big INTEGER, seen_at TEXT)"
        )
        db.executemany(
            "INSERT INTO customers VALUES (?, ?, ?, ?, ?, ?)",
            [
                (*r[:3], float(r[3]) if r[3] is not None else None, r[4], r[5].isoformat() if r[5] else None)
                for r in ROWS
            ],
        )


@pytest.fixture(
    params=[
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("clickhouse", marks=pytest.mark.clickhouse),
        "sqlite",
    ]
)
def source(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, sqlite_conn: Callable[[str], Any]
) -> str:
    """Seed the throwaway source of each kind, define conn ``src`` and an empty SQLite store ``store``."""
    sqlite_conn("store")
    kind = request.param
    if kind == "sqlite":
        seed_sqlite(sqlite_conn("src"))
        return kind
    uri = request.getfixturevalue(
        {"postgres": "pg_database", "mysql": "mysql_database", "clickhouse": "clickhouse_database"}[kind]
    )
    monkeypatch.setenv(airflow_conn_env("src"), uri)
    {"postgres": seed_postgres, "mysql": seed_mysql, "clickhouse": seed_clickhouse}[kind](uri)
    return kind


def run(
    import_spec: ImportSpec, kind: str, start: Any, batch_size: int = 2, workers: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    conn_type = {"postgres": "postgres", "mysql": "mysql", "clickhouse": "clickhouse", "sqlite": "sqlite"}[
        kind
    ]
    report = run_import(
        import_spec,
        DATABASE,
        query=import_spec.source.query,
        source=source_dialect_for(conn_type),
        cursor_state=MemoryCursor(start),
        run_id="xdb-run",
        batch_size=batch_size,
        store_conn_id="store",
        mapping_workers=workers,
    ).to_dict()
    return report, stored_profiles()


def stored_profiles() -> list[dict[str, Any]]:
    """The store's profiles by crm_id, with the compared fields."""
    with open_store("store") as (dialect, connection):
        profiles = [
            {k: p[k] for k in ("crm_id", "email", "first_name", "ltv", "big", "seen_at")}
            for p in iter_profiles(dialect, connection, "xdb")
        ]
    for profile in profiles:
        if profile["seen_at"] is not None:  # the stores print instants differently; compare the instant
            profile["seen_at"] = dt.datetime.fromisoformat(profile["seen_at"]).astimezone(UTC).isoformat()
    return sorted(profiles, key=lambda p: p["crm_id"])


def test_same_rows_give_the_same_profiles_and_cursor_on_every_source(source: str) -> None:
    query = "SELECT id, email, first_name, ltv, big, seen_at FROM customers WHERE id > {lastItem} ORDER BY id LIMIT 5"
    report, profiles = run(spec(query), source, 0)
    summary = report["summary"]
    assert summary["read"] == 17
    assert summary["parts"] == 5  # 5 + 5 + 5 + 2 rows, then an empty part
    assert summary["batches"] == 10  # each part of 5 is read in batches of 2, 2, 1: batches end mid-part
    assert summary["cursor_after"] == 17
    assert report["error_counts"] == {"invalid_email": 1}
    assert summary["created"] == 16
    assert profiles == expected_profiles()


def test_mapping_in_a_worker_process_gives_the_same_profiles_and_cursor(source: str) -> None:
    """``[customer_import] mapping_workers``: batches mapped in another process while this one writes."""
    query = "SELECT id, email, first_name, ltv, big, seen_at FROM customers WHERE id > {lastItem} ORDER BY id LIMIT 5"
    report, profiles = run(spec(query), source, 0, workers=1)
    assert report["summary"]["read"] == 17
    assert report["summary"]["cursor_after"] == 17
    assert report["error_counts"] == {"invalid_email": 1}
    assert profiles == expected_profiles()


def test_datetime_cursor_continues_from_the_last_instant(source: str) -> None:
    if source == "sqlite":
        pytest.skip("SQLite keeps datetimes as text; its cursor is compared as text (tested with ids)")
    query = (
        "SELECT id, email, first_name, ltv, big, seen_at FROM customers "
        "WHERE seen_at > {lastItem} ORDER BY seen_at LIMIT 4"
    )
    report, profiles = run(
        spec(query, start=dt.datetime(2000, 1, 1), column="seen_at"), source, dt.datetime(2000, 1, 1)
    )
    assert report["summary"]["read"] == 16  # the row without seen_at is never selected
    last = dt.datetime.fromisoformat(report["summary"]["cursor_after"])
    assert last.replace(tzinfo=last.tzinfo or UTC) == dt.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert len(profiles) == 15


def test_a_query_that_is_not_a_single_select_is_refused_before_it_reaches_the_database(source: str) -> None:
    from customer_import.exceptions import QueryError

    with pytest.raises(QueryError, match="refused"):
        run(spec("DELETE FROM customers WHERE id > {lastItem}"), source, 0)


def test_a_missing_table_fails_at_once_with_the_connection_id_and_the_databases_message(source: str) -> None:
    from customer_import.exceptions import SourceError

    with pytest.raises(SourceError) as caught:
        run(spec("SELECT id, email FROM no_such_table WHERE id > {lastItem} ORDER BY id"), source, 0)
    assert caught.value.fatal is True
    assert "source connection 'src'" in str(caught.value)
    assert "no_such_table" in str(caught.value)


WRITES = {
    "postgres": "SELECT sneaky_write()",
    "mysql": "INSERT INTO customers (id) VALUES (100)",
    "clickhouse": "INSERT INTO customers (id) VALUES (100)",
    "sqlite": "INSERT INTO customers (id) VALUES (100)",
}
CONN_TYPES = {"postgres": "postgres", "mysql": "mysql", "clickhouse": "clickhouse", "sqlite": "sqlite"}


def _write_through_the_source_session(kind: str) -> None:
    with source_dialect_for(CONN_TYPES[kind]).read_only_cursor("src", 10) as cursor:
        cursor.execute(WRITES[kind])
        cursor.fetchmany(1)  # ClickHouse reports the error when the stream is read


def test_the_source_session_is_read_only(source: str) -> None:
    """Even a statement that slipped past validation cannot write through the source session."""
    with pytest.raises(Exception, match=r"(?i)read.?only|readonly"):
        _write_through_the_source_session(source)


def test_rows_stream_through_an_unbuffered_cursor(source: str) -> None:
    dialect = source_dialect_for(CONN_TYPES[source])
    with dialect.read_only_cursor("src", 3) as cursor:
        cursor.execute("SELECT id FROM customers ORDER BY id")
        assert [r[0] for r in cursor.fetchmany(3)] == [1, 2, 3]
        name = type(cursor).__name__
    assert (
        name
        == {
            "postgres": "ServerCursor",
            "mysql": "SSCursor",
            "clickhouse": "_StreamingCursor",
            "sqlite": "Cursor",
        }[source]
    )


def test_batches_fetched_ahead_come_in_order_and_closing_the_stream_ends_its_helper(source: str) -> None:
    import threading

    from customer_import.sources.extract import extract_part

    dialect = source_dialect_for(CONN_TYPES[source])
    query = "SELECT id FROM customers ORDER BY id"
    whole = [row for batch in extract_part(dialect, "src", query, None, 1000) for row in batch.rows]
    sizes = [len(batch.rows) for batch in extract_part(dialect, "src", query, None, 2)]
    assert [row for batch in extract_part(dialect, "src", query, None, 2) for row in batch.rows] == whole
    assert sizes[:-1] == [2] * (len(sizes) - 1) and len(whole) > 4
    batches = extract_part(dialect, "src", query, None, 2)
    assert next(batches).rows == whole[:2]
    batches.close()  # the caller stops early (e.g. a failed write): the helper is joined, the source closed
    assert not [t for t in threading.enumerate() if t.name.startswith("customer-import-fetch")]


UNREACHABLE = {
    "postgres": "postgresql://postgres@127.0.0.1:1/postgres",
    "mysql": "mysql://root@127.0.0.1:1/test",
    "clickhouse": "clickhouse://default@127.0.0.1:1/default",
}
BAD_LOGIN = {
    "postgres": "postgresql://no_such_role_x@127.0.0.1:5432/postgres",
    "mysql": "mysql://no_such_user_x:secret-pw-123@127.0.0.1:3306/test",
    "clickhouse": "clickhouse://no_such_user_x:secret-pw-123@127.0.0.1:9000/default",
}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("clickhouse", marks=pytest.mark.clickhouse),
    ],
)
def test_unreachable_is_transient_and_bad_login_is_fatal(
    kind: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    from customer_import.exceptions import SourceError
    from customer_import.sources.extract import extract_part

    request.getfixturevalue(
        {"postgres": "pg_database", "mysql": "mysql_database", "clickhouse": "clickhouse_server"}[kind]
    )
    dialect = source_dialect_for(CONN_TYPES[kind])
    for uri, fatal in ((UNREACHABLE[kind], False), (BAD_LOGIN[kind], True)):
        monkeypatch.setenv(airflow_conn_env("down"), uri)
        with pytest.raises(SourceError) as caught:
            list(extract_part(dialect, "down", "SELECT 1 AS x", None, 10))
        assert caught.value.fatal is fatal, str(caught.value)
        assert "source connection 'down'" in str(caught.value)
        assert "secret-pw-123" not in str(caught.value)


@pytest.mark.parametrize("partitions", [3, 8])
def test_initial_load_in_partitions_gives_the_same_profiles_and_cursor_on_every_source(
    source: str, partitions: int
) -> None:
    """``source.initial_load``: the plan's NTILE boundaries and each partition's query run in every
    dialect; partitions staged in any order are written in cursor order. 8 partitions of 17 rows: each
    holds two or three rows and the LIMIT of the query (removed for partitions) is smaller than none."""
    from customer_import.initial_load import plan, stage_partition, staged_load

    query = "SELECT id, email, first_name, ltv, big, seen_at FROM customers WHERE id > {lastItem} ORDER BY id LIMIT 5"
    import_spec = spec(query, partitions=partitions)
    conn_type = {"postgres": "postgres", "mysql": "mysql", "clickhouse": "clickhouse", "sqlite": "sqlite"}[
        source
    ]
    dialect = source_dialect_for(conn_type)
    planned = plan(
        import_spec,
        DATABASE,
        query=query,
        source=dialect,
        cursor_state=MemoryCursor(0),
        run_id="xdb-run",
        store_conn_id="store",
    )
    assert len(planned) == partitions
    if source != "clickhouse":  # ClickHouse's counts are estimates (quantilesExact: no window functions)
        assert sum(p["rows"] for p in planned) == 17
    assert [p["high"] for p in planned][-1] == "17"
    staged = [
        stage_partition(
            import_spec,
            DATABASE,
            query=query,
            source=dialect,
            partition=p,
            run_id="xdb-run",
            batch_size=2,
            store_conn_id="store",
        )
        for p in reversed(planned)
    ]
    assert sum(s["read"] for s in staged) == 17
    cursor = MemoryCursor(0)
    report = run_import(
        import_spec,
        DATABASE,
        query=query,
        source=dialect,
        cursor_state=cursor,
        run_id="xdb-run",
        batch_size=2,
        store_conn_id="store",
        initial_load=staged_load(planned, staged, 0),
    ).to_dict()
    assert report["summary"]["read"] == 17
    assert report["summary"]["cursor_after"] == 17 and cursor.load() == 17
    assert report["error_counts"] == {"invalid_email": 1}
    assert stored_profiles() == expected_profiles()
