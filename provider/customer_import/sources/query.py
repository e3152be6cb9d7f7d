"""The source query: SELECT-only validation with sqlglot, and ``{lastItem}`` as a bound parameter.

``{lastItem}`` is never pasted into SQL text. For validation it is replaced by a placeholder column name;
for execution the dialect replaces it with its driver's parameter marker.
"""

from __future__ import annotations

import re

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from customer_import.spec.import_spec import LAST_ITEM

PLACEHOLDER = "customer_import_last_item__"
_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_JINJA_BLOCK = re.compile(r"\{%.*?%\}", re.DOTALL)
# Statements that write, or lock rows, anywhere in the tree (data-modifying CTEs included).
_WRITES = (
    exp.Insert,
    exp.Update,
    exp.Delete,
    exp.Merge,
    exp.Create,
    exp.Drop,
    exp.Alter,
    exp.TruncateTable,
    exp.Command,
    exp.Into,
    exp.Lock,
)
# Dialects tried when the connection (and so its dialect) is not known, e.g. at spec validation.
FALLBACK_DIALECTS = ("postgres", "mysql", "tsql", "oracle", "clickhouse", "sqlite")


def for_parsing(query: str) -> str:
    """The query with Jinja expressions and ``{lastItem}`` replaced by parseable stand-ins."""
    text = _JINJA_EXPR.sub("'jinja'", query)
    return text.replace(LAST_ITEM, PLACEHOLDER)


def check_query(query: str, dialect: str | None) -> list[str]:
    """Problems that make ``query`` not a single read-only SELECT; empty when it is one.

    With ``dialect=None`` (the connection's type is unknown) the query passes when some supported
    dialect reads it as a single SELECT; it is checked again in the connection's own dialect before it runs.
    """
    if _JINJA_BLOCK.search(query):
        return ["Jinja blocks ({% ... %}) are not allowed in the query; use {{ ... }} expressions"]
    if dialect is not None:
        return _check_in(for_parsing(query), dialect)
    results = [_check_in(for_parsing(query), d) for d in FALLBACK_DIALECTS]
    if any(not problems for problems in results):
        return []
    return results[0]


def _check_in(text: str, dialect: str) -> list[str]:
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        return [f"the query is not valid {dialect} SQL{where}: {first.get('description', exc)}"]
    if len(statements) != 1:
        return [f"the query must be one statement, found {len(statements)}"]
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        first_word = text.split(None, 1)[0] if text.strip() else ""
        return [f"the query must be a SELECT (WITH ... SELECT allowed); it starts with {first_word!r}"]
    problems = []
    for node in statement.walk():
        if isinstance(node, _WRITES):
            snippet = node.sql(dialect=dialect)[:60]
            problems.append(f"the query must only read; found {node.key.upper()}: {snippet}")
            break
    for literal in statement.find_all(exp.Literal):
        if literal.is_string and PLACEHOLDER in literal.this:
            problems.append("{lastItem} must not be inside quotes: it is bound as a query parameter")
            break
    return problems


def has_order_by(query: str, column: str, dialect: str | None) -> bool:
    """Whether the outermost SELECT orders by ``column`` (the cursor), as incremental reads need."""
    try:
        statement = sqlglot.parse_one(for_parsing(query), read=dialect)
    except ParseError:
        return False
    order = statement.args.get("order")
    if order is None:
        return False
    return any(
        isinstance(o.this, exp.Column) and o.this.name.lower() == column.lower() for o in order.expressions
    )
