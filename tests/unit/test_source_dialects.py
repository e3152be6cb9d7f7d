"""Source dialects without servers: parameter style, read-only statement, type normalisation with the
drivers' own value types, and which errors are fatal. (SQL Server and Oracle have no server here: these
tests and docker-compose are what keeps their code paths honest.)"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import uuid

import pytest

from customer_import.exceptions import UnsupportedConnectionError
from customer_import.sources.dialects import SOURCE_DIALECTS, source_dialect_for

QUERY = "SELECT id, name FROM t WHERE id > {lastItem} AND name LIKE 'a%' ORDER BY id"


@pytest.mark.parametrize(
    ("conn_type", "expected"),
    [
        ("sqlite", "SELECT id, name FROM t WHERE id > :last_item AND name LIKE 'a%' ORDER BY id"),
        ("postgres", "SELECT id, name FROM t WHERE id > %(last_item)s AND name LIKE 'a%%' ORDER BY id"),
        ("mysql", "SELECT id, name FROM t WHERE id > %(last_item)s AND name LIKE 'a%%' ORDER BY id"),
        ("mssql", "SELECT id, name FROM t WHERE id > %(last_item)s AND name LIKE 'a%%' ORDER BY id"),
        ("oracle", "SELECT id, name FROM t WHERE id > :last_item AND name LIKE 'a%' ORDER BY id"),
        ("clickhouse", "SELECT id, name FROM t WHERE id > %(last_item)s AND name LIKE 'a%%' ORDER BY id"),
    ],
)
def test_last_item_becomes_the_drivers_named_parameter(conn_type: str, expected: str) -> None:
    assert source_dialect_for(conn_type).render(QUERY) == (expected, True)


def test_a_query_without_last_item_is_passed_as_written() -> None:
    assert source_dialect_for("postgres").render("SELECT 'a%' AS x") == ("SELECT 'a%' AS x", False)


def test_the_pyformat_markers_are_what_the_drivers_substitute() -> None:
    # The drivers' own client-side substitution, for the pyformat ones: %% is a literal percent.
    text, _ = source_dialect_for("mysql").render(QUERY)
    assert text % {"last_item": "5"} == "SELECT id, name FROM t WHERE id > 5 AND name LIKE 'a%' ORDER BY id"


@pytest.mark.parametrize(
    ("conn_type", "read_only"),
    [
        ("sqlite", "PRAGMA query_only = ON"),
        ("postgres", "BEGIN READ ONLY (psycopg connection.read_only)"),
        ("mysql", "START TRANSACTION READ ONLY"),
        ("oracle", "SET TRANSACTION READ ONLY"),
        ("clickhouse", "setting readonly = 1"),
        ("mssql", "none available: SELECT-only validation, rolled-back transaction, db_datareader login"),
    ],
)
def test_each_dialect_says_how_its_session_is_read_only(conn_type: str, read_only: str) -> None:
    assert source_dialect_for(conn_type).read_only == read_only


def test_unknown_connection_types_are_refused_with_the_supported_list() -> None:
    with pytest.raises(
        UnsupportedConnectionError, match=r"'redshift'.*sqlite, postgres, postgresql, mysql, mssql"
    ):
        source_dialect_for("redshift")


def test_sqlglot_dialect_per_source() -> None:
    assert {d.name: d.sqlglot_dialect for d in SOURCE_DIALECTS} == {
        "sqlite": "sqlite",
        "postgres": "postgres",
        "mysql": "mysql",
        "mssql": "tsql",
        "oracle": "oracle",
        "clickhouse": "clickhouse",
    }


AWARE = dt.datetime(2026, 3, 29, 3, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))


_DRIVER_VALUES: list[tuple[str, object, object]] = [
    # numbers: integral decimals become ints (no precision lost), others stay Decimal
    ("postgres", decimal.Decimal("12345678901234567890"), 12345678901234567890),
    ("postgres", decimal.Decimal("10.50"), decimal.Decimal("10.50")),
    (
        "postgres",
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "12345678-1234-5678-1234-567812345678",
    ),
    ("postgres", ipaddress.ip_address("10.0.0.1"), "10.0.0.1"),
    ("postgres", memoryview(b"abc"), "abc"),
    ("mysql", b"\x01", 1),  # BIT(1)
    ("mysql", dt.timedelta(hours=26, minutes=5), "1 day, 2:05:00"),  # TIME
    ("mysql", {"b", "a"}, ["a", "b"]),  # SET
    ("mysql", b"plain text", "plain text"),
    # SQL Server (pymssql): DATETIMEOFFSET aware -> UTC, BIT bool, UNIQUEIDENTIFIER, MONEY
    ("mssql", AWARE, dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)),
    ("mssql", True, True),
    ("mssql", uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ("mssql", decimal.Decimal("19.9900"), decimal.Decimal("19.9900")),
    (
        "mssql",
        dt.datetime(2026, 1, 1, 10, 0),
        dt.datetime(2026, 1, 1, 10, 0),
    ),  # DATETIME2: naive stays naive
    # Oracle (oracledb): NUMBER as int/float/Decimal, RAW bytes, TIMESTAMP WITH TIME ZONE
    ("oracle", 42.0, 42),
    ("oracle", 0.5, 0.5),
    ("oracle", decimal.Decimal("7"), 7),
    ("oracle", b"\xff\x00", "ff00"),
    ("oracle", AWARE, AWARE),
    # ClickHouse: DateTime('tz') / DateTime64 aware -> UTC, Array, Tuple, IPv6, UUID, Nullable (None)
    ("clickhouse", AWARE, dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC)),
    ("clickhouse", [1, 2, decimal.Decimal("3")], [1, 2, 3]),
    ("clickhouse", ("a", 1), ["a", 1]),
    ("clickhouse", ipaddress.ip_address("2001:db8::1"), "2001:db8::1"),
    ("clickhouse", None, None),
    ("sqlite", dt.date(2024, 2, 29), dt.date(2024, 2, 29)),
    ("sqlite", dt.time(3, 4, 5), "03:04:05"),
]


@pytest.mark.parametrize(("conn_type", "raw", "expected"), _DRIVER_VALUES)
def test_driver_values_become_plain_python_values(conn_type: str, raw: object, expected: object) -> None:
    assert source_dialect_for(conn_type).normalise(raw) == expected


@pytest.mark.parametrize("conn_type", [d.conn_types[0] for d in SOURCE_DIALECTS])
def test_a_batch_is_normalised_column_by_column_as_value_by_value(conn_type: str) -> None:
    dialect = source_dialect_for(conn_type)
    odd = [raw for kind, raw, _ in _DRIVER_VALUES if kind == conn_type] or [decimal.Decimal("1")]
    plain = [None, "text", 7, 2.5, True, dt.date(2024, 1, 2), dt.datetime(2024, 1, 2, 3, 4)]
    # One column of driver values among plain ones, one of plain values only, one mixing both.
    rows = [
        (odd[i % len(odd)], plain[i % len(plain)], plain[(i + 3) % len(plain)] if i % 2 else odd[0])
        for i in range(2 * max(len(odd), len(plain)))
    ]
    expected = [tuple(dialect.normalise(v) for v in row) for row in rows]
    assert dialect.normalise_rows(rows) == expected
    assert dialect.normalise_rows([list(row) for row in rows]) == expected


def test_a_batch_of_plain_values_is_passed_on_untouched() -> None:
    rows = [(1, "a", None, 2.5, dt.date(2024, 1, 2)), (2, "b", True, 0.0, dt.datetime(2024, 1, 2))]
    assert source_dialect_for("postgres").normalise_rows(rows) is rows
    # Oracle may send integral NUMBERs as floats and ClickHouse aware datetimes: those columns are converted.
    assert source_dialect_for("oracle").normalise_rows([(42.0,)]) == [(42,)]
    assert source_dialect_for("clickhouse").normalise_rows([(AWARE,)]) == [
        (dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),)
    ]
    assert source_dialect_for("postgres").normalise_rows([]) == []


class _Lob:
    """oracledb.LOB needs a live connection; this stands in for its read() interface only."""

    def read(self) -> str:
        return "a long CLOB text"


def test_oracle_lobs_are_read() -> None:
    assert source_dialect_for("oracle").normalise(_Lob()) == "a long CLOB text"


@pytest.mark.parametrize(
    ("conn_type", "message", "fatal"),
    [
        # Errors with a code are classified by it (tests/unit/test_driver_errors.py); only an error without
        # any code falls back on its message, as libpq's refused logins (no SQLSTATE) do.
        ("postgres", 'connection failed: FATAL:  password authentication failed for user "x"', True),
        ("postgres", 'connection failed: FATAL:  database "crm" does not exist', True),
        ("postgres", "connection refused: is the server running on host 127.0.0.1 port 1", False),
        ("mssql", "Login failed for user 'sa'.", True),
        ("oracle", "ORA-01017: invalid username/password; logon denied", True),
        ("oracle", "DPY-6005: cannot connect to database. ORA-12541: TNS:no listener", False),
        ("clickhouse", "Code: 60. a message that names a code is not read for it", False),
        ("mysql", '(1146, "a message that names a code is not read for it")', False),
    ],
)
def test_an_error_without_a_code_falls_back_on_its_message(conn_type: str, message: str, fatal: bool) -> None:
    assert source_dialect_for(conn_type).is_fatal(RuntimeError(message)) is fatal


def test_a_password_echoed_by_a_driver_is_scrubbed_from_the_message() -> None:
    from customer_import.operators.import_profiles import _scrub

    assert _scrub("login failed for crm:s3cret@db", "s3cret") == "login failed for crm:***@db"
    assert _scrub("no secret here", None) == "no secret here"


@pytest.mark.parametrize(
    ("conn_type", "ahead"),
    [
        ("postgres", True),
        ("mysql", True),
        ("clickhouse", True),
        ("oracle", True),
        ("sqlite", False),  # a sqlite3 connection refuses other threads
        ("mssql", False),  # pymssql promises a connection to its own thread only; no server ran here
    ],
)
def test_which_sources_fetch_the_next_batch_in_a_helper_thread(conn_type: str, ahead: bool) -> None:
    assert source_dialect_for(conn_type).fetch_ahead is ahead
