"""Profile-store failures on a real PostgreSQL become a StoreError naming the store connection, what was
being done and the cause, classified by SQLSTATE: the store session ended by an administrator between
two batch writes is transient (and the batch before stays committed, the failed one leaves nothing), a
permission error is fatal."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from customer_import.exceptions import StoreError
from customer_import.mapping.mapper import Record
from customer_import.store.connection import open_store
from customer_import.store.export import iter_profiles
from customer_import.store.writer import ProfileWriter, ensure_schema
from tests.conftest import airflow_conn_env
from tests.helpers import make_database, make_spec

pytestmark = pytest.mark.postgres


def _records(first: int, count: int) -> list[Record]:
    return [
        Record(n, None, f"user{n}@example.com", {"email": f"user{n}@example.com"})
        for n in range(first, first + count)
    ]


def _write(conn_id: str, records: list[Record]) -> None:
    with open_store(conn_id) as (dialect, connection):
        ProfileWriter(dialect, connection, make_spec(), make_database(), run_id="run-1").write(records)


def _profile_count(conn_id: str) -> int:
    with open_store(conn_id) as (dialect, connection):
        return len(list(iter_profiles(dialect, connection, "shop")))


def test_the_store_session_ended_between_two_writes_is_transient_and_names_the_connection(
    pg_conn: Callable[[str], str],
) -> None:
    import psycopg

    uri = pg_conn("profile_store_default")

    def two_writes_with_the_session_ended_between() -> None:
        database = make_database()
        with open_store() as (dialect, connection):
            ensure_schema(dialect, connection, database)
            writer = ProfileWriter(dialect, connection, make_spec(), database, run_id="run-1")
            writer.write(_records(1, 3))
            with psycopg.connect(uri, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (connection.info.backend_pid,))
            writer.write(_records(4, 3))

    with pytest.raises(StoreError) as caught:
        two_writes_with_the_session_ended_between()
    assert caught.value.fatal is False
    message = str(caught.value)
    assert message.startswith(
        "profile store connection 'profile_store_default' (postgres) is unavailable while writing a batch: "
    ), message
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)
    assert _profile_count("profile_store_default") == 3  # the first batch committed, the second nothing


@pytest.fixture
def reader_role(pg_database: str) -> Iterator[str]:
    """A login that may read the store's tables but not write them; dropped after."""
    import psycopg

    role = f"ci_reader_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_database, autocommit=True) as admin:
        admin.execute(f'CREATE ROLE "{role}" LOGIN')
    try:
        yield role
    finally:
        with psycopg.connect(pg_database, autocommit=True) as admin:
            admin.execute(f'DROP OWNED BY "{role}"')
            admin.execute(f'DROP ROLE "{role}"')


def test_a_permission_error_of_the_store_is_fatal(
    pg_database: str, reader_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg

    monkeypatch.setenv(airflow_conn_env("store_owner"), pg_database)
    database = make_database()
    with open_store("store_owner") as (dialect, connection):
        ensure_schema(dialect, connection, database)
    with psycopg.connect(pg_database, autocommit=True) as admin:
        admin.execute(f'GRANT USAGE ON SCHEMA public TO "{reader_role}"')
        admin.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{reader_role}"')
    user_uri = pg_database.replace("postgresql://postgres@", f"postgresql://{reader_role}@")
    monkeypatch.setenv(airflow_conn_env("store_reader"), user_uri)
    with pytest.raises(StoreError) as caught:
        _write("store_reader", _records(1, 2))
    assert caught.value.fatal is True
    message = str(caught.value)
    assert message.startswith(
        "profile store connection 'store_reader' (postgres) fails while writing a batch: "
    )
    assert "InsufficientPrivilege [SQLSTATE 42501]: permission denied for " in message


def test_an_unreachable_store_is_transient(monkeypatch: pytest.MonkeyPatch, pg_database: str) -> None:
    monkeypatch.setenv(airflow_conn_env("far_store"), "postgresql://postgres:s3cret-pw@127.0.0.1:1/profiles")
    with pytest.raises(StoreError) as caught:
        _write("far_store", [])
    assert caught.value.fatal is False
    assert str(caught.value).startswith(
        "profile store connection 'far_store' (postgres) is unavailable while connecting"
    )
    assert "s3cret-pw" not in str(caught.value)


def test_errors_that_are_not_the_stores_pass_unchanged(pg_conn: Callable[[str], str]) -> None:
    pg_conn("store")
    with pytest.raises(KeyError), open_store("store"):
        raise KeyError("a bug is not a store outage")
