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
from sqlglot import TokenType, exp
from sqlglot.errors import ParseError

from customer_import.sources.side_effects import side_effect_calls
from customer_import.spec.import_spec import LAST_ITEM

PLACEHOLDER = "customer_import_last_item__"
# A Jinja expression stands in as an identifier: it parses as a column, a table or schema name, a LIMIT
# value, and inside quotes it is just text (a string literal stand-in would break '{{ ds }}' and FROM).
JINJA_PLACEHOLDER = "customer_import_jinja__"
_JINJA_EXPR = re.compile(r"\{\{.*?\}\}", re.DOTALL)
_JINJA_BLOCK = re.compile(r"\{%.*?%\}", re.DOTALL)
# MySQL's and MariaDB's executable comments: the server runs what sqlglot (and every other DBMS) skips.
_EXECUTED_COMMENT = re.compile(r"/\*M?!", re.IGNORECASE)
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

    Every supported dialect reads the text, because they disagree on where comments and strings end
    (``#`` starts a comment in MySQL only, ``\\'`` escapes a quote in MySQL only, and a server's own
    settings such as MySQL's NO_BACKSLASH_ESCAPES or PostgreSQL's standard_conforming_strings move the
    line again): ``SELECT 1 # 1; DELETE FROM t`` is one SELECT to MySQL and two statements to PostgreSQL.
    So the query is refused when *any* reading that can parse it sees more than one statement, something
    else than a SELECT, a write, a row lock or a call with side effects. Besides, with ``dialect`` (at run
    time, the connection's own) that dialect must read one clean SELECT; with ``None`` (at validation, the
    connection's type not known) at least one dialect must (syntax of one DBMS only, e.g. ``TOP 10``, is
    not refused for failing to parse in the others).
    """
    if _JINJA_BLOCK.search(query):
        return ["Jinja blocks ({% ... %}) are not allowed in the query; use {{ ... }} expressions"]
    if _EXECUTED_COMMENT.search(query):
        return [
            "the query must not contain /*! ... */ or /*M! ... */: MySQL and MariaDB execute the text of "
            "such a comment as SQL"
        ]
    text = for_parsing(query)
    with _quiet_sqlglot():
        readings = {
            d: _reading(text, d)
            for d in dict.fromkeys((*FALLBACK_DIALECTS, *((dialect,) if dialect else ())))
        }
    # Without a dialect: a clean reading if there is one, else the first that parsed, else the first.
    own = readings[dialect] if dialect else min(readings.values(), key=lambda p: (bool(p), _unparseable(p)))
    problems = list(own)
    clean = sorted(d for d, found in readings.items() if not found)
    for gist, names in _dangers(readings).items():
        if any(_gist(p) == gist for p in own):
            continue
        note = f" (so read by {', '.join(names)}" + (
            f"; {', '.join(clean)} read one SELECT: comments and quotes differ between databases, and "
            "the query must be one read-only SELECT to every one)"
            if clean
            else ")"
        )
        problems.append(gist + note)
    return problems


class _Danger(str):
    """A problem that refuses the query in whichever dialect's reading finds it (see check_query)."""

    __slots__ = ()


def _gist(problem: str) -> str:
    """A problem without the SQL snippet that each dialect prints in its own way."""
    return problem.split(": ", 1)[0]


def _dangers(readings: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each dangerous problem (its gist) and the dialects whose reading found it."""
    found: dict[str, list[str]] = {}
    for name, problems in readings.items():
        for problem in problems:
            if isinstance(problem, _Danger) and name not in found.setdefault(_gist(problem), []):
                found[_gist(problem)].append(name)
    return found


def _unparseable(problems: list[str]) -> bool:
    return bool(problems) and problems[0].startswith("the query is not valid")


def _reading(text: str, dialect: str) -> list[str]:
    """``_check_in``; where the dialect cannot parse the text, its tokens still count the statements:
    ``SELECT 1 /* /* */ ; DELETE FROM t */`` is one statement to PostgreSQL (nested comments) and, to
    MySQL, a SELECT and a broken DELETE that the parser gives up on."""
    problems = _check_in(text, dialect)
    if _unparseable(problems):
        count = _statements_by_tokens(text, dialect)
        if count > 1:
            problems.append(_Danger(f"the query must be one statement, found {count}"))
    return problems


def _statements_by_tokens(text: str, dialect: str) -> int:
    """How many non-empty runs of tokens the dialect's semicolons separate (0 if it cannot tokenize)."""
    try:
        tokens = sqlglot.tokenize(text, read=dialect)
    except (sqlglot.errors.SqlglotError, RecursionError):
        return 0
    count, pending = 0, False
    for token in tokens:
        if token.token_type is TokenType.SEMICOLON:
            count, pending = count + pending, False
        else:
            pending = True
    return count + pending


def _check_in(text: str, dialect: str) -> list[str]:
    try:
        statements = [s for s in sqlglot.parse(text, read=dialect) if s is not None]
    except ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        return [f"the query is not valid {dialect} SQL{where}: {first.get('description', exc)}"]
    except (sqlglot.errors.SqlglotError, RecursionError) as exc:  # e.g. TokenError: an unterminated quote
        why = "it nests too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())
        if isinstance(exc, sqlglot.errors.TokenError):
            why = f"an unterminated quote or comment? ({why})"
        return [f"the query is not valid {dialect} SQL: {why}"]
    if len(statements) != 1:
        message = f"the query must be one statement, found {len(statements)}"
        return [_Danger(message) if statements else message]
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        first_word = text.split(None, 1)[0] if text.strip() else ""
        return [
            _Danger(f"the query must be a SELECT (WITH ... SELECT allowed); it starts with {first_word!r}")
        ]
    problems: list[str] = []
    for node in statement.walk():
        what = _WRITES.get(type(node))
        if what is not None:
            snippet = node.sql(dialect=dialect)[:60]
            problems.append(
                _Danger(f"the query must only read; found {what}" + (f": {snippet}" if snippet else ""))
            )
            break
    for hint in statement.find_all(exp.WithTableHint):
        names = {e.name.upper() for e in hint.expressions} & _LOCKING_HINTS
        if names:
            problems.append(
                _Danger(f"the query must only read; found the locking table hint {', '.join(sorted(names))}")
            )
            break
    problems.extend(
        _Danger(f"the query must only read; found {call}") for call in side_effect_calls(statement)
    )
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
    except (sqlglot.errors.SqlglotError, RecursionError):  # ParseError, TokenError (an unterminated quote)
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
