"""Every matching mode and subscriptions, through the real import on SQLite and PostgreSQL stores:
email / phone found in the profile or in subscriptions, push by (provider, token), ambiguous and empty
keys, status changes with their time, and double opt-in never demoted."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from customer_import.cursor import MemoryCursor
from customer_import.importer import run_import
from customer_import.sources.dialects import source_dialect_for
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.store.connection import open_store
from customer_import.store.export import iter_profiles

DATABASE = ProfileDatabase.model_validate(
    {
        "name": "crm",
        "fields": {"crm_id": {"type": "int", "unique": True}, "tier": {"type": "enum", "values": ["a", "b"]}},
        "resources": {
            "newsletter": {"channels": ["email", "push"]},
            "sms_promo": {"channels": ["sms", "whatsapp"]},
            "app": {"channels": ["push"]},
        },
    }
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(
    request: pytest.FixtureRequest, sqlite_conn: Callable[[str], Path]
) -> Callable[..., tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Returns run(spec_dict, rows, columns) -> (report, exported profiles), against a fresh store."""
    request.getfixturevalue("sqlite_conn" if request.param == "sqlite" else "pg_conn")("store")
    source = sqlite_conn("src")

    def run(
        spec: dict[str, Any], columns: list[str], rows: list[tuple[Any, ...]]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        with sqlite3.connect(source) as db:
            db.execute("DROP TABLE IF EXISTS t")
            db.execute(f"CREATE TABLE t (n INTEGER PRIMARY KEY, {', '.join(c + ' TEXT' for c in columns)})")
            marks = ", ".join("?" * (len(columns) + 1))
            db.executemany(f"INSERT INTO t VALUES ({marks})", [(i, *r) for i, r in enumerate(rows, 1)])
        full = ImportSpec.model_validate(
            {
                "name": "m",
                "source": {"conn_id": "src", "query": f"SELECT {', '.join(columns)} FROM t ORDER BY n"},
                **spec,
            }
        )
        report = run_import(
            full,
            DATABASE,
            query=full.source.query,
            source=source_dialect_for("sqlite"),
            cursor_state=MemoryCursor(None),
            run_id="r",
            batch_size=100,
            store_conn_id="store",
        ).to_dict()
        with open_store("store") as (dialect, connection):
            return report, list(iter_profiles(dialect, connection, "crm"))

    return run


def target(by: str, mode: str = "upsert", **matching: str) -> dict[str, Any]:
    return {"database": "crm", "mode": mode, "matching": {"by": by, **matching}}


def counts(report: dict[str, Any]) -> dict[str, int]:
    return {
        k: v
        for k, v in report["summary"].items()
        if k in ("created", "updated", "unchanged", "skipped", "failed") and v
    }


NEWSLETTER = {"resource": "newsletter", "channel": "email", "column": "email", "status": "subscribed"}


def test_email_matches_a_profile_email_or_an_email_subscription(env: Any) -> None:
    # a: profile email only; b: subscription contact only (profile email differs)
    env(
        {
            "target": target("email_profile"),
            "mapping": [{"field": "email", "column": "email"}, {"field": "crm_id", "column": "id"}],
        },
        ["email", "id"],
        [("a@x.com", "1")],
    )
    env(
        {
            "target": target("custom", field="crm_id"),
            "mapping": [{"field": "crm_id", "column": "id"}, {"field": "email", "column": "profile_email"}],
            "subscriptions": [NEWSLETTER],
        },
        ["id", "profile_email", "email"],
        [("2", "other@x.com", "b@x.com")],
    )
    report, profiles = env(
        {
            "target": target("email", "update_only"),
            "mapping": [{"field": "email", "column": "email"}, {"field": "tier", "column": "tier"}],
        },
        ["email", "tier"],
        [("A@X.com", "a"), ("b@x.com", "b"), ("nobody@x.com", "a")],
    )
    assert counts(report) == {"updated": 2, "skipped": 1}  # update_only: nobody@x.com is not created
    by_id = {p["crm_id"]: p for p in profiles}
    assert by_id[1]["tier"] == "a"  # found by its profile email, case-folded
    assert by_id[2]["tier"] == "b"  # found by its email subscription
    assert len(profiles) == 2


def test_a_key_found_in_two_profiles_is_ambiguous_and_writes_nothing(env: Any) -> None:
    env(
        {
            "target": target("email_profile"),
            "mapping": [{"field": "email", "column": "email"}, {"field": "crm_id", "column": "id"}],
        },
        ["email", "id"],
        [("a@x.com", "1")],
    )
    env(
        {
            "target": target("custom", field="crm_id"),
            "mapping": [{"field": "crm_id", "column": "id"}],
            "subscriptions": [NEWSLETTER],
        },
        ["id", "email"],
        [("2", "a@x.com")],  # profile 2 is subscribed with profile 1's email
    )
    report, profiles = env(
        {
            "target": target("email"),
            "mapping": [{"field": "email", "column": "email"}, {"field": "tier", "column": "tier"}],
        },
        ["email", "tier"],
        [("a@x.com", "b"), ("", "b")],
    )
    assert report["error_counts"] == {"ambiguous_match": 1, "empty_match_key": 1}
    assert counts(report) == {"failed": 2}
    assert len(profiles) == 2
    assert all(p["tier"] is None for p in profiles)


def test_email_subscription_upsert_creates_then_finds_the_profile_by_its_subscription(env: Any) -> None:
    spec = {
        "target": target("email_subscription"),
        "mapping": [{"field": "tier", "column": "tier"}],
        "subscriptions": [NEWSLETTER],
    }
    report, profiles = env(spec, ["email", "tier"], [(" Ann@X.com ", "a")])
    assert counts(report) == {"created": 1}
    assert profiles[0]["email"] is None  # not a profile field here: only the subscription holds it
    assert [
        (s["resource"], s["channel"], s["contact"], s["status"]) for s in profiles[0]["subscriptions"]
    ] == [("newsletter", "email", "ann@x.com", "subscribed")]
    report, profiles = env(spec, ["email", "tier"], [("ann@x.com", "b")])
    assert counts(report) == {"updated": 1}
    assert len(profiles) == 1
    assert profiles[0]["tier"] == "b"


@pytest.mark.parametrize("by", ["phone", "phone_profile"])
def test_phone_matching_compares_e164(env: Any, by: str) -> None:
    mapping = [
        {"field": "phone", "column": "phone", "phone": {"default_region": "DE"}},
        {"field": "tier", "column": "tier"},
    ]
    env({"target": target(by), "mapping": mapping}, ["phone", "tier"], [("030 1234567", "a")])
    report, profiles = env(
        {"target": target(by), "mapping": mapping}, ["phone", "tier"], [("+49 30 1234567", "b")]
    )
    assert counts(report) == {"updated": 1}
    assert [(p["phone"], p["tier"]) for p in profiles] == [("+49301234567", "b")]


def test_phone_subscription_matches_sms_and_whatsapp_contacts(env: Any) -> None:
    sms = {"resource": "sms_promo", "channel": "sms", "column": "msisdn", "status": "unconfirmed"}
    spec = {
        "target": target("phone_subscription"),
        "mapping": [{"field": "tier", "column": "tier"}],
        "subscriptions": [sms],
    }
    env(spec, ["msisdn", "tier"], [("+43 1 5123456", "a")])
    report, profiles = env(spec, ["msisdn", "tier"], [("0043 1 5123456", "b")])
    assert counts(report) == {"updated": 1}
    assert len(profiles) == 1
    assert profiles[0]["subscriptions"][0]["contact"] == "+4315123456"


def test_push_subscription_matches_provider_and_token(env: Any) -> None:
    push = {
        "resource": "app",
        "channel": "push",
        "column": "token",
        "provider_column": "provider",
        "status": "subscribed",
    }
    spec = {
        "target": target("push_subscription", provider_column="provider", token_column="token"),
        "mapping": [{"field": "tier", "column": "tier"}],
        "subscriptions": [push],
    }
    report, _ = env(spec, ["provider", "token", "tier"], [("fcm", "tok-1", "a"), ("apns", "tok-1", "a")])
    assert counts(report) == {"created": 2}  # the same token at two providers: two devices
    report, profiles = env(spec, ["provider", "token", "tier"], [("fcm", "tok-1", "b"), ("fcm", "", "b")])
    assert counts(report) == {"updated": 1, "failed": 1}
    assert report["error_counts"] == {"empty_match_key": 1}
    assert sorted((p["subscriptions"][0]["provider"], p["tier"]) for p in profiles) == [
        ("apns", "a"),
        ("fcm", "b"),
    ]


def test_subscription_status_changes_are_recorded_and_double_opt_in_is_never_demoted(env: Any) -> None:
    per_row = {"resource": "newsletter", "channel": "email", "column": "email", "status_column": "status"}
    spec = {
        "target": target("email_profile"),
        "mapping": [{"field": "email", "column": "email"}],
        "subscriptions": [per_row],
    }
    report, profiles = env(spec, ["email", "status"], [("a@x.com", "unconfirmed"), ("b@x.com", "Subscribed")])
    assert counts(report) == {"created": 2}
    first = {p["email"]: p["subscriptions"][0] for p in profiles}

    report, profiles = env(
        spec, ["email", "status"], [("a@x.com", "unconfirmed"), ("b@x.com", "unconfirmed")]
    )
    assert counts(report) == {"unchanged": 2}  # unconfirmed stays unconfirmed; subscribed is not demoted
    assert {p["email"]: p["subscriptions"][0]["status"] for p in profiles} == {
        "a@x.com": "unconfirmed",
        "b@x.com": "subscribed",
    }

    report, profiles = env(
        spec, ["email", "status"], [("a@x.com", "subscribed"), ("b@x.com", "unsubscribed")]
    )
    assert counts(report) == {"updated": 2}  # a status change is an update of the profile
    after = {p["email"]: p["subscriptions"][0] for p in profiles}
    assert after["a@x.com"]["status"] == "subscribed"
    assert after["b@x.com"]["status"] == "unsubscribed"
    assert after["b@x.com"]["status_changed_at"] != first["b@x.com"]["status_changed_at"]
    with open_store("store") as (_, connection):
        cursor = connection.cursor()
        cursor.execute(
            'SELECT event_type, count(*) FROM "crm_events" GROUP BY event_type ORDER BY event_type'
        )
        assert [tuple(r) for r in cursor.fetchall()] == [("created", 2), ("subscription_changed", 2)]

    report, _ = env(spec, ["email", "status"], [("a@x.com", "maybe")])
    assert report["error_counts"] == {"invalid_status": 1}


def test_insert_only_leaves_existing_profiles_and_their_subscriptions_alone(env: Any) -> None:
    per_row = {"resource": "newsletter", "channel": "email", "column": "email", "status_column": "status"}
    spec = {
        "target": target("email_profile", "insert_only"),
        "mapping": [{"field": "email", "column": "email"}],
        "subscriptions": [per_row],
    }
    env(spec, ["email", "status"], [("a@x.com", "subscribed")])
    report, profiles = env(spec, ["email", "status"], [("a@x.com", "unsubscribed")])
    assert counts(report) == {"skipped": 1}
    assert profiles[0]["subscriptions"][0]["status"] == "subscribed"
