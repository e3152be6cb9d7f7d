"""Retries that mean something, through the real operator (``dag.test()``) on the real servers: with
``retries: 1`` and no retry delay, an error Airflow should retry is retried (the task runs twice, and
the retry completes the import), and an error retrying cannot fix fails at once with
``AirflowFailException`` (the task runs once), each with a message that names the connection and the cause.

(tests/integration/test_source_defences.py classifies the same errors one level down, on extract_part.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import suppress
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from customer_import.operators.import_profiles import SourceUnavailableError
from tests.conftest import MYSQL_HOST, airflow_conn_env
from tests.e2e.conftest import variable
from tests.e2e.outcome import Outcome, gated_source, in_background, run

pytestmark = pytest.mark.e2e

ROWS = 500
GATE_ROW = 201  # the source stops before this row until the test lets it go on
LOCK_KEY = 4242


def spec(conn_id: str, query: str, *, cursor: bool = True) -> dict[str, Any]:
    source: dict[str, Any] = {"conn_id": conn_id, "table": "customers", "query": query}
    if cursor:
        source["cursor"] = {"column": "id", "start_value": 0}
    return {
        "name": "retry_classes",
        "target": {"database": "customers", "matching": {"by": "email_profile"}},
        "source": source,
        "mapping": [{"field": "crm_id", "column": "id"}, {"field": "email", "column": "email"}],
    }


@pytest.fixture
def retried_once(project: Any, monkeypatch: pytest.MonkeyPatch, sqlite_conn: Callable[[str], Any]) -> Any:
    """One retry, at once; the store is a fresh SQLite file unless a test defines another."""
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__RETRIES", "1")
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__RETRY_DELAY_SECONDS", "0")
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__BATCH_SIZE", "100")
    sqlite_conn("profile_store_default")
    return project


def assert_failed_at_once(outcome: Outcome, *expected: str) -> str:
    assert outcome.state == "failed" and outcome.task_state == "failed", outcome.raised
    assert outcome.tries == 1, "a fatal error must not be retried"
    assert [(r.task_id, r.then) for r in outcome.raised] == [("import_profiles", "failure")], outcome.raised
    assert isinstance(outcome.raised[0].error, AirflowFailException), outcome.raised
    message = outcome.raised[0].message
    for text in expected:
        assert text in message, message
    return message


def _until(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        time.sleep(0.05)


# --- PostgreSQL ------------------------------------------------------------------------------------------

PG_SOURCE = gated_source(ROWS, GATE_ROW, LOCK_KEY)
PG_GATED = "SELECT gate(id) AS id, email FROM customers WHERE id > {lastItem} ORDER BY customers.id"


@pytest.fixture
def pg_source(pg_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    with psycopg.connect(pg_database, autocommit=True) as db:
        db.execute(PG_SOURCE)
    monkeypatch.setenv(airflow_conn_env("pg_src"), pg_database)
    return pg_database


@pytest.mark.postgres
def test_postgres_source_session_terminated_mid_run_is_retried_and_the_retry_completes(
    retried_once: Any, pg_source: str
) -> None:
    retried_once(spec("pg_src", PG_GATED))
    gate = psycopg.connect(pg_source, autocommit=True)
    gate.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))

    def terminate_the_waiting_source_session() -> None:
        with psycopg.connect(pg_source, autocommit=True) as admin:
            waiting = (
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
            )
            _until(lambda: bool(admin.execute(waiting).fetchall()), "the source to reach the gate")
            for (pid,) in admin.execute(waiting).fetchall():
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        gate.close()  # the retry passes the gate

    try:
        with in_background(terminate_the_waiting_source_session) as errors:
            outcome = run("retry_classes")
    finally:
        gate.close()
    assert not errors, errors
    assert outcome.state == "success" and outcome.tries == 2, outcome.raised
    assert [(r.task_id, r.then) for r in outcome.raised] == [("import_profiles", "retry")], outcome.raised
    first_try = outcome.raised[0]
    assert isinstance(first_try.error, SourceUnavailableError), outcome.raised
    assert first_try.message.startswith(
        "source connection 'pg_src' (postgres) is unavailable (Airflow retries the task)"
    )
    assert (
        "AdminShutdown [SQLSTATE 57P01]: terminating connection due to administrator command"
        in first_try.message
    )
    assert outcome.report is not None
    assert variable("customer_import.retry_classes.last_item") == str(ROWS)


@pytest.mark.postgres
def test_postgres_missing_table_fails_at_once(retried_once: Any, pg_source: str) -> None:
    retried_once(spec("pg_src", "SELECT id, email FROM no_such_table WHERE id > {lastItem}"))
    assert_failed_at_once(
        run("retry_classes"),
        "source connection 'pg_src' (postgres) fails while running the query",
        'UndefinedTable [SQLSTATE 42P01]: relation "no_such_table" does not exist',
    )


@pytest.fixture
def role_without_select(pg_source: str) -> Iterator[str]:
    role = f"ci_nosel_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_source, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield pg_source.replace("postgresql://postgres@", f"postgresql://{role}@")
    finally:
        with psycopg.connect(pg_source, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


@pytest.mark.postgres
def test_postgres_permission_denied_fails_at_once(
    retried_once: Any,
    role_without_select: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(airflow_conn_env("pg_src"), role_without_select)
    retried_once(spec("pg_src", "SELECT id, email FROM customers WHERE id > {lastItem} ORDER BY id"))
    assert_failed_at_once(
        run("retry_classes"),
        "source connection 'pg_src' (postgres) fails while running the query",
        "InsufficientPrivilege [SQLSTATE 42501]: permission denied for table customers",
    )


@pytest.mark.postgres
def test_postgres_store_without_write_permission_fails_at_once(
    retried_once: Any,
    pg_source: str,
    role_without_select: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The store's own fatal errors fail at once too (they were retried: the operator let StoreError pass)."""
    monkeypatch.setenv(airflow_conn_env("profile_store_default"), role_without_select)
    with psycopg.connect(pg_source, autocommit=True) as admin:
        admin.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    retried_once(spec("pg_src", "SELECT id, email FROM customers WHERE id > {lastItem} ORDER BY id"))
    outcome = run("retry_classes")
    assert outcome.state == "failed"
    raised = outcome.raised
    assert [(r.task_id, r.then) for r in raised] == [("prepare_store", "failure")], raised  # not retried
    assert isinstance(raised[0].error, AirflowFailException), raised
    assert raised[0].message.startswith(
        "profile store connection 'profile_store_default' (postgres) fails while "
    ), raised
    assert "SQLSTATE 42501" in raised[0].message


