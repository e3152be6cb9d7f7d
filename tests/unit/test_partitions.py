"""The initial load's source SQL in every dialect (SQL Server and Oracle have no server here: their text is
checked by parsing it back and by what the driver receives), and how tiles become partitions."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlglot
from sqlglot import exp

from customer_import.sources.dialects import source_dialect_for
from customer_import.sources.partitions import HIGH, LOW, Partition, boundaries_query, partition_query, split
from customer_import.sources.query import for_parsing

QUERIES = {
    "postgres": "SELECT id, email, updated_at FROM customers WHERE updated_at > {lastItem} ORDER BY updated_at LIMIT 500",
    "mysql": "SELECT id, email, updated_at FROM customers WHERE updated_at > {lastItem} ORDER BY updated_at LIMIT 500",
    "tsql": "SELECT TOP 500 id, email, updated_at FROM customers WHERE updated_at > {lastItem} ORDER BY updated_at",
    "oracle": "SELECT id, email, updated_at FROM customers WHERE updated_at > {lastItem} ORDER BY updated_at "
    "FETCH FIRST 500 ROWS ONLY",
    "clickhouse": "SELECT id, email, updated_at FROM customers WHERE updated_at > {lastItem} ORDER BY updated_at "
    "LIMIT 500",
    "sqlite": "SELECT id, email, updated_at FROM customers WHERE updated_at > {lastItem} ORDER BY updated_at LIMIT 500",
}
CONN_TYPES = {
    "postgres": "postgres",
    "mysql": "mysql",
    "tsql": "mssql",
    "oracle": "oracle",
    "clickhouse": "clickhouse",
    "sqlite": "sqlite",
}


def parsed(text: str, dialect: str) -> exp.Expr:
    return sqlglot.parse_one(for_parsing(text), read=dialect)


@pytest.mark.parametrize("dialect", sorted(QUERIES))
def test_the_boundaries_query_tiles_the_whole_range_without_the_limit(dialect: str) -> None:
    text = boundaries_query(QUERIES[dialect], "updated_at", dialect, 4)
    statement = parsed(text, dialect)
    assert " 500" not in text  # the LIMIT / TOP / FETCH is gone: the plan sees the whole range
    assert "{lastItem}" in text  # still bound by the driver, at start_value
    if dialect == "clickhouse":  # Debian's ClickHouse (18.16) has no window functions: exact quantiles
        assert "quantilesExact(0.25, 0.5, 0.75, 1)(customer_import_value)" in text
        return
    [window] = list(statement.find_all(exp.Window))
    assert window.this.sql().upper() == "NTILE(4)"
    assert {c.name for c in statement.find_all(exp.Column)} >= {"updated_at", "customer_import_tile"}


@pytest.mark.parametrize("dialect", sorted(QUERIES))
@pytest.mark.parametrize("first", [True, False])
def test_a_partition_query_reads_its_range_in_cursor_order(dialect: str, first: bool) -> None:
    text = partition_query(QUERIES[dialect], "updated_at", dialect, first=first)
    statement = parsed(text, dialect)
    assert "500" not in text
    assert (LOW in text) is not first  # the first partition starts where the query's own {lastItem} does
    assert HIGH in text
    order = statement.args["order"].expressions
    assert [o.this.name for o in order] == ["updated_at"]
    source = source_dialect_for(CONN_TYPES[dialect])
    rendered, takes = source.render(text)
    for name in (LOW, HIGH):
        rendered = rendered.replace(name, source.marker.replace("last_item", name))
    assert takes
    assert source.marker.replace("last_item", HIGH) in rendered  # what the driver binds by name
    assert "{lastItem}" not in rendered


def test_an_unordered_query_gives_unordered_partitions() -> None:
    text = partition_query("SELECT id, email FROM t WHERE id > {lastItem}", "id", "postgres", first=True)
    assert "ORDER BY" not in text


def test_tiles_ending_on_the_same_value_make_one_partition() -> None:
    day = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    tiles = [
        (day, 250),
        (day, 250),
        (day + dt.timedelta(days=1), 250),
        (None, 3),
        (day + dt.timedelta(days=9), 250),
    ]
    parts = split(tiles, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert parts == [
        Partition(0, dt.datetime(2000, 1, 1, tzinfo=dt.UTC), day, 500),
        Partition(1, day, day + dt.timedelta(days=1), 250),
        Partition(2, day + dt.timedelta(days=1), day + dt.timedelta(days=9), 250),
    ]
    assert [p.first for p in parts] == [True, False, False]
    assert split([], 0) == []
