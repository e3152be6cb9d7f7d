"""Batched extraction: run the query once (one part) with ``{lastItem}`` bound, and stream its rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from customer_import.exceptions import QueryError
from customer_import.sources.dialects import PARAM_NAME, SourceDialect
from customer_import.sources.query import check_query


@dataclass(frozen=True)
class Batch:
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


def extract_part(
    dialect: SourceDialect, conn_id: str, query: str, last_item: Any, batch_size: int
) -> Iterator[Batch]:
    """Yield the rows of one query execution in batches of at most ``batch_size`` (``fetchmany``)."""
    problems = check_query(query, dialect.sqlglot_dialect)
    if problems:
        raise QueryError(f"the query is refused for a {dialect.name} source: {'; '.join(problems)}")
    text, template = dialect.render(query)
    params = None if template is None else {PARAM_NAME: last_item}
    with dialect.read_only_cursor(conn_id) as cursor:
        if params is None:
            cursor.execute(text)
        else:
            cursor.execute(text, params)
        columns = tuple(str(d[0]) for d in cursor.description or ())
        normalise = dialect.normalise
        while rows := cursor.fetchmany(batch_size):
            yield Batch(columns, [tuple(normalise(v) for v in row) for row in rows])