# --- MariaDB ---------------------------------------------------------------------------------------------


@pytest.fixture
def mysql_source(mysql_database: str, monkeypatch: pytest.MonkeyPatch) -> str:
    import MySQLdb

    db = MySQLdb.connect(host=MYSQL_HOST, user="root", passwd="", db=mysql_database.rsplit("/", 1)[1])
    try:
        cursor = db.cursor()
        cursor.execute("CREATE TABLE customers (id BIGINT PRIMARY KEY, email VARCHAR(100))")
        cursor.execute(
            f"INSERT INTO customers SELECT seq, CONCAT('user', seq, '@example.com') FROM seq_1_to_{ROWS}"
        )
        db.commit()
    finally:
        db.close()
    monkeypatch.setenv(airflow_conn_env("my_src"), mysql_database)
    return mysql_database


@pytest.mark.mysql
def test_mysql_missing_table_fails_at_once(retried_once: Any, mysql_source: str) -> None:
    retried_once(spec("my_src", "SELECT id, email FROM no_such_table WHERE id > {lastItem}"))
    assert_failed_at_once(
        run("retry_classes"),
        "source connection 'my_src' (mysql) fails while running the query",
        "1146",
        "no_such_table' doesn't exist",
    )


@pytest.mark.mysql
def test_mysql_killed_connection_is_retried_and_the_retry_completes(
    retried_once: Any, mysql_source: str
) -> None:
    import MySQLdb

    name = f"ci_gate_{uuid.uuid4().hex[:8]}"
    database = mysql_source.rsplit("/", 1)[1]
    setup = MySQLdb.connect(host=MYSQL_HOST, user="root", passwd="", db=database)
    try:
        setup.cursor().execute(
            "CREATE FUNCTION gate(i BIGINT) RETURNS BIGINT NOT DETERMINISTIC BEGIN "
            f"IF i = {GATE_ROW} THEN DO GET_LOCK('{name}', 60); DO RELEASE_LOCK('{name}'); END IF; "
            "RETURN i; END"
        )
    finally:
        setup.close()
    retried_once(
        spec(
            "my_src",
            "SELECT gate(id) AS id, email FROM customers WHERE id > {lastItem} ORDER BY customers.id",
        )
    )
    gate = MySQLdb.connect(host=MYSQL_HOST, user="root", passwd="")
    gate.cursor().execute("SELECT GET_LOCK(%s, 5)", (name,))

    def kill_the_waiting_source_connection() -> None:
        admin = MySQLdb.connect(host=MYSQL_HOST, user="root", passwd="")
        try:
            cursor = admin.cursor()
            waiting = (
                "SELECT ID FROM information_schema.PROCESSLIST "
                "WHERE DB = %s AND STATE = 'User lock' AND ID <> CONNECTION_ID()"
            )

            def found() -> list[Any]:
                cursor.execute(waiting, (database,))
                return list(cursor.fetchall())

            _until(lambda: bool(found()), "the source to reach the gate")
            for (thread,) in found():
                cursor.execute(f"KILL {int(thread)}")
        finally:
            admin.close()
            gate.close()  # the retry passes the gate

    try:
        with in_background(kill_the_waiting_source_connection) as errors:
            outcome = run("retry_classes")
    finally:
        with suppress(MySQLdb.Error):  # closed already by the thread
            gate.close()
    assert not errors, errors
    assert outcome.state == "success" and outcome.tries == 2, outcome.raised
    assert [(r.task_id, r.then) for r in outcome.raised] == [("import_profiles", "retry")], outcome.raised
    first_try = outcome.raised[0]
    assert isinstance(first_try.error, SourceUnavailableError), outcome.raised
    assert first_try.message.startswith(
        "source connection 'my_src' (mysql) is unavailable (Airflow retries the task)"
    )
    assert variable("customer_import.retry_classes.last_item") == str(ROWS)


# --- ClickHouse ------------------------------------------------------------------------------------------


@pytest.mark.clickhouse
def test_clickhouse_unknown_table_fails_at_once(
    retried_once: Any,
    clickhouse_database: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(airflow_conn_env("ch_src"), clickhouse_database)
    retried_once(spec("ch_src", "SELECT id, email FROM no_such_table WHERE id > {lastItem}"))
    assert_failed_at_once(
        run("retry_classes"),
        "source connection 'ch_src' (clickhouse) fails while running the query",
        "Code: 60",
        "no_such_table",
    )
