"""The PostgreSQL store writes a batch without subscriptions as one statement (batch_sql.folded_write).
Its oracle is the statement-per-step write it replaces: the same batches written both ways, into two
profile databases of one real PostgreSQL store, leave the same profiles, events and outcomes, in every
mode and option that changes what a batch writes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from customer_import.mapping.mapper import Record
from customer_import.store import batch_sql
from customer_import.store.connection import open_store
from customer_import.store.writer import BatchOutcome, ProfileWriter, ensure_schema
from tests.helpers import make_database, make_spec

NOW = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
MAPPING = [
    {"field": "email", "column": "e"},
    {"field": "first_name", "column": "f"},
    {"field": "crm_id", "column": "c"},
    {"field": "ltv", "column": "l"},
]


def record(n: int, email: str, first_name: str | None, ltv: float) -> Record:
    return Record(n, n, email, {"email": email, "first_name": first_name, "crm_id": n, "ltv": ltv})


def fingerprint(n: int, version: int) -> bytes:
    return bytes([n, version]) * 8


FIRST = [record(n, f"c{n}@example.com", f"N{n}", float(n)) for n in range(1, 7)]
SECOND = [
    record(1, "c1@example.com", "N1", 1.0),  # unchanged, same fingerprint
    record(2, "c2@example.com", "N2", 2.0),  # unchanged, a new fingerprint: confirmed
    record(3, "c3@example.com", "Changed", 3.0),  # updated
    record(4, "c4@example.com", None, 40.0),  # an empty value: kept or erased by keep_existing_on_empty
    record(7, "c7@example.com", "N7", 7.0),  # created
    record(8, "dup@example.com", "Dup", 8.0),  # two stored profiles: ambiguous
    record(9, "alias@example.com", "Alias", 9.0),  # a subscription of profile 5 (matching by email)
]
SECOND_PRINTS = {1: fingerprint(1, 1), 2: fingerprint(2, 2), 3: fingerprint(3, 2), 4: fingerprint(4, 2)}
SECOND_PRINTS |= {7: fingerprint(7, 2), 8: fingerprint(8, 2), 9: fingerprint(9, 2)}

SCENARIOS: dict[str, dict[str, Any]] = {
    "upsert, skip_unchanged": {},
    "keep_existing_on_empty": {"prevent_duplication": {"keep_existing_on_empty": True}},
    "without skip_unchanged": {"prevent_duplication": {"skip_unchanged": False}},
    "update_only": {"target": {"mode": "update_only"}},
    "insert_only": {"target": {"mode": "insert_only"}},
    "matching by email (profiles and subscriptions)": {"target": {"matching": {"by": "email"}}},
    "suppress_triggers (no events)": {"target": {"suppress_triggers": True}},
}


def write_both_batches(store: str, name: str, changes: dict[str, Any]) -> list[BatchOutcome]:
    database = make_database(name=name)
    first = make_spec(name=f"{name}_import", mapping=MAPPING)  # an upsert creates the stored profiles
    spec = make_spec(name=f"{name}_import", mapping=MAPPING, **changes)
    with open_store(store) as (dialect, connection):
        ensure_schema(dialect, connection, database)
        writer = ProfileWriter(dialect, connection, first, database, run_id="run_1")
        outcomes = [writer.write(FIRST, NOW, {n: fingerprint(n, 1) for n in range(1, 7)})]
        with connection.cursor() as cursor:
            for _ in range(2):
                cursor.execute(
                    f'INSERT INTO "{name}_profiles" (email, created_at, updated_at) '
                    "VALUES ('dup@example.com', %s, %s)",
                    (NOW, NOW),
                )
            cursor.execute(
                f'INSERT INTO "{name}_subscriptions" (profile_id, resource, channel, contact, status, '
                "status_changed_at, created_at, updated_at) "
                "VALUES (5, 'newsletter', 'email', 'alias@example.com', 'subscribed', %s, %s, %s)",
                (NOW, NOW, NOW),
            )
        connection.commit()
        writer = ProfileWriter(dialect, connection, spec, database, run_id="run_2")
        outcomes.append(writer.write(SECOND, NOW + dt.timedelta(hours=1), SECOND_PRINTS))
    return outcomes


def stored(store: str, name: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with open_store(store) as (_, connection), connection.cursor() as cursor:
        cursor.execute(
            "SELECT profile_id, email, first_name, crm_id, ltv, source_fingerprint, created_at, updated_at "
            f'FROM "{name}_profiles" ORDER BY profile_id'
        )
        profiles = cursor.fetchall()
        cursor.execute(
            f'SELECT profile_id, event_type, run_id, occurred_at FROM "{name}_events" ORDER BY event_id'
        )
        return profiles, cursor.fetchall()


@pytest.mark.parametrize("changes", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_one_statement_writes_what_the_statements_wrote(
    pg_conn: Any, monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    pg_conn("store")
    folded = write_both_batches("store", "folded", changes)
    with monkeypatch.context() as patch:
        patch.setattr(batch_sql, "folded_write", lambda *args, **kwargs: None)
        steps = write_both_batches("store", "steps", changes)
    for one, other in zip(folded, steps, strict=True):
        assert one.counts == other.counts
        assert one.ambiguous == other.ambiguous
        assert sorted(one.replaced_fingerprints) == sorted(other.replaced_fingerprints)
    assert stored("store", "folded") == stored("store", "steps")
    # The scenarios do write: the oracle is not two empty stores.
    assert folded[0].counts == {"create": 6}
    assert sum(folded[1].counts.values()) == len(SECOND)


def test_the_folded_write_is_the_one_used_and_reports_what_it_did(pg_conn: Any) -> None:
    pg_conn("store")
    used: list[str] = []
    real = batch_sql.folded_write

    def spy(*args: Any, **kwargs: Any) -> str | None:
        statement = real(*args, **kwargs)
        used.append(statement or "")
        return statement

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(batch_sql, "folded_write", spy)
        _, second = write_both_batches("store", "shop", {})
    assert used and all(s.startswith("WITH r AS MATERIALIZED") for s in used)
    assert second.counts == {"unchanged": 2, "update": 2, "create": 2, "ambiguous": 1}
    assert second.ambiguous == [(8, 2)]
    # Rows 2, 3 and 4 replaced their profiles' fingerprints (row 9 created a profile: "alias" is only a
    # subscription contact when matching by email).
    assert sorted(second.replaced_fingerprints) == sorted(fingerprint(n, 1) for n in (2, 3, 4))
    profiles, events = stored("store", "shop")
    by_email = {p[1]: p for p in profiles}
    assert by_email["c4@example.com"][2] is None  # not kept: keep_existing_on_empty is off
    assert by_email["c2@example.com"][5] == fingerprint(2, 2)  # confirmed
    assert by_email["c2@example.com"][7] == NOW  # ... without being updated
    assert [e[1] for e in events if e[2] == "run_2"] == ["updated", "updated", "created", "created"]
