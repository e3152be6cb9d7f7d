"""The source query: SELECT-only validation with sqlglot, and ``{lastItem}`` as a bound parameter.

``{lastItem}`` is never pasted into SQL text. For validation it is replaced by a placeholder column name;
for execution the dialect replaces it with its driver's parameter marker.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError

from customer_import.spec.import_spec import LAST_ITEM

PLACEHOLDER = "customer_import_last_item__"
# A Jinja expression stands in as an identifier: it parses as a column, a table or schema name, a LIMIT
# value, and inside quotes it is just text (a string literal stand-in would break '{{ ds }}' and FROM).
JINJA_PLACEHOLDER = "customer_import_jinja__"
_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_JINJA_BLOCK = re.compile(r"\{%.*?%\}", re.DOTALL)
# Statements that write, or lock rows, anywhere in the tree (data-modifying CTEs included), as users say them.
_WRITES: dict[type[exp.Expr], str] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.Create: "CREATE",
    exp.Drop: "DROP",
    exp.Alter: "ALTER",
    exp.TruncateTable: "TRUNCATE",
    exp.Command: "a command",
    exp.Into: "SELECT ... INTO (it creates or writes a table)",
    exp.Lock: "a row-locking clause (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE)",
}
# SQL Server table hints that take update/exclusive locks or hold shared ones to the end of the transaction.
_LOCKING_HINTS = frozenset(
    {"UPDLOCK", "XLOCK", "HOLDLOCK", "TABLOCK", "TABLOCKX", "SERIALIZABLE", "REPEATABLEREAD"}
)
# Dialects tried when the connection (and so its dialect) is not known, e.g. at spec validation.
FALLBACK_DIALECTS = ("postgres", "mysql", "tsql", "oracle", "clickhouse", "sqlite")


def for_parsing(query: str) -> str:
    """The query with Jinja expressions and ``{lastItem}`` replaced by parseable stand-ins."""
    text = _JINJA_EXPR.sub(JINJA_PLACEHOLDER, query)
    return text.replace(LAST_ITEM, PLACEHOLDER)


@contextmanager
def _quiet_sqlglot() -> Iterator[None]:
    """sqlglot logs a warning for syntax it falls back on (e.g. FOR UPDATE); our problems say it better."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def check_query(query: str, dialect: str | None) -> list[str]:
    """Problems that make ``query`` not a single read-only SELECT; empty when it is one.

    With ``dialect=None`` (the connection's type is unknown) the query passes when some supported
    dialect reads it as a single SELECT; it is checked again in the connection's own dialect before it runs.
    """
    if _JINJA_BLOCK.search(query):
        return ["Jinja blocks ({% ... %}) are not allowed in the query; use {{ ... }} expressions"]
    text = for_parsing(query)
    with _quiet_sqlglot():
        if dialect is not None:
            return _check_in(text, dialect)
        results = [_check_in(text, d) for d in FALLBACK_DIALECTS]
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
        what = _WRITES.get(type(node))
        if what is not None:
            snippet = node.sql(dialect=dialect)[:60]
            problems.append(f"the query must only read; found {what}" + (f": {snippet}" if snippet else ""))
            break
    for hint in statement.find_all(exp.WithTableHint):
        names = {e.name.upper() for e in hint.expressions} & _LOCKING_HINTS
        if names:
            problems.append(
                f"the query must only read; found the locking table hint {', '.join(sorted(names))}"
            )
            break
    if any(not select.expressions for select in statement.find_all(exp.Select)):
        problems.append("the query must select at least one column")
    if _last_item_misplaced(statement):
        problems.append(
            "{lastItem} must not be inside quotes or part of a name: it is bound as a query parameter"
        )
    return problems


def _last_item_misplaced(statement: exp.Expr) -> bool:
    """``{lastItem}`` in a string, in a quoted identifier, or glued to other characters of a name."""
    for literal in statement.find_all(exp.Literal):
        if literal.is_string and PLACEHOLDER in literal.this:
            return True
    return any(
        PLACEHOLDER in identifier.this and (identifier.quoted or identifier.this != PLACEHOLDER)
        for identifier in statement.find_all(exp.Identifier)
    )


def has_order_by(query: str, column: str, dialect: str | None) -> bool:
    """Whether the outermost SELECT orders by ``column`` (the cursor) first and ascending, as incremental
    reads need: with ``ORDER BY created_at, id`` or ``ORDER BY id DESC`` a ``LIMIT`` part is not the
    next rows after ``{lastItem}``, and the cursor would skip rows."""
    try:
        with _quiet_sqlglot():
            statement = sqlglot.parse_one(for_parsing(query), read=dialect)
    except ParseError:
        return False
    order = statement.args.get("order")
    if order is None or not order.expressions:
        return False
    first = order.expressions[0]
    return (
        isinstance(first, exp.Ordered)
        and not first.args.get("desc")
        and isinstance(first.this, exp.Column)
        and first.this.name.lower() == column.lower()
    )
