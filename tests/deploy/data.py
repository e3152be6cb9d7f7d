"""Source rows and specs for the deployment tests: a source table per test in the deployment's data
database (connection ``crm``); profiles stored in the same database (connection ``profile_store_default``),
told apart by their emails' prefix (one per test)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.deploy.harness import Deployment

Row = tuple[int, str, str, dt.datetime]  # id, email, first_name, updated_at


def prepare(deployment: Deployment, table: str, *, store: bool = True) -> None:
    """The source table and the connections (once per deployment)."""
    with deployment.data() as db:
        db.execute(
            f"CREATE TABLE IF NOT EXISTS {table} (id integer PRIMARY KEY, email text NOT NULL, "
            "first_name text, updated_at timestamptz NOT NULL)"
        )
    known = deployment.api("GET", "/connections", params={"limit": 100})["connections"]
    ids = {c["connection_id"] for c in known}
    if "crm" not in ids:
        deployment.add_connection("crm", deployment.data_uri())
    if store and "profile_store_default" not in ids:
        deployment.add_connection("profile_store_default", deployment.data_uri())


def rows(first_id: int, count: int, updated_at: dt.datetime, tag: str) -> list[Row]:
    return [
        (first_id + n, f"{tag}-{first_id + n}@example.com", f"{tag.title()}{n}", updated_at)
        for n in range(count)
    ]


def insert(deployment: Deployment, table: str, new_rows: list[Row]) -> None:
    with deployment.data() as db, db.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} (id, email, first_name, updated_at) VALUES (%s, %s, %s, %s)", new_rows
        )


def source_emails(deployment: Deployment, table: str) -> list[str]:
    with deployment.data() as db:
        return [str(r[0]) for r in db.execute(f"SELECT email FROM {table} ORDER BY email")]


def stored_emails(deployment: Deployment, prefix: str) -> list[str]:
    """Every stored profile's email starting with ``prefix``, with repeats (a duplicate would show twice)."""
    with deployment.data() as db:
        found = db.execute(
            "SELECT email FROM customers_profiles WHERE email LIKE %s ORDER BY email", (f"{prefix}%",)
        )
        return [str(r[0]) for r in found]


def spec(
    name: str,
    *,
    table: str,
    times: str,
    query: str = "SELECT id, email, first_name FROM {table} WHERE id > {lastItem} ORDER BY id",
    run_immediately: bool = False,
    start_date: str | None = None,
    description: str = "deployment test",
) -> str:
    """An import spec: daily at ``times`` (UTC), reading ``table`` (``query`` may name it as ``{table}``),
    cursor on id, email matching."""
    query = query.replace("{table}", table)
    start = f", start_date: {start_date}" if start_date else ""
    return f"""\
name: {name}
description: {description}
run_immediately: {str(run_immediately).lower()}
target: {{database: customers, matching: {{by: email}}}}
schedule: {{plan: daily, times: ["{times}"], timezone: UTC{start}}}
source:
  conn_id: crm
  table: {table}
  query: >-
    {query}
  cursor: {{column: id, start_value: 0}}
mapping:
  - {{field: email, column: email}}
  - {{field: first_name, column: first_name}}
"""


def run_summary(deployment: Deployment, dag_id: str, run: dict[str, Any]) -> str:
    """One line per run for the test output: id, type, state, interval, what the import read."""
    line = (
        f"{run['dag_run_id']} type={run['run_type']} state={run['state']} "
        f"interval=[{run['data_interval_start']} .. {run['data_interval_end']}]"
    )
    if run["state"] == "success":
        summary = deployment.report(dag_id, run["dag_run_id"])["summary"]
        line += (
            f" read={summary['read']} created={summary['created']} "
            f"cursor {summary['cursor_before']} -> {summary['cursor_after']}"
        )
    return line
