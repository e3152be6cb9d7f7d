"""``check_query`` (a single read-only SELECT) and ``has_order_by``, in every source dialect.

Each table row runs in every dialect of ``FALLBACK_DIALECTS`` and with ``None`` (the connection's type not
known yet, as at spec validation: the query passes when one dialect reads it as a single SELECT).
"""

from __future__ import annotations

import pytest

from customer_import.sources.query import (
    FALLBACK_DIALECTS,
    PLACEHOLDER,
    check_query,
    for_parsing,
    has_order_by,
)

DIALECTS = [*FALLBACK_DIALECTS, None]
ALL = frozenset(DIALECTS)

ACCEPTED = {
    "select": "SELECT id, email FROM customers",
    "select_star": "SELECT * FROM customers",
    "last_item": "SELECT id, email FROM customers WHERE id > {lastItem} ORDER BY id",
    "last_item_twice": "SELECT id FROM customers WHERE id > {lastItem} OR (id = {lastItem} AND x > 0)",
    "multiline": "SELECT id,\n       email\nFROM customers\nWHERE id > {lastItem}\nORDER BY id\n",
    "with_select": "WITH recent AS (SELECT id FROM customers) SELECT id FROM recent",
    "with_two_ctes": "WITH a AS (SELECT id FROM x), b AS (SELECT id FROM a) SELECT id FROM b",
    "union_all": "SELECT id FROM shop_a UNION ALL SELECT id FROM shop_b",
    "union_in_cte": "WITH u AS (SELECT id FROM a UNION ALL SELECT id FROM b) SELECT id FROM u",
    "subqueries": "SELECT id FROM (SELECT id FROM customers) AS c WHERE id IN (SELECT id FROM vip)",
    "join": "SELECT c.id, o.total FROM customers c JOIN orders o ON o.customer_id = c.id",
    "case_and_functions": "SELECT id, CASE WHEN vip = 1 THEN 'gold' ELSE 'bronze' END AS tier, LOWER(email) FROM c",
    "group_by": "SELECT email, COUNT(*) AS n FROM orders GROUP BY email HAVING COUNT(*) > 1",
    "trailing_semicolon": "SELECT id FROM customers;",
    "write_words_in_a_comment": "SELECT id FROM customers -- never DELETE or UPDATE here\n",
    "write_words_in_a_string": "SELECT id FROM customers WHERE note <> 'DELETE FROM x; DROP TABLE y'",
    "write_words_in_names": "SELECT updated_at, deleted, insert_ts FROM customers",
    "jinja_value": "SELECT id FROM customers WHERE updated_at >= {{ data_interval_start }}",
    "jinja_in_quotes": (
        "SELECT id FROM customers "
        "WHERE updated_at >= '{{ data_interval_start }}' AND updated_at < '{{ data_interval_end }}'"
    ),
    "jinja_schema_name": "SELECT id FROM {{ params.schema }}.customers",
    "jinja_macro_call": "SELECT id FROM customers WHERE day = {{ macros.ds_add(ds, -1) }}",
    "jinja_multiline": "SELECT id FROM customers WHERE day = {{\n  ds\n}}",
    "jinja_and_last_item": (
        "SELECT id FROM customers WHERE id > {lastItem} AND region = '{{ params.region }}' ORDER BY id"
    ),
}


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("query", ACCEPTED.values(), ids=ACCEPTED.keys())
def test_read_only_select_is_accepted(query: str, dialect: str | None) -> None:
    assert check_query(query, dialect) == []


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "clickhouse"])
def test_plain_union_is_accepted(dialect: str | None) -> None:
    # ClickHouse wants UNION ALL or UNION DISTINCT; with the dialect unknown the others accept it.
    assert check_query("SELECT id FROM a UNION SELECT id FROM b", dialect) == []


def test_plain_union_is_not_clickhouse() -> None:
    assert check_query("SELECT id FROM a UNION SELECT id FROM b", "clickhouse") != []


NOT_A_SELECT = "the query must be a SELECT (WITH ... SELECT allowed); it starts with"
ONE_STATEMENT = "the query must be one statement, found 2"
ONLY_READ = "the query must only read; found"
LOCKING = "the query must only read; found a row-locking clause"
IN_QUOTES = "{lastItem} must not be inside quotes"

