"""The parallel initial load's source side (``source.initial_load``): split the first run's cursor range
into partitions of about equal row counts, and read one partition.

Both are the spec's own query, rewritten with sqlglot in the source's dialect (nothing pasted as text,
every value bound as a parameter):

* the **plan** reads the query once with ``{lastItem}`` at ``start_value``, without its outermost
  ``LIMIT``/``ORDER BY``, and numbers its non-empty cursor values into N tiles with ``NTILE(N) OVER
  (ORDER BY cursor)`` (ClickHouse: ``quantilesExact``); each tile's largest value ends a partition.
  Tiles hold equal numbers of *rows*, so a skewed range (most rows in a few days of a decade) is
  balanced by rows, not by value width. Equal values never straddle two partitions (a boundary is a
  value, and a partition holds every row with it); a value with more rows than a tile makes fewer,
  larger partitions.
* a **partition** ``(low, high]`` reads the query without its ``LIMIT`` as a derived table, with
  ``{lastItem}`` at ``low`` and the outer filter ``cursor <= high`` (and ``cursor > low`` after the first
  partition, so an inclusive ``>= {lastItem}`` query does not read the boundary value twice), ordered by
  the cursor when the query is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlglot
from sqlglot import exp

from customer_import.exceptions import QueryError
from customer_import.sources.query import PLACEHOLDER, for_parsing, has_order_by
from customer_import.spec.import_spec import LAST_ITEM

LOW = "customer_import_partition_low"  # bound like {lastItem}: the partition's exclusive lower end
HIGH = "customer_import_partition_high"  # the partition's inclusive upper end
TILE_COLUMN = "customer_import_tile"
ALIAS = "customer_import_part"


@dataclass(frozen=True)
class Partition:
    """Rows whose cursor value is in ``(low, high]``; the first partition reads from the query's own
    ``{lastItem}`` comparison with ``start_value`` (``low``), later ones strictly after ``low``."""

    index: int
    low: Any
    high: Any
    rows: int  # as counted by the plan (rows arriving later are read by the import's incremental part)

    @property
    def first(self) -> bool:
        return self.index == 0


def _inner(query: str, dialect: str) -> exp.Query:
    """The query parsed, without its outermost LIMIT/OFFSET/FETCH/TOP and ORDER BY."""
    try:
        statement = sqlglot.parse_one(for_parsing(query), read=dialect)
    except (sqlglot.errors.SqlglotError, RecursionError) as exc:
        raise QueryError(f"initial_load: the query cannot be read as {dialect} SQL: {exc}") from exc
    if not isinstance(statement, exp.Query):
        raise QueryError("initial_load: the query must be a SELECT")
    for clause in ("limit", "offset", "order", "fetch"):
        statement.set(clause, None)
    return statement


def _column(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name.rsplit(".", 1)[-1], table=table)


def _text(statement: exp.Expr, dialect: str) -> str:
    """The statement in the dialect, with the placeholders back as tokens the source dialect binds."""
    text = statement.sql(dialect=dialect)
    return text.replace(PLACEHOLDER, LAST_ITEM)


def boundaries_query(query: str, column: str, dialect: str, partitions: int) -> str:
    """``SELECT MAX(cursor), COUNT(*) ... GROUP BY tile``: each tile's last value and row count."""
    if dialect == "clickhouse":
        return _clickhouse_boundaries(query, column, partitions)
    inner = _inner(query, dialect).subquery("customer_import_source")
    tiles = (
        exp.select(
            _column(column).as_("customer_import_value"),
            exp.Window(
                this=exp.Anonymous(this="NTILE", expressions=[exp.Literal.number(partitions)]),
                order=exp.Order(expressions=[exp.Ordered(this=_column(column))]),
            ).as_(TILE_COLUMN),
        )
        .from_(inner)
        .where(exp.Not(this=exp.Is(this=_column(column), expression=exp.Null())))
        .subquery("customer_import_tiles")
    )
    value = exp.column("customer_import_value")
    statement = (
        exp.select(exp.Max(this=value).as_("upper_value"), exp.Count(this=exp.Star()).as_("row_count"))
        .from_(tiles)
        .group_by(exp.column(TILE_COLUMN))
        .order_by(exp.column("upper_value"))
    )
    return _text(statement, dialect)


def _clickhouse_boundaries(query: str, column: str, partitions: int) -> str:
    """ClickHouse before 21.x has no window functions (Debian ships 18.16): the same tiles' last values
    from ``quantilesExact`` (exact quantiles: equal row counts), each with an equal share of the rows
    (the counts are estimates here; they are only logged)."""
    inner = _inner(query, "clickhouse").subquery("customer_import_source")
    values = (
        exp.select(_column(column).as_("customer_import_value"))
        .from_(inner)
        .where(exp.Not(this=exp.Is(this=_column(column), expression=exp.Null())))
        .sql(dialect="clickhouse")
    )
    levels = ", ".join(f"{n / partitions:.6g}" for n in range(1, partitions + 1))
    text = (
        f"SELECT arrayJoin(quantilesExact({levels})(customer_import_value)) AS upper_value, "
        f"intDiv(count(), {partitions}) AS row_count FROM ({values})"
    )
    return text.replace(PLACEHOLDER, LAST_ITEM)


def partition_query(query: str, column: str, dialect: str, *, first: bool) -> str:
    """The query reading one partition; binds ``{lastItem}`` (= low), ``LOW`` (= low) and ``HIGH``."""
    inner = _inner(query, dialect).subquery(ALIAS)
    value = _column(column, ALIAS)
    condition: exp.Expr = exp.LTE(this=value, expression=exp.column(HIGH))
    if not first:
        condition = exp.and_(exp.GT(this=value.copy(), expression=exp.column(LOW)), condition)
    statement = exp.select(exp.Star()).from_(inner).where(condition)
    if has_order_by(query, column, dialect):
        statement = statement.order_by(_column(column, ALIAS))
    return _text(statement, dialect)


def split(tiles: list[tuple[Any, int]], start: Any) -> list[Partition]:
    """Partitions from the plan's ``(last value, rows)`` per tile, in value order; tiles ending on the
    same value (one value with more rows than a tile) are one partition."""
    partitions: list[Partition] = []
    low = start
    for high, rows in sorted((t for t in tiles if t[0] is not None), key=lambda t: t[0]):
        if partitions and high == partitions[-1].high:
            last = partitions[-1]
            partitions[-1] = Partition(last.index, last.low, last.high, last.rows + int(rows))
            continue
        partitions.append(Partition(len(partitions), low, high, int(rows)))
        low = high
    return partitions
