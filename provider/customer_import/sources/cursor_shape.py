"""How a cursor query reads its parts, as far as the cursor's safety depends on it (decision record 0005).

Three facts, read from the query text with sqlglot (nothing is executed):

* ``ordered``: the outermost SELECT orders by the cursor column first, ascending, so a part's rows come
  in cursor order and every value before the last one seen is complete;
* ``inclusive``: the query compares with ``>=`` (``{lastItem} <=``), so the next part reads the rows that
  share the saved value again; with ``>`` (or a comparison this cannot read) they are not read again;
* ``limit``: the outermost ``LIMIT n`` / ``FETCH FIRST n`` / ``TOP n``. A part that returned ``n`` rows
  may have been cut inside a group of rows sharing its last value. ``limit_unknown``: a limit that is not
  a number (then every part is treated as possibly cut).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from customer_import.sources.query import PLACEHOLDER, for_parsing, has_order_by


@dataclass(frozen=True)
class CursorShape:
    ordered: bool
    inclusive: bool
    limit: int | None
    limit_unknown: bool = False

    def may_be_cut(self, rows_in_part: int) -> bool:
        """Whether a part of ``rows_in_part`` rows may have stopped inside a group of equal values."""
        if self.limit_unknown:
            return rows_in_part > 0
        return self.limit is not None and rows_in_part >= self.limit


def cursor_shape(query: str, column: str, dialect: str | None) -> CursorShape:
    ordered = has_order_by(query, column, dialect)
    try:
        statement = sqlglot.parse_one(for_parsing(query), read=dialect)
    except Exception:  # any sqlglot failure: nothing can be assumed
        return CursorShape(ordered=False, inclusive=False, limit=None, limit_unknown=True)
    limit, unknown = _limit(statement)
    return CursorShape(ordered=ordered, inclusive=_inclusive(statement), limit=limit, limit_unknown=unknown)


def _limit(statement: exp.Expr) -> tuple[int | None, bool]:
    clause = statement.args.get("limit")
    if clause is None:
        return None, False
    count = clause.args.get("count") if isinstance(clause, exp.Fetch) else clause.args.get("expression")
    if isinstance(count, exp.Literal) and not count.is_string:
        try:
            return int(count.this), False
        except ValueError:
            return None, True
    return None, True


def _is_placeholder(node: exp.Expr | None) -> bool:
    return isinstance(node, exp.Column) and node.name == PLACEHOLDER


def _inclusive(statement: exp.Expr) -> bool:
    """True when every comparison with ``{lastItem}`` includes the value itself (``>=``)."""
    kinds: set[bool] = set()
    for node in statement.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE):
        left, right = node.this, node.expression
        if _is_placeholder(right):  # column > {lastItem} / column >= {lastItem}
            kinds.add(isinstance(node, exp.GTE))
        elif _is_placeholder(left):  # {lastItem} < column / {lastItem} <= column
            kinds.add(isinstance(node, exp.LTE))
    return kinds == {True}