# (id, query, message substring, dialects that cannot even parse it, and so report a syntax error instead)
REJECTED: list[tuple[str, str, str, frozenset[str]]] = [
    ("delete", "DELETE FROM customers WHERE id = 1", f"{NOT_A_SELECT} 'DELETE'", frozenset()),
    ("update", "UPDATE customers SET tier = 'gold'", f"{NOT_A_SELECT} 'UPDATE'", frozenset()),
    ("insert", "INSERT INTO customers (id) VALUES (1)", f"{NOT_A_SELECT} 'INSERT'", frozenset()),
    ("insert_select", "INSERT INTO archive SELECT * FROM customers", f"{NOT_A_SELECT} 'INSERT'", frozenset()),
    (
        "merge",
        "MERGE INTO t USING u ON t.id = u.id WHEN MATCHED THEN DELETE",
        f"{NOT_A_SELECT} 'MERGE'",
        frozenset(),
    ),
    ("drop", "DROP TABLE customers", f"{NOT_A_SELECT} 'DROP'", frozenset()),
    ("create_as", "CREATE TABLE copy AS SELECT id FROM customers", f"{NOT_A_SELECT} 'CREATE'", frozenset()),
    ("truncate", "TRUNCATE TABLE customers", f"{NOT_A_SELECT} 'TRUNCATE'", frozenset()),
    ("alter", "ALTER TABLE customers ADD COLUMN x INT", f"{NOT_A_SELECT} 'ALTER'", frozenset()),
    ("grant", "GRANT SELECT ON customers TO bob", f"{NOT_A_SELECT} 'GRANT'", frozenset()),
    ("call", "CALL refresh_customers()", f"{NOT_A_SELECT} 'CALL'", frozenset()),
    ("values", "VALUES (1)", f"{NOT_A_SELECT} 'VALUES'", frozenset()),
    ("two_selects", "SELECT id FROM a; SELECT id FROM b", ONE_STATEMENT, frozenset()),
    ("select_then_delete", "SELECT id FROM a;\nDELETE FROM a", ONE_STATEMENT, frozenset()),
    ("select_into", "SELECT id INTO backup FROM customers", f"{ONLY_READ} SELECT ... INTO", frozenset()),
    (
        "union_into",
        "SELECT id FROM a UNION ALL SELECT id INTO b FROM c",
        f"{ONLY_READ} SELECT ... INTO",
        frozenset(),
    ),
    (
        "cte_delete",
        "WITH gone AS (DELETE FROM customers RETURNING id) SELECT id FROM gone",
        f"{ONLY_READ} DELETE",
        frozenset(),
    ),
    (
        "cte_update",
        "WITH up AS (UPDATE customers SET tier = 'x' RETURNING id) SELECT id FROM up",
        f"{ONLY_READ} UPDATE",
        frozenset(),
    ),
    (
        "cte_insert",
        "WITH ins AS (INSERT INTO log (id) VALUES (1) RETURNING id) SELECT id FROM ins",
        f"{ONLY_READ} INSERT",
        frozenset(),
    ),
    ("for_update", "SELECT id FROM customers FOR UPDATE", LOCKING, frozenset({"tsql"})),
    ("for_share", "SELECT id FROM customers FOR SHARE", LOCKING, frozenset({"tsql"})),
    (
        "for_update_in_subquery",
        "SELECT id FROM (SELECT id FROM c FOR UPDATE) s",
        LOCKING,
        frozenset({"tsql"}),
    ),
    ("lock_in_share_mode", "SELECT id FROM customers LOCK IN SHARE MODE", LOCKING, frozenset()),
    (
        "updlock_hint",
        "SELECT id FROM c WITH (UPDLOCK, ROWLOCK)",
        f"{ONLY_READ} the locking table hint",
        frozenset(),
    ),
    ("last_item_in_quotes", "SELECT id FROM c WHERE id > '{lastItem}' ORDER BY id", IN_QUOTES, frozenset()),
    ("last_item_in_like_pattern", "SELECT id FROM c WHERE code LIKE 'A{lastItem}%'", IN_QUOTES, frozenset()),
    ("last_item_in_double_quotes", 'SELECT id FROM c WHERE id > "{lastItem}"', IN_QUOTES, frozenset()),
    ("last_item_glued_to_a_name", "SELECT id FROM c WHERE id > x{lastItem}", IN_QUOTES, frozenset()),
    (
        "jinja_block",
        "SELECT id FROM c {% if params.all %}WHERE 1 = 1{% endif %}",
        "Jinja blocks",
        frozenset(),
    ),
    ("no_column", "SELECT", "the query must select at least one column", frozenset()),
    ("empty", "", "the query must be one statement, found 0", frozenset()),
    ("typo", "SELEC id FROM customers", "is not valid", ALL),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("query", "message", "unparseable_in"),
    [row[1:] for row in REJECTED],
    ids=[row[0] for row in REJECTED],
)
def test_anything_but_one_read_only_select_is_rejected(
    query: str, message: str, unparseable_in: frozenset[str | None], dialect: str | None
) -> None:
    problems = check_query(query, dialect)
    expected = "is not valid" if dialect in unparseable_in else message
    assert any(expected in p for p in problems), problems


