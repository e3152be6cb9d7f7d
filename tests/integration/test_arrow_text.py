"""The columnar reader of PostgreSQL sources (customer_import.sources.arrow_text) against the psycopg
reader, on a real server: the same values and types for every PostgreSQL type, the same batches, the
same errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from customer_import.exceptions import SourceError
from customer_import.sources.dialects.postgres import PostgresSource
from customer_import.sources.extract import ArrowBatch, Batch, extract_part

pytestmark = pytest.mark.postgres

TYPES = """
CREATE TABLE every_type (
    id int8 PRIMARY KEY, i2 int2, i4 int4, n numeric, f4 float4, f8 float8, b bool, t text, v varchar(12),
    c char(6), nm name, d date, ts timestamp, tstz timestamptz, tm time, ttz timetz, iv interval, j json,
    jb jsonb, u uuid, by bytea, ip inet, ia int4[], ta text[], m money
);
INSERT INTO every_type VALUES
 (1, -32768, 2147483647, 12345678901234567890.000100, 1.5, 0.1, true, 'plain', 'varchar', 'ab', 'name',
  '2024-02-29', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15+05:30', '23:59:59.5', '10:00+02',
  '1 year 2 mons 3 days 04:05:06', '{"a": [1, 2.50, "x"]}', '{"b": null, "a": 1}',
  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '\\x00ff10', '192.168.0.1/24', '{1,NULL,3}', '{"a b",c,NULL}',
  12.34),
 (2, 0, 0, 'NaN', 'NaN', 'Infinity', false, E'tab\\there\\nnewline \\\\ back', '', 'abcdef', '',
  'infinity', '-infinity', 'infinity', '24:00', '00:00-12', '-1 day', 'null', '[]',
  '00000000-0000-0000-0000-000000000000', '', '::1', '{}', '{}', -0.5),
 (3, NULL, NULL, NULL, NULL, '-Infinity', NULL, 'Grüße 👋 — ça', NULL, NULL, NULL,
  '10000-01-01', '4713-01-01 BC', '10000-01-01 00:00:00+00', NULL, NULL, '1000000 hours', NULL, NULL,
  NULL, NULL, NULL, '{{1,2},{3,4}}', NULL, NULL),
 (4, 1, 1, 1.0, 1e-38, 1e308, true, '  padded  ', 'x', '', 'x', '0001-01-01', '0001-01-01 00:00:00',
  '1970-01-01 00:00:00+00', '00:00', '00:00+00', '0', '1.0', '{"k": "é"}', NULL, '\\x', NULL, NULL,
  '{"\\"quoted\\""}', 0),
 (5, 7, 7, 7, 7, 7, true, 'five', 'five', 'five', 'five', '2000-01-01', '2000-01-01 00:00:00',
  '2000-01-01 00:00:00+00', '12:00', '12:00+00', '7 days', '{}', '{}', NULL, NULL, NULL, NULL, NULL, 7);
