"""Source-row fingerprints (customer_import.fingerprints) on SQLite and PostgreSQL stores: a re-run maps
only the rows that are new or changed, and every outcome (profiles, counts, rejections) stays what a
run without fingerprints gives."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from customer_import.cursor import MemoryCursor
from customer_import.importer import run_import
from customer_import.mapping import batches
from customer_import.sources.dialects import source_dialect_for
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.store.connection import open_store
from customer_import.store.export import iter_profiles
from customer_import.store.writer import ProfileWriter

DATABASE = ProfileDatabase.model_validate(
    {"name": "fp", "fields": {"tier": {"type": "enum", "values": ["a", "b"]}}}
)
COLUMNS = ("email", "first_name", "tier")
ROWS = [
    ("ann@example.com", "Ann", "a"),
    ("bob@example.com", "Bob", "b"),
    ("not-an-email", "Cy", "a"),  # rejected every time
    ("dee@example.com", "Dee", "a"),
]


class Harness:
    def __init__(self, source: Path, cache_mb: int) -> None:
        self.source = source
        self.cache_mb = cache_mb  # 0: fingerprints looked up in the store per batch
        self.workers = 0  # mapping_workers
        self.mapped = 0

    def load(self, rows: list[tuple[Any, ...]]) -> None:
        with sqlite3.connect(self.source) as db:
            db.execute("DROP TABLE IF EXISTS t")
            db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, email TEXT, first_name TEXT, tier TEXT)")
            db.executemany("INSERT INTO t VALUES (?, ?, ?, ?)", [(i, *r) for i, r in enumerate(rows, 1)])

    def spec(self, **changes: Any) -> ImportSpec:
        data: dict[str, Any] = {
            "name": "fp_import",
            "target": {"database": "fp", "mode": "upsert", "matching": {"by": "email_profile"}},
            "source": {"conn_id": "src", "query": "SELECT email, first_name, tier FROM t ORDER BY n"},
            "prevent_duplication": {"skip_unchanged": True},
            "mapping": [{"field": c, "column": c} for c in COLUMNS],
        }
        data.update(changes)
        return ImportSpec.model_validate(data)

    def report(
        self, spec: ImportSpec, *, run_id: str = "r", batch_size: int = 2, cursor: MemoryCursor | None = None
    ) -> dict[str, Any]:
        """One run of ``spec`` over the source table, its report as a dict."""
        return run_import(
            spec,
            DATABASE,
            query=spec.source.query,
            source=source_dialect_for("sqlite"),
            cursor_state=cursor or MemoryCursor(None),
            run_id=run_id,
            batch_size=batch_size,
            store_conn_id="store",
            fingerprint_cache_mb=self.cache_mb,
            mapping_workers=self.workers,
        ).to_dict()

    def run(self, spec: ImportSpec | None = None, batch_size: int = 2) -> dict[str, int]:
        before = self.mapped
        report = self.report(spec or self.spec(), batch_size=batch_size)["summary"]
        counts = {k: report[k] for k in ("created", "updated", "unchanged", "skipped", "failed") if report[k]}
        return {**counts, "mapped": self.mapped - before}

    def profiles(self) -> dict[str, dict[str, Any]]:
        with open_store("store") as (dialect, connection):
            return {
                p["email"]: {k: p[k] for k in ("first_name", "tier", "updated_at")}
                for p in iter_profiles(dialect, connection, "fp")
            }


@pytest.fixture(params=[64, 0], ids=["in-memory", "per-batch"])
def harness(
    request: pytest.FixtureRequest,
    store: str,
    sqlite_conn: Callable[[str], Path],
    monkeypatch: pytest.MonkeyPatch,
) -> Harness:
    h = Harness(sqlite_conn("src"), request.param)
    original = batches.map_rows

    def counting_map(mapper: Any, rows: Any, row_numbers: Any) -> Any:
        # Rows handed to the batch mapper (row by row or column-wise): the rows that are mapped.
        h.mapped += len(rows)
        return original(mapper, rows, row_numbers)

    monkeypatch.setattr(batches, "map_rows", counting_map)
    h.load(ROWS)
    return h


def test_a_rerun_maps_only_new_and_changed_rows(harness: Harness) -> None:
    assert harness.run() == {"created": 3, "failed": 1, "mapped": 4}
    first = harness.profiles()
    # The rejected row is rejected again, as an earlier run rejected it, without being mapped.
    assert harness.run() == {"unchanged": 3, "failed": 1, "mapped": 0}
    assert harness.profiles() == first  # not even updated_at moved
    harness.load([ROWS[0], ("bob@example.com", "Robert", "b"), *ROWS[2:], ("eve@example.com", "Eve", "b")])
    assert harness.run() == {"created": 1, "updated": 1, "unchanged": 2, "failed": 1, "mapped": 2}
    assert harness.profiles()["bob@example.com"]["first_name"] == "Robert"


def test_a_profile_written_by_another_import_is_compared_again(harness: Harness) -> None:
    harness.run()
    other = harness.spec(name="other_import", prevent_duplication={"skip_unchanged": False})
    harness.load([("ann@example.com", "Annie", "b")])
    assert harness.run(other) == {"updated": 1, "mapped": 1}
    harness.load(ROWS)
    # ann's fingerprint was cleared by the other import's write: her row is mapped and written back.
    assert harness.run() == {"updated": 1, "unchanged": 2, "failed": 1, "mapped": 1}
    assert harness.profiles()["ann@example.com"]["first_name"] == "Ann"


def test_another_configuration_does_not_reuse_fingerprints_but_another_query_does(harness: Harness) -> None:
    harness.run()
    renamed = harness.spec(
        mapping=[{"field": "last_name", "column": "first_name"}, {"field": "email", "column": "email"}]
    )
    assert harness.run(renamed) == {"updated": 3, "failed": 1, "mapped": 4}
    reordered = harness.spec(
        source={"conn_id": "src", "query": "SELECT email, first_name, tier FROM t ORDER BY n DESC"}
    )
    # The other configuration's writes replaced the fingerprints: mapped again, found unchanged (and the
    # rejected row too: its rejection under this configuration went with the run the renamed one re-ran).
    assert harness.run(reordered) == {"unchanged": 3, "failed": 1, "mapped": 4}
    assert harness.run(reordered) == {"unchanged": 3, "failed": 1, "mapped": 0}
    assert harness.run() == {"unchanged": 3, "failed": 1, "mapped": 0}  # same configuration, other query


@pytest.mark.parametrize(("policy", "winner"), [("last", "Second"), ("first", "First")])
def test_repeated_keys_keep_their_winner_on_a_rerun(harness: Harness, policy: str, winner: str) -> None:
    rows = [
        ("kim@example.com", "First", "a"),
        ("x@example.com", "X", "a"),
        ("KIM@example.com", "Second", "a"),
    ]
    harness.load(rows)
    spec = harness.spec(prevent_duplication={"skip_unchanged": True, "duplicate_keys": policy})
    first = harness.run(spec, batch_size=10)
    assert first == {"created": 2, "skipped": 1, "mapped": 3}
    assert harness.profiles()["kim@example.com"]["first_name"] == winner
    again = harness.run(spec, batch_size=10)
    assert again["unchanged"] == 2 and again["skipped"] == 1 and "updated" not in again
    assert harness.profiles()["kim@example.com"]["first_name"] == winner


def test_a_later_row_of_a_run_is_compared_with_what_an_earlier_batch_wrote(harness: Harness) -> None:
    harness.load([("kim@example.com", "Old", "a")])
    spec = harness.spec(prevent_duplication={"skip_unchanged": True, "duplicate_keys": "last"})
    harness.run(spec)
    # Batch 1 changes kim; batch 2 holds kim's row as it was before this run: it must win (last), even
    # though the store held its fingerprint when the run started.
    harness.load(
        [("kim@example.com", "New", "a"), ("x@example.com", "X", "a"), ("kim@example.com", "Old", "a")]
    )
    assert harness.run(spec, batch_size=2) == {"created": 1, "updated": 2, "mapped": 3}
    assert harness.profiles()["kim@example.com"]["first_name"] == "Old"
    # Again: kim's first row differs from the profile (it holds the second row), so both are written.
    assert harness.run(spec, batch_size=2) == {"updated": 2, "unchanged": 1, "mapped": 2}
    assert harness.profiles()["kim@example.com"]["first_name"] == "Old"


def test_with_a_mapping_worker_a_row_known_before_the_batch_ahead_was_written_is_mapped(
    harness: Harness,
) -> None:
    """With mapping_workers, batch k + 1 is keyed (and its misses mapped) before batch k is written; a
    row found known then, whose fingerprint batch k replaces, is mapped after all (in the worker)."""
    harness.workers = 1
    harness.load([("kim@example.com", "Old", "a")])
    spec = harness.spec(prevent_duplication={"skip_unchanged": True, "duplicate_keys": "last"})
    harness.run(spec)
    harness.load(
        [("kim@example.com", "New", "a"), ("x@example.com", "X", "a"), ("kim@example.com", "Old", "a")]
    )
    assert harness.run(spec, batch_size=2)["updated"] == 2
    assert harness.profiles()["kim@example.com"]["first_name"] == "Old"


def test_the_store_gives_its_fingerprints_only_up_to_the_cache(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    harness.run()
    with open_store("store") as (dialect, connection):
        cursor = connection.cursor()
        monkeypatch.setattr(type(dialect), "FINGERPRINT_CHUNK_IDS", 2)  # ids 1-2, then 3
        found = dialect.stored_fingerprints(cursor, "fp_profiles", 3)
        assert found is not None and found[0] == 3
        assert [len(chunk) for chunk in found[1]] == [2 * 16, 16]
        assert dialect.stored_fingerprints(cursor, "fp_profiles", 2) is None
        connection.rollback()


def fingerprint_indexes() -> list[str]:
    """The names of the store's indexes on the profiles' fingerprints."""
    with open_store("store") as (dialect, connection):
        cursor = connection.cursor()
        if dialect.name == "sqlite":
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'fp_profiles' "
                "AND sql LIKE '%source_fingerprint%'"
            )
        else:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'fp_profiles' "
                "AND indexdef LIKE '%source_fingerprint%'"
            )
        names = [row[0] for row in cursor.fetchall()]
        connection.rollback()
        return names


def test_only_a_run_that_looks_fingerprints_up_per_batch_builds_their_index(harness: Harness) -> None:
    first = harness.run()
    assert first["created"] == 3
    # In memory, the profiles' writes keep no fingerprint index; per batch, the run built it first.
    assert fingerprint_indexes() == ([] if harness.cache_mb else ["ix_fp_source_fingerprint"])
    # Either way a re-run finds the rows unchanged, and the index is built once (IF NOT EXISTS).
    assert harness.run() == {"unchanged": 3, "failed": 1, "mapped": 0}
    harness.cache_mb = 0
    assert harness.run() == {"unchanged": 3, "failed": 1, "mapped": 0}
    assert fingerprint_indexes() == ["ix_fp_source_fingerprint"]


def test_rejected_duplicates_are_rejected_again(harness: Harness) -> None:
    harness.load([("kim@example.com", "First", "a"), ("KIM@example.com", "Second", "a")])
    spec = harness.spec(prevent_duplication={"skip_unchanged": True, "duplicate_keys": "reject"})
    assert harness.run(spec, batch_size=10) == {"failed": 2, "mapped": 2}
    assert harness.run(spec, batch_size=10) == {"failed": 2, "mapped": 2}


def test_imports_without_skip_unchanged_or_with_subscriptions_map_every_row(harness: Harness) -> None:
    plain = harness.spec(prevent_duplication={"skip_unchanged": False})
    harness.run(plain)
    assert harness.run(plain)["mapped"] == 4
    insert_only = harness.spec(
        target={"database": "fp", "mode": "insert_only", "matching": {"by": "email_profile"}}
    )
    assert harness.run(insert_only) == {"skipped": 3, "failed": 1, "mapped": 4}


def test_a_postgresql_store_is_written_by_a_helper_thread_a_sqlite_one_is_not(
    harness: Harness, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """[customer_import] overlap_writes: batch k is written by a helper thread while batch k + 1 is
    mapped, where the store's server does the work (PostgreSQL); SQLite writes in the task's thread."""
    threads: list[str] = []
    write = ProfileWriter.write

    def spy(self: ProfileWriter, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return write(self, *args, **kwargs)

    monkeypatch.setattr(ProfileWriter, "write", spy)
    assert harness.run(batch_size=1) == {"created": 3, "failed": 1, "mapped": 4}
    with open_store("store") as (dialect, _):
        expected = "customer-import-write" if dialect.name == "postgres" else "MainThread"
    assert threads == [expected] * 4
    threads.clear()
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__OVERLAP_WRITES", "false")
    assert harness.run(batch_size=1) == {"unchanged": 3, "failed": 1, "mapped": 0}
    assert threads == ["MainThread"] * 4


def test_a_batch_that_fails_in_the_helper_thread_fails_the_run_after_the_batches_before(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The helper thread's error is the run's; the batches written before it stay written, and the
    cursor moves only over them."""
    calls: list[int] = []
    write = ProfileWriter.write

    def third_fails(self: ProfileWriter, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("the store went away")
        return write(self, *args, **kwargs)

    monkeypatch.setattr(ProfileWriter, "write", third_fails)
    spec = harness.spec(
        source={
            "conn_id": "src",
            "query": "SELECT n, email, first_name, tier FROM t WHERE n > {lastItem} ORDER BY n",
            "cursor": {"column": "n", "start_value": 0},
        }
    )
    cursor = MemoryCursor(0)
    with pytest.raises(RuntimeError, match="the store went away"):
        harness.report(spec, batch_size=1, cursor=cursor)
    # Rows 1 and 2 were written, row 3's batch failed, row 4's was never written. The cursor holds back
    # at 1: n = 2 may have more rows in the batch that failed (decision 0005), so they are read again.
    assert cursor.value == 1
    assert sorted(harness.profiles()) == ["ann@example.com", "bob@example.com"]


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "mask_contacts"])
def test_a_known_rejection_is_reported_and_kept_as_the_run_that_mapped_it(
    harness: Harness, masked: bool
) -> None:
    """customer_import.known_rejections: the re-run's report sample and stored rows are the first run's."""
    harness.load([*ROWS, ("x@y", "Bad", "a"), ("eve@example.com", "Eve", "zzz")])  # three rejected rows
    spec = harness.spec(reports={"mask_contacts": masked})

    def run() -> tuple[Any, list[tuple[Any, ...]]]:
        report = harness.report(spec, run_id=f"run-{harness.mapped}")
        with open_store("store") as (dialect, connection):
            cursor = connection.cursor()
            cursor.execute(
                "SELECT row_no, cursor_value, column_name, code, message, value, sample "
                f"FROM fp_rejections WHERE run_id = {dialect.param} ORDER BY row_no",
                (report["run_id"],),
            )
            return report, [tuple(r) for r in cursor.fetchall()]

    first, first_kept = run()
    mapped = harness.mapped
    again, again_kept = run()
    assert harness.mapped == mapped  # nothing mapped: three rows known unchanged, three known rejected
    assert again["rejected"] == first["rejected"] and len(first["rejected"]) == 3
    assert again["error_counts"] == first["error_counts"]
    assert again_kept == first_kept
    shown = [r["value"] for r in again["rejected"]]
    assert ("not*******il" in shown) is masked and ("not-an-email" in shown) is not masked
    # Another mask_contacts setting: the kept rejections show values the other way, so they are mapped.
    spec = harness.spec(reports={"mask_contacts": not masked})
    other, _ = run()
    assert harness.mapped == mapped + 3
    assert [r["value"] for r in other["rejected"]] != shown