def test_the_locking_table_hint_is_named_for_sql_server() -> None:
    assert check_query("SELECT id FROM customers WITH (XLOCK)", "tsql") == [
        "the query must only read; found the locking table hint XLOCK"
    ]
    assert check_query("SELECT id FROM customers WITH (NOLOCK)", "tsql") == []


def test_a_syntax_error_names_the_dialect_and_place() -> None:
    (problem,) = check_query("SELECT id FROM customers WHERE", "postgres")
    assert problem.startswith("the query is not valid postgres SQL (line 1, column ")


@pytest.mark.parametrize(
    ("query", "reads_it"),
    [
        ("SELECT id FROM customers SETTINGS max_threads = 1", "clickhouse"),
        ("SELECT TOP 10 id FROM c", "tsql"),
    ],
)
def test_unknown_dialect_accepts_what_one_dialect_reads(query: str, reads_it: str) -> None:
    # Syntax of one DBMS only: the other dialects cannot parse it, but the spec is not refused for that
    # (the query is checked again in the connection's own dialect before it runs).
    assert check_query(query, reads_it) == []
    assert check_query(query, "postgres") != []
    assert check_query(query, None) == []


def test_for_parsing_replaces_jinja_and_last_item_outside_the_sql_text() -> None:
    text = for_parsing("SELECT a FROM {{ params.t }} WHERE id > {lastItem} AND d = '{{ ds }}'")
    assert "{{" not in text
    assert "{lastItem}" not in text
    assert f"id > {PLACEHOLDER}" in text


# (id, query, cursor column, expected) -- the cursor must be the first ORDER BY key, ascending.
ORDER_BY: list[tuple[str, str, str, bool]] = [
    ("by_cursor", "SELECT id FROM t WHERE id > {lastItem} ORDER BY id", "id", True),
    ("case_insensitive", "SELECT id FROM t ORDER BY ID", "id", True),
    ("asc", "SELECT id FROM t ORDER BY id ASC", "id", True),
    ("qualified", "SELECT c.id FROM t AS c ORDER BY c.id", "id", True),
    ("then_other_keys", "SELECT id FROM t ORDER BY id, created_at", "id", True),
    ("cte_outer_order", "WITH s AS (SELECT id FROM t) SELECT id FROM s ORDER BY id", "id", True),
    (
        "with_jinja",
        "SELECT id FROM {{ params.s }}.t WHERE d > '{{ ds }}' AND id > {lastItem} ORDER BY id",
        "id",
        True,
    ),
    ("no_order", "SELECT id FROM t WHERE id > {lastItem}", "id", False),
    ("other_column", "SELECT id FROM t ORDER BY created_at", "id", False),
    ("cursor_not_first", "SELECT id FROM t ORDER BY created_at, id", "id", False),
    ("descending", "SELECT id FROM t ORDER BY id DESC", "id", False),
    ("expression", "SELECT id FROM t ORDER BY id + 0", "id", False),
    ("only_in_subquery", "SELECT id FROM (SELECT id FROM t ORDER BY id) AS s", "id", False),
    ("not_parseable", "SELEC id FROM t ORDER BY id", "id", False),
]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("query", "column", "expected"), [r[1:] for r in ORDER_BY], ids=[r[0] for r in ORDER_BY]
)
def test_has_order_by(query: str, column: str, expected: bool, dialect: str | None) -> None:
    assert has_order_by(query, column, dialect) is expected


@pytest.mark.parametrize("dialect", [d for d in DIALECTS if d != "clickhouse"])
def test_order_by_after_union_orders_the_whole_result(dialect: str | None) -> None:
    assert has_order_by("SELECT id FROM a UNION ALL SELECT id FROM b ORDER BY id", "id", dialect)


def test_order_by_after_union_orders_the_last_select_in_clickhouse() -> None:
    # ClickHouse applies a trailing ORDER BY to the last SELECT of a UNION ALL only.
    assert not has_order_by("SELECT id FROM a UNION ALL SELECT id FROM b ORDER BY id", "id", "clickhouse")
