"""IP location through a real import: a SQLite source, ``run_import``, and the store on a SQLite file and
on PostgreSQL. The city database is the small .mmdb that tests/unit/test_geo.py builds with mmdb-writer."""

from __future__ import annotations

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
from customer_import.store.writer import ensure_schema
from tests.unit.test_geo import MMDB_ENV, write_city_mmdb

DATABASE = ProfileDatabase.model_validate({"name": "geo", "fields": {"tier": {"type": "string"}}})
GEO = ("country", "region", "city", "timezone", "postal_code")
ROWS = [
    # email, ip, signup_ip, city
    ("ann@example.com", "81.2.69.160", None, None),  # city mapped and empty: stays empty
    ("bob@example.com", "5.9.8.7", None, "Potsdam"),  # city mapped: the source's value wins
    ("cho@example.com", None, "2001:218::5", "Osaka"),  # no ip: registration_ip (IPv6)
    ("dev@example.com", "192.168.1.20", "81.2.69.1", None),  # private ip: no location
    ("eve@example.com", "8.8.8.8", None, None),  # public, not in the database: no location
]


@pytest.fixture
def source(sqlite_conn: Callable[[str], Path]) -> Callable[[list[tuple[Any, ...]]], None]:
    """A SQLite source ``src``; call it with rows to (re)fill its customers table."""
    import sqlite3

    path = sqlite_conn("src")

    def fill(rows: list[tuple[Any, ...]]) -> None:
        with sqlite3.connect(path) as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS customers "
                "(id INTEGER PRIMARY KEY, email TEXT, ip TEXT, signup_ip TEXT, city TEXT)"
            )
            db.execute("DELETE FROM customers")
            db.executemany(
                "INSERT INTO customers VALUES (?, ?, ?, ?, ?)", [(n, *r) for n, r in enumerate(rows, 1)]
            )

    return fill


@pytest.fixture
def mmdb(tmp_path: Path) -> Path:
    return write_city_mmdb(tmp_path / "GeoLite2-City-test.mmdb")


def make_spec(ip_location: Any, mapping: list[tuple[str, str]] | None = None) -> ImportSpec:
    pairs = mapping or [("email", "email"), ("ip", "ip"), ("registration_ip", "signup_ip"), ("city", "city")]
    return ImportSpec.model_validate(
        {
            "name": "geo_import",
            "target": {"database": "geo", "matching": {"by": "email_profile"}, "ip_location": ip_location},
            "source": {
                "conn_id": "src",
                "query": "SELECT id, email, ip, signup_ip, city FROM customers ORDER BY id",
            },
            "mapping": [{"field": f, "column": c} for f, c in pairs],
        }
    )


def run(spec: ImportSpec) -> dict[str, Any]:
    return run_import(
        spec,
        DATABASE,
        query=spec.source.query,
        source=source_dialect_for("sqlite"),
        cursor_state=MemoryCursor(None),
        run_id="geo-run",
        batch_size=2,
        store_conn_id="store",
    ).to_dict()


def stored() -> dict[str, tuple[Any, ...]]:
    with open_store("store") as (dialect, connection):
        return {p["email"]: tuple(p[f] for f in GEO) for p in iter_profiles(dialect, connection, "geo")}


def test_city_database_fills_the_geo_fields_and_a_mapped_city_wins(
    store: str, source: Callable[[list[tuple[Any, ...]]], None], mmdb: Path
) -> None:
    source(ROWS)
    report = run(make_spec({"mmdb": str(mmdb)}))
    assert report["summary"]["created"] == 5
    assert stored() == {
        "ann@example.com": ("GB", "England", None, "Europe/London", "SW1A"),
        "bob@example.com": ("DE", "Land Berlin", "Potsdam", "Europe/Berlin", "10115"),
        "cho@example.com": ("JP", "Tokyo", "Osaka", "Asia/Tokyo", "100-0001"),
        "dev@example.com": (None, None, None, None, None),
        "eve@example.com": (None, None, None, None, None),
    }

    # The next run: filled fields are written like mapped ones, so a new ip moves the profile.
    source([("ann@example.com", "2001:218::9", None, None), ("bob@example.com", "5.9.8.7", None, "Potsdam")])
    report = run(make_spec({"mmdb": str(mmdb)}))
    assert (report["summary"]["updated"], report["summary"]["unchanged"]) == (1, 1)
    after = stored()
    assert after["ann@example.com"] == ("JP", "Tokyo", None, "Asia/Tokyo", "100-0001")
    assert after["bob@example.com"] == ("DE", "Land Berlin", "Potsdam", "Europe/Berlin", "10115")


def test_configured_mmdb_is_used_for_ip_location_true(
    store: str, source: Callable[[list[tuple[Any, ...]]], None], mmdb: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MMDB_ENV, str(mmdb))
    source(ROWS[:1])
    run(make_spec(True, [("email", "email"), ("ip", "ip")]))
    assert stored() == {"ann@example.com": ("GB", "England", "London", "Europe/London", "SW1A")}


def test_country_default_fills_country_and_keeps_the_other_fields(
    store: str, source: Callable[[list[tuple[Any, ...]]], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MMDB_ENV, raising=False)
    # Another import set the city (and everything else) first.
    source([("jp@example.com", None, None, "Kyoto"), ("us@example.com", None, None, "Boston")])
    run(make_spec(False, [("email", "email"), ("city", "city")]))
    source([("jp@example.com", "1.0.16.1", None, None), ("us@example.com", "8.8.8.8", None, None)])
    report = run(make_spec(True, [("email", "email"), ("ip", "ip")]))
    assert report["summary"]["updated"] == 2
    assert stored() == {
        "jp@example.com": ("JP", None, "Kyoto", "Asia/Tokyo", None),
        "us@example.com": ("US", None, "Boston", None, None),  # several zones: none guessed
    }


def test_a_missing_configured_mmdb_fails_the_run_before_anything_is_written(
    store: str,
    source: Callable[[list[tuple[Any, ...]]], None],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from customer_import.geo import GeoDatabaseError

    missing = tmp_path / "GeoLite2-City.mmdb"
    monkeypatch.setenv(MMDB_ENV, str(missing))
    source(ROWS)
    with pytest.raises(GeoDatabaseError) as caught:
        run(make_spec(True))
    message = str(caught.value)
    assert str(missing) in message and "does not exist" in message
    assert "[customer_import] ip_location_mmdb" in message
    with open_store("store") as (dialect, connection):  # the run stopped before the store was touched
        ensure_schema(dialect, connection, DATABASE)
    assert stored() == {}


def test_an_address_without_a_location_never_erases_stored_geo_fields(
    store: str, source: Callable[[list[tuple[Any, ...]]], None], mmdb: Path
) -> None:
    source([("bob@example.com", "5.9.8.7", None, None)])
    run(make_spec({"mmdb": str(mmdb)}, [("email", "email"), ("ip", "ip")]))
    located = stored()["bob@example.com"]
    assert located[0] == "DE"
    source([("bob@example.com", "10.0.0.1", None, None)])  # a private address: no location
    report = run(make_spec({"mmdb": str(mmdb)}, [("email", "email"), ("ip", "ip")]))
    assert report["summary"]["updated"] == 1  # the ip itself changed
    assert stored()["bob@example.com"] == located