"""


@pytest.fixture
def source(pg_conn: Callable[[str], str]) -> str:
    uri = pg_conn("src")
    with psycopg.connect(uri, autocommit=True) as db:
        db.execute(TYPES)
        # A session time zone of its own: timestamptz text and values depend on it, in both readers.
        db.execute(f"ALTER DATABASE {uri.rsplit('/', 1)[1]} SET TimeZone TO 'Asia/Kolkata'")
    return uri


def _read(query: str, batch_size: int, *, columnar: bool, last: Any = None) -> list[Batch]:
    return list(extract_part(PostgresSource(), "src", query, last, batch_size, columnar=columnar))


def _typed(rows: list[tuple[Any, ...]]) -> list[list[tuple[type, Any]]]:
    """Each value with its type (``1 == 1.0 == True`` would hide a difference)."""
    return [[(type(value), repr(value)) for value in row] for row in rows]


@pytest.mark.parametrize("batch_size", [2, 1000])
def test_every_value_and_type_is_the_psycopg_readers(source: str, batch_size: int) -> None:
    query = "SELECT * FROM every_type WHERE id > {lastItem} ORDER BY id"
    arrow = _read(query, batch_size, columnar=True, last=0)
    plain = _read(query, batch_size, columnar=False, last=0)
    assert all(isinstance(batch, ArrowBatch) for batch in arrow)
    assert not any(isinstance(batch, ArrowBatch) for batch in plain)
    assert (
        [len(b.rows) for b in arrow]
        == [len(b.rows) for b in plain]
        == ([2, 2, 1] if batch_size == 2 else [5])
    )
    assert [b.columns for b in arrow] == [b.columns for b in plain]
    arrow_rows = [row for batch in arrow for row in batch.rows]
    plain_rows = [row for batch in plain for row in batch.rows]
    assert len(plain_rows) == 5
    assert _typed(arrow_rows) == _typed(plain_rows)
    # Values psycopg cannot load are the same Unreadable markers (dates past 9999, time 24:00 ...).
    assert "Unreadable" in {type(v).__name__ for row in plain_rows for v in row}


def test_rows_are_made_only_for_the_positions_and_columns_asked(source: str) -> None:
    (batch,) = _read("SELECT id, t, d FROM every_type ORDER BY id", 10, columnar=True)
    assert isinstance(batch, ArrowBatch)
    rows = batch.rows
    assert rows.take([4, 0], only=frozenset({0})) == [(5, None, None), (1, None, None)]  # type: ignore[attr-defined]
    assert rows[-1] == rows[4] == (5, "five", rows[4][2])
    assert rows[1:3] == [rows[1], rows[2]]
    with pytest.raises(IndexError):
        rows[5]


def test_literal_parameters_quote_like_bound_ones(source: str) -> None:
    """``{lastItem}`` is inlined as a literal (psycopg's quoting) for COPY: a text cursor with quotes."""
    query = "SELECT id, t FROM every_type WHERE t > {lastItem} ORDER BY t"
    last = "it's 'quoted' \\ "
    arrow = [row for b in _read(query, 10, columnar=True, last=last) for row in b.rows]
    plain = [row for b in _read(query, 10, columnar=False, last=last) for row in b.rows]
    assert arrow == plain and plain  # the rows after it in the database's collation


def _error(query: str, *, columnar: bool) -> SourceError:
    with pytest.raises(SourceError) as raised:
        _read(query, 2, columnar=columnar, last=0)
    return raised.value


def test_an_error_in_the_middle_of_the_read_is_the_psycopg_readers(source: str) -> None:
    query = "SELECT id, 10 / (id - 4) AS q FROM every_type WHERE id > {lastItem} ORDER BY id"
    arrow, plain = _error(query, columnar=True), _error(query, columnar=False)
    assert str(arrow) == str(plain)
    assert "DivisionByZero [SQLSTATE 22012]: division by zero" in str(arrow)
    assert arrow.fatal and plain.fatal
    assert isinstance(arrow.__cause__, psycopg.errors.DivisionByZero)


def test_the_session_is_read_only(source: str) -> None:
    with psycopg.connect(source, autocommit=True) as db:  # a write the query check cannot see
        db.execute(
            "CREATE TABLE written (i int8); CREATE FUNCTION write(i int8) RETURNS int8 LANGUAGE plpgsql"
            " AS $$ BEGIN INSERT INTO written VALUES (i); RETURN i; END $$"
        )
    query = "SELECT write(id) AS id FROM every_type WHERE id > {lastItem}"
    arrow, plain = _error(query, columnar=True), _error(query, columnar=False)
    assert str(arrow) == str(plain)
    assert "ReadOnlySqlTransaction [SQLSTATE 25006]" in str(arrow) and arrow.fatal


def test_the_statement_timeout_applies(source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__STATEMENT_TIMEOUT_SECONDS", "1")
    with psycopg.connect(source, autocommit=True) as db:
        db.execute(
            "CREATE FUNCTION slow(i int8) RETURNS int8 LANGUAGE plpgsql"
            " AS $$ BEGIN PERFORM pg_sleep(3); RETURN i; END $$"
        )
    query = "SELECT slow(id) AS id FROM every_type WHERE id > {lastItem}"
    arrow = _error(query, columnar=True)
    assert "QueryCanceled [SQLSTATE 57014]" in str(arrow) and "statement timeout" in str(arrow)
    assert not arrow.fatal  # transient: Airflow retries
