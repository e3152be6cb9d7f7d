"""Two imports writing the same profile database at the same moment never create two profiles for one
key: writers of one database are serialised by the database itself (PostgreSQL advisory transaction lock,
SQLite's single writer), not by luck. Two real writers, each with its own connection, start together."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from customer_import.mapping.mapper import Record
from customer_import.store.connection import open_store
from customer_import.store.writer import ProfileWriter, ensure_schema
from tests.helpers import make_database, make_spec

ROWS = [
    Record(n, None, f"user{n}@example.com", {"email": f"user{n}@example.com", "crm_id": n})
    for n in range(1, 2001)
]


def test_two_concurrent_writers_of_the_same_keys_create_each_profile_once(store: str) -> None:
    database = make_database()
    with open_store(store) as (dialect, connection):
        ensure_schema(dialect, connection, database)
    start = threading.Barrier(2)
    outcomes: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def writer(name: str) -> None:
        try:
            spec = make_spec(
                name=name, mapping=[{"field": "email", "column": "e"}, {"field": "crm_id", "column": "c"}]
            )
            with open_store(store) as (dialect, connection):
                profile_writer = ProfileWriter(dialect, connection, spec, database, run_id=name)
                start.wait(timeout=30)
                outcomes.append(profile_writer.write(ROWS).counts)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(f"import_{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sorted(outcomes, key=lambda c: sorted(c)) == [{"create": 2000}, {"unchanged": 2000}]
    with open_store(store) as (_, connection):
        cursor = connection.cursor()
        cursor.execute('SELECT count(*), count(DISTINCT email) FROM "shop_profiles"')
        assert tuple(cursor.fetchone()) == (2000, 2000)


def test_without_the_lock_the_same_race_would_duplicate(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Negative control: with the lock disabled and both writers forced to match before either inserts,
    the race creates duplicates. So it is the lock that makes the test above pass."""
    from customer_import.store import batch_sql
    from customer_import.store.dialects import PostgresStore

    database = make_database()
    with open_store(store) as (dialect, connection):
        if dialect.name == "sqlite":
            pytest.skip("SQLite has one writer at a time whatever the transaction mode")
        ensure_schema(dialect, connection, database)
    monkeypatch.setattr(PostgresStore, "begin", lambda self, cursor, lock_name: None)
    both_matched = threading.Barrier(2)
    update = batch_sql.update  # built right after the batch was resolved (matched), before it inserts

    def update_after_both_matched(*args: Any) -> str:
        both_matched.wait(timeout=30)
        return update(*args)

    monkeypatch.setattr(batch_sql, "update", update_after_both_matched)
    # A statement a step: the barrier sits between the match and the writes (one statement has no between).
    monkeypatch.setattr(batch_sql, "folded_write", lambda *args, **kwargs: None)

    def writer(name: str) -> None:
        spec = make_spec(name=name, mapping=[{"field": "email", "column": "e"}])
        with open_store(store) as (dialect, connection):
            ProfileWriter(dialect, connection, spec, database, run_id=name).write(ROWS)

    threads = [threading.Thread(target=writer, args=(f"import_{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    with open_store(store) as (_, connection):
        cursor = connection.cursor()
        cursor.execute('SELECT count(*), count(DISTINCT email) FROM "shop_profiles"')
        assert tuple(cursor.fetchone()) == (4000, 2000)
