"""The profile store on real SQLite and PostgreSQL: schema evolution, modes, matching, prevent-duplication,
events. Each test gets its own SQLite file or throwaway PostgreSQL database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from customer_import.exceptions import StoreSchemaError
from customer_import.mapping.mapper import Record
from customer_import.store.connection import open_store
from customer_import.store.export import iter_profiles
from customer_import.store.tables import Tables
from customer_import.store.writer import ProfileWriter, ensure_schema
from tests.helpers import make_database, make_spec

T0 = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.UTC)
T1 = dt.datetime(2026, 11, 2, 12, 0, tzinfo=dt.UTC)


def write(
    conn_id: str, spec: Any, rows: list[Record], now: dt.datetime = T0, database: Any = None
) -> dict[str, int]:
    database = database or make_database()
    with open_store(conn_id) as (dialect, connection):
        ensure_schema(dialect, connection, database)
        outcome = ProfileWriter(dialect, connection, spec, database, run_id="run-1").write(rows, now=now)
    return {**outcome.counts, "ambiguous_rows": len(outcome.ambiguous)}


def profiles(conn_id: str, database: str = "shop") -> list[dict[str, Any]]:
    with open_store(conn_id) as (dialect, connection):
        return list(iter_profiles(dialect, connection, database))


def query(conn_id: str, sql: str) -> list[tuple[Any, ...]]:
    with open_store(conn_id) as (_, connection):
        cursor = connection.cursor()
        cursor.execute(sql)
        rows = cursor.fetchall()
        connection.rollback()
        return [tuple(r) for r in rows]


def row(n: int, email: str, **values: Any) -> Record:
    return Record(n, None, email, {"email": email, **values})


def test_upsert_creates_then_updates_in_place(store: str) -> None:
    spec = make_spec()
    first = write(
        store,
        spec,
        [row(1, "a@x.com", first_name="Ann", crm_id=1), row(2, "b@x.com", first_name="Bo", crm_id=2)],
    )
    assert first == {"create": 2, "ambiguous_rows": 0}
    ids = {p["fields"]["email"]: p["profile_id"] for p in profiles(store)}

    second = write(
        store,
        spec,
        [row(1, "a@x.com", first_name="Anna", crm_id=1), row(2, "c@x.com", first_name="Cy", crm_id=3)],
        now=T1,
    )
    assert second == {"update": 1, "create": 1, "ambiguous_rows": 0}
    stored = {p["fields"]["email"]: p for p in profiles(store)}
    assert stored["a@x.com"]["profile_id"] == ids["a@x.com"]  # updated in place, id stable
    assert stored["a@x.com"]["fields"]["first_name"] == "Anna"
    assert stored["b@x.com"]["fields"]["first_name"] == "Bo"
    assert len(stored) == 3


def test_insert_only_leaves_existing_untouched(store: str) -> None:
    write(store, make_spec(), [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    counts = write(
        store,
        make_spec(target={"mode": "insert_only"}),
        [row(1, "a@x.com", first_name="CHANGED", crm_id=1), row(2, "new@x.com", first_name="New", crm_id=2)],
        now=T1,
    )
    assert counts == {"skip": 1, "create": 1, "ambiguous_rows": 0}
    stored = {p["fields"]["email"]: p["fields"]["first_name"] for p in profiles(store)}
    assert stored == {"a@x.com": "Ann", "new@x.com": "New"}


def test_update_only_never_creates(store: str) -> None:
    write(store, make_spec(), [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    counts = write(
        store,
        make_spec(target={"mode": "update_only"}),
        [row(1, "a@x.com", first_name="Anna", crm_id=1), row(2, "ghost@x.com", first_name="G", crm_id=2)],
        now=T1,
    )
    assert counts == {"update": 1, "skip": 1, "ambiguous_rows": 0}
    assert [p["fields"]["email"] for p in profiles(store)] == ["a@x.com"]


def test_skip_unchanged_writes_nothing_for_identical_rows(store: str) -> None:
    spec = make_spec()
    rows = [row(1, "a@x.com", first_name="Ann", crm_id=1)]
    write(store, spec, rows)
    before = profiles(store)
    counts = write(store, spec, rows, now=T1)
    assert counts == {"unchanged": 1, "ambiguous_rows": 0}
    assert profiles(store) == before  # updated_at did not move
    events = query(store, 'SELECT event_type FROM "shop_events" ORDER BY event_id')
    assert events == [("created",)]  # no event for the unchanged profile


def test_without_skip_unchanged_identical_rows_are_rewritten(store: str) -> None:
    spec = make_spec(prevent_duplication={"skip_unchanged": False})
    rows = [row(1, "a@x.com", first_name="Ann", crm_id=1)]
    write(store, spec, rows)
    counts = write(store, spec, rows, now=T1)
    assert counts == {"unchanged": 1, "ambiguous_rows": 0}
    (profile,) = profiles(store)
    assert profile["updated_at"] != profile["created_at"]  # written again, but not an event
    assert query(store, 'SELECT count(*) FROM "shop_events"') == [(1,)]


@pytest.mark.parametrize(("keep", "expected"), [(True, "Ann"), (False, None)])
def test_keep_existing_on_empty(store: str, keep: bool, expected: str | None) -> None:
    spec = make_spec(prevent_duplication={"keep_existing_on_empty": keep})
    write(store, spec, [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    counts = write(store, spec, [row(1, "a@x.com", first_name=None, crm_id=1)], now=T1)
    assert counts == ({"unchanged": 1, "ambiguous_rows": 0} if keep else {"update": 1, "ambiguous_rows": 0})
    assert profiles(store)[0]["fields"]["first_name"] == expected


def test_ambiguous_match_is_rejected_and_writes_nothing(store: str) -> None:
    spec = make_spec(mapping=[{"field": "email", "column": "email"}, {"field": "first_name", "column": "fn"}])
    write(store, spec, [row(1, "a@x.com", first_name="One")])
    # A second profile with the same email (e.g. created by another system) makes the key ambiguous.
    write(
        store,
        make_spec(target={"matching": {"by": "custom", "field": "crm_id"}}),
        [Record(1, None, 9, {"email": "a@x.com", "crm_id": 9})],
    )
    counts = write(store, spec, [row(1, "a@x.com", first_name="Changed")], now=T1)
    assert counts == {"ambiguous": 1, "ambiguous_rows": 1}
    assert sorted(str(p["fields"]["first_name"]) for p in profiles(store)) == ["None", "One"]


def test_custom_matching_on_unique_field(store: str) -> None:
    spec = make_spec(target={"matching": {"by": "custom", "field": "crm_id"}})
    write(store, spec, [Record(1, None, 7, {"email": "a@x.com", "first_name": "Ann", "crm_id": 7})])
    counts = write(
        store, spec, [Record(1, None, 7, {"email": "new@x.com", "first_name": "Ann", "crm_id": 7})], now=T1
    )
    assert counts == {"update": 1, "ambiguous_rows": 0}
    assert [p["fields"]["email"] for p in profiles(store)] == ["new@x.com"]


def test_profile_id_matching_updates_only_existing_ids(store: str) -> None:
    write(store, make_spec(), [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    (profile,) = profiles(store)
    spec = make_spec(
        target={"mode": "update_only", "matching": {"by": "profile_id"}},
        mapping=[{"field": "profile_id", "column": "id"}, {"field": "first_name", "column": "fn"}],
    )
    counts = write(
        store,
        spec,
        [
            Record(1, None, profile["profile_id"], {"first_name": "Anna"}),
            Record(2, None, 999999, {"first_name": "X"}),
        ],
        now=T1,
    )
    assert counts == {"update": 1, "skip": 1, "ambiguous_rows": 0}
    assert profiles(store)[0]["fields"]["first_name"] == "Anna"


def test_every_field_type_round_trips(store: str) -> None:
    spec = make_spec(
        mapping=[
            {"field": "email", "column": "email"},
            {"field": "birth_date", "column": "b"},
            {"field": "tier", "column": "t"},
            {"field": "interests", "column": "i"},
            {"field": "ltv", "column": "l"},
            {"field": "vip", "column": "v"},
            {"field": "seen_at", "column": "s"},
            {"field": "extra", "column": "e"},
            {"field": "crm_id", "column": "c"},
        ]
    )
    values = {
        "email": "a@x.com",
        "birth_date": dt.date(1990, 2, 28),
        "tier": "gold",
        "interests": ["books", "tech"],
        "ltv": 1234.5,
        "vip": True,
        "seen_at": dt.datetime(2026, 3, 29, 1, 30, tzinfo=dt.UTC),
        "extra": {"a": [1, 2], "b": None},
        "crm_id": 2**62,
    }
    write(store, spec, [Record(1, None, "a@x.com", values)])
    fields = profiles(store)[0]["fields"]
    assert fields["birth_date"] == "1990-02-28"
    assert fields["interests"] == ["books", "tech"]
    assert fields["extra"] == {"a": [1, 2], "b": None}
    assert fields["vip"] is True and fields["ltv"] == 1234.5 and fields["crm_id"] == 2**62
    assert dt.datetime.fromisoformat(fields["seen_at"]) == values["seen_at"]
    # identical values compare equal in the store's own types: a second write is "unchanged"
    assert write(store, spec, [Record(1, None, "a@x.com", values)], now=T1) == {
        "unchanged": 1,
        "ambiguous_rows": 0,
    }


def test_events_record_created_and_updated_with_import_and_run(store: str) -> None:
    spec = make_spec()
    write(store, spec, [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    write(store, spec, [row(1, "a@x.com", first_name="Anna", crm_id=1)], now=T1)
    events = query(store, 'SELECT event_type, import_name, run_id FROM "shop_events" ORDER BY event_id')
    assert events == [("created", "shop_import", "run-1"), ("updated", "shop_import", "run-1")]


def test_a_subscription_whose_profile_is_gone_matches_but_writes_nothing(store: str) -> None:
    spec = make_spec(target={"matching": {"by": "email"}})  # profile emails and email subscriptions
    write(store, spec, [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    with open_store(store) as (_, connection):
        cursor = connection.cursor()
        cursor.execute(
            'INSERT INTO "shop_subscriptions" (profile_id, resource, channel, contact, status, '
            "status_changed_at, created_at, updated_at) VALUES (999, 'newsletter', 'email', 'gone@x.com', "
            "'subscribed', '2026-11-01T12:00:00+00:00', '2026-11-01T12:00:00+00:00', '2026-11-01T12:00:00+00:00')"
        )
        connection.commit()
    # No foreign key holds subscriptions to profiles: the key matches profile 999, which does not exist.
    assert write(store, spec, [row(2, "gone@x.com", first_name="Gus", crm_id=2)], now=T1) == {
        "unchanged": 1,
        "ambiguous_rows": 0,
    }
    assert [p["fields"]["email"] for p in profiles(store)] == ["a@x.com"]
    assert query(store, 'SELECT event_type FROM "shop_events" ORDER BY event_id') == [("created",)]


def test_suppress_triggers_records_no_events(store: str) -> None:
    spec = make_spec(target={"suppress_triggers": True})
    write(store, spec, [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    assert query(store, 'SELECT count(*) FROM "shop_events"') == [(0,)]


def test_schema_evolves_without_losing_data(store: str) -> None:
    write(store, make_spec(), [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    grown = make_database(fields={"nickname": {"type": "string"}})
    with open_store(store) as (dialect, connection):
        changes = [c.description for c in ensure_schema(dialect, connection, grown)]
    assert changes == ["added column nickname (string)"]
    # a field removed from the definition keeps its column and data
    shrunk = make_database()
    shrunk_fields = dict(shrunk.fields)
    shrunk_fields.pop("ltv")
    with open_store(store) as (dialect, connection):
        assert ensure_schema(dialect, connection, shrunk.model_copy(update={"fields": shrunk_fields})) == []
    (profile,) = profiles(store)
    assert (
        profile["fields"]["first_name"] == "Ann"
        and "ltv" in profile["fields"]
        and "nickname" in profile["fields"]
    )


def test_changing_a_field_type_is_refused(store: str) -> None:
    write(store, make_spec(), [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    changed = make_database(fields={"ltv": {"type": "string"}})
    with (
        open_store(store) as (dialect, connection),
        pytest.raises(StoreSchemaError, match="'ltv' is stored as float"),
    ):
        ensure_schema(dialect, connection, changed)
    assert profiles(store)[0]["fields"]["first_name"] == "Ann"


def test_unique_custom_field_is_enforced_by_the_database(store: str) -> None:
    write(store, make_spec(), [row(1, "a@x.com", first_name="Ann", crm_id=1)])
    table = Tables("shop").profiles
    with open_store(store) as (dialect, connection):
        cursor = connection.cursor()
        stamp = dialect.timestamp(T0)
        with pytest.raises(Exception, match=r"(?i)unique"):
            cursor.execute(
                f'INSERT INTO "{table}" (crm_id, created_at, updated_at) '
                f"VALUES (1, {dialect.param}, {dialect.param})",
                (stamp, stamp),
            )


def test_profiles_export_command_prints_one_json_object_per_profile(store: str) -> None:
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    write(
        store,
        make_spec(),
        [row(1, "a@x.com", first_name="Ann", crm_id=1), row(2, "b@x.com", first_name="Bo", crm_id=2)],
    )
    command = Path(sys.executable).parent / "customer-import"
    done = subprocess.run(
        [str(command), "profiles", "export", "--database", "shop", "--conn-id", store],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    )
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [p["email"] for p in lines] == ["a@x.com", "b@x.com"]
    assert lines[0]["fields"]["first_name"] == "Ann"
    assert lines[0]["crm_id"] == 1
    assert lines[0]["subscriptions"] == []
    assert {"profile_id", "created_at", "updated_at"} <= set(lines[0])


def test_tags_repeated_across_rows_and_batches_round_trip(store: str) -> None:
    """The PostgreSQL store turns each distinct tag list into JSON once a run (dialects._jsonb_tags): rows
    sharing a list, and lists differing only in order or in non-ASCII letters, keep their own tags."""
    spec = make_spec(mapping=[{"field": "email", "column": "email"}, {"field": "interests", "column": "i"}])
    tags = [["books", "tech"], ["tech", "books"], ["müsli", '"quoted"'], ["books", "tech"], None]
    rows = [row(n, f"p{n}@x.com", interests=t) for n, t in enumerate(tags, start=1)]
    database = make_database()
    with open_store(store) as (dialect, connection):
        ensure_schema(dialect, connection, database)
        writer = ProfileWriter(dialect, connection, spec, database, run_id="run-1")
        writer.write(rows[:3], now=T0)
        writer.write(rows[3:], now=T0)
    stored = {p["fields"]["email"]: p["fields"].get("interests") for p in profiles(store)}
    assert stored == {f"p{n}@x.com": t for n, t in enumerate(tags, start=1)}
