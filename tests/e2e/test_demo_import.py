"""The whole import through Airflow for real: the factory's DAGs, dag.test() runs on a SQLite metadata
DB, the cursor Variable, the XCom report and the stored profiles."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO
from tests.e2e.conftest import load_dagbag, run_dag, set_variable, variable

pytestmark = pytest.mark.e2e


def demo_source(path: Path, rows: int) -> None:
    subprocess.run(
        [sys.executable, str(REPO / "scripts" / "make_demo_source.py"), str(path), "--rows", str(rows)],
        check=True,
        capture_output=True,
    )


def crm_spec(name: str = "crm", limit: int = 300, **changes: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": name,
        "description": "e2e CRM import",
        "labels": ["e2e"],
        "target": {
            "database": "customers",
            "mode": "upsert",
            "matching": {"by": "custom", "field": "crm_id"},
        },
        "schedule": {"plan": "daily", "times": ["03:00"], "timezone": "Europe/Berlin"},
        "source": {
            "conn_id": "crm_src",
            "table": "customers",
            "query": f"SELECT id, email, phone, first_name, birthday, tier FROM customers "
            f"WHERE id > {{lastItem}} ORDER BY id LIMIT {limit}",
            "cursor": {"column": "id", "start_value": 0},
        },
        "mapping": [
            {"field": "crm_id", "column": "id"},
            {"field": "email", "column": "email"},
            {"field": "phone", "column": "phone", "phone": {"default_region": "DE"}},
            {"field": "first_name", "column": "first_name"},
            {"field": "birth_date", "column": "birthday", "date_format": "%d.%m.%Y"},
            {"field": "tier", "column": "tier"},
        ],
    }
    spec.update(changes)
    return spec


def stored(store: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(store) as db:
        return db.execute(
            "SELECT crm_id, email, profile_id FROM customers_profiles ORDER BY crm_id"
        ).fetchall()


def test_repository_dags_import_without_errors() -> None:
    bag = load_dagbag()
    assert bag.import_errors == {}
    assert {"demo_crm_customers", "demo_newsletter_emails"} <= set(bag.dag_ids)
    dag = bag.dags["demo_crm_customers"]
    assert dag.max_active_runs == 1
    assert {"demo", "crm"} <= set(dag.tags)
    assert [t.task_id for t in dag.tasks] == ["prepare_store", "import_profiles"]
    assert "Europe/Berlin" in repr(dag.timetable)


def test_a_broken_spec_is_an_import_error_and_the_others_still_load(project: Any) -> None:
    project(
        crm_spec("good_one"),
        raw={"broken.yaml": "name: broken\ntarget:\n  database: customers\n  mode: sometimes\n"},
    )
    bag = load_dagbag()
    assert "good_one" in bag.dag_ids
    assert "broken" not in bag.dag_ids
    (message,) = bag.import_errors.values()
    assert "broken.yaml:4: target.mode" in message
    assert "broken.yaml:1: source: required key is missing" in message


def test_import_runs_end_to_end_then_continues_from_the_cursor(
    project: Any, sqlite_conn: Any, monkeypatch: Any
) -> None:
    source = sqlite_conn("crm_src")
    demo_source(source, rows=500)
    store = sqlite_conn("profile_store_default")
    project(crm_spec())

    state, report = run_dag("crm")
    assert state == "success"
    assert report is not None
    summary = report["summary"]
    assert summary["read"] == 300 and summary["cursor_before"] == 0 and summary["cursor_after"] == 300
    assert summary["created"] + summary["failed"] == 300 and summary["failed"] == len(report["rejected"])
    assert summary["failed"] > 0 and set(report["error_counts"]) <= {
        "invalid_email",
        "invalid_phone",
        "invalid_date",
        "invalid_enum",
    }
    assert all({"row", "cursor", "column", "code", "message"} <= set(r) for r in report["rejected"])
    assert variable("customer_import.crm.last_item") == "300"
    first = stored(store)
    assert len(first) == summary["created"]

    state, report = run_dag("crm")
    assert state == "success" and report is not None
    assert report["summary"]["cursor_before"] == 300 and report["summary"]["cursor_after"] == 500
    assert report["summary"]["read"] == 200
    assert variable("customer_import.crm.last_item") == "500"
    second = stored(store)
    assert len(second) == summary["created"] + report["summary"]["created"]
    assert second[: len(first)] == first  # earlier profiles untouched, ids stable

    # Editing the Variable by hand rewinds: the rows are read again but nothing is duplicated or rewritten.
    set_variable("customer_import.crm.last_item", "100")
    state, report = run_dag("crm")
    assert state == "success" and report is not None
    assert report["summary"]["read"] == 300 and report["summary"]["created"] == 0
    assert report["summary"]["unchanged"] == 300 - report["summary"]["failed"]
    assert stored(store) == second


def test_max_error_rate_fails_the_run_after_writing_the_good_rows(project: Any, sqlite_conn: Any) -> None:
    source = sqlite_conn("crm_src")
    demo_source(source, rows=200)
    store = sqlite_conn("profile_store_default")
    project(crm_spec(reports={"max_error_rate": 0.0, "mask_contacts": True}))
    state, report = run_dag("crm")
    assert state == "failed"
    assert report is not None and report["summary"]["failed"] > 0
    assert len(stored(store)) == report["summary"]["created"] > 0
    assert variable("customer_import.crm.last_item") == "200"
    emails = [r for r in report["rejected"] if r["code"] == "invalid_email"]
    assert emails and all("***" in r["value"] for r in emails)


def test_drain_reads_until_empty(project: Any, sqlite_conn: Any) -> None:
    source = sqlite_conn("crm_src")
    demo_source(source, rows=450)
    store = sqlite_conn("profile_store_default")
    project(
        crm_spec(
            limit=100,
            source={
                **crm_spec()["source"],
                "drain": True,
                "query": "SELECT id, email, phone, first_name, birthday, tier FROM customers "
                "WHERE id > {lastItem} ORDER BY id LIMIT 100",
            },
        )
    )
    state, report = run_dag("crm")
    assert state == "success" and report is not None
    assert report["summary"]["read"] == 450 and report["summary"]["parts"] == 6  # 5 parts with rows + 1 empty
    assert variable("customer_import.crm.last_item") == "450"
    assert len(stored(store)) == report["summary"]["created"]


def test_run_immediately_dag_is_serialised_by_airflow_and_runs(project: Any, sqlite_conn: Any) -> None:
    demo_source(sqlite_conn("crm_src"), rows=50)
    sqlite_conn("profile_store_default")
    project(crm_spec(run_immediately=True))
    bag = load_dagbag()
    timetable = bag.dags["crm"].timetable
    assert type(timetable).__name__ == "DeployRunTimetable"
    assert "run at deploy" in timetable.summary
    state, report = run_dag("crm")  # dag.test serialises the DAG: the custom timetable must be registered
    assert state == "success"
    assert report is not None
    assert report["summary"]["read"] == 50


def test_connections_added_with_airflows_cli_serve_the_dag_and_the_export_command(
    project: Any, tmp_path: Path
) -> None:
    """As a user would: `airflow connections add` (stored in the metadata DB, no AIRFLOW_CONN_ variables)."""
    import json
    import os

    demo_source(tmp_path / "crm.db", rows=120)
    store = tmp_path / "store.db"
    airflow = [sys.executable, "-m", "airflow", "connections"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW_CONN_")}
    for conn_id in ("crm_src", "profile_store_default"):
        subprocess.run([*airflow, "delete", conn_id], env=env, capture_output=True, check=False)
    subprocess.run(
        [*airflow, "add", "crm_src", "--conn-uri", f"sqlite:///{tmp_path / 'crm.db'}"],
        env=env,
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [*airflow, "add", "profile_store_default", "--conn-type", "sqlite", "--conn-host", str(store)],
        env=env,
        check=True,
        capture_output=True,
    )
    try:
        project(crm_spec())
        state, report = run_dag("crm")
        assert state == "success"
        assert report is not None
        created = report["summary"]["created"]
        assert len(stored(store)) == created > 0
        command = Path(sys.executable).parent / "customer-import"
        done = subprocess.run(
            [str(command), "profiles", "export", "--database", "customers"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert len([json.loads(line) for line in done.stdout.splitlines()]) == created
    finally:
        for conn_id in ("crm_src", "profile_store_default"):
            subprocess.run([*airflow, "delete", conn_id], env=env, capture_output=True, check=False)


def _asset_events(name: str) -> list[dict[str, Any]]:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = (
            select(AssetEvent.extra)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .where(AssetModel.name == name)
        )
        return [dict(extra or {}) for extra in session.scalars(query)]


def test_a_run_emits_an_asset_event_with_its_counts_unless_triggers_are_suppressed(
    project: Any, sqlite_conn: Any
) -> None:
    demo_source(sqlite_conn("crm_src"), rows=40)
    sqlite_conn("profile_store_default")
    uri = "customer_profiles/customers"
    before = len(_asset_events(uri))
    project(crm_spec("loud"), crm_spec("quiet", target={**crm_spec()["target"], "suppress_triggers": True}))
    assert run_dag("loud")[0] == "success"
    events = _asset_events(uri)
    assert len(events) == before + 1
    assert events[-1]["import_name"] == "loud"
    assert events[-1]["read"] == 40
    assert events[-1]["created"] + events[-1]["failed"] == 40
    assert run_dag("quiet")[0] == "success"
    assert len(_asset_events(uri)) == before + 1  # suppress_triggers: no asset event


def test_preview_shows_each_mapped_columns_first_value_and_writes_nothing(
    project: Any, sqlite_conn: Any
) -> None:
    import json
    import os

    demo_source(sqlite_conn("crm_src"), rows=30)
    store = sqlite_conn("profile_store_default")
    specs = project(crm_spec())
    set_variable("customer_import.crm.last_item", "1")  # the preview starts where a run would
    command = [str(Path(sys.executable).parent / "customer-import"), "preview", str(specs / "crm.yaml")]
    done = subprocess.run(
        [*command, "--json"], capture_output=True, text=True, env=os.environ.copy(), check=True
    )
    result = json.loads(done.stdout)
    assert result["cursor"] == 1
    assert result["cursor_from"] == "variable"
    columns = {c["column"]: c for c in result["columns"]}
    assert columns["id"]["first_value"] == 2
    assert columns["id"]["mapped"] == 2
    assert columns["email"]["mapped"] == columns["email"]["first_value"].lower()
    text = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), check=True).stdout
    assert "nothing written" in text
    assert "crm_id" in text
    assert not store.exists()  # read-only: not even the store was opened
    assert variable("customer_import.crm.last_item") == "1"


def test_mapping_workers_run_inside_an_airflow_task(project: Any, sqlite_conn: Any, monkeypatch: Any) -> None:
    demo_source(sqlite_conn("crm_src"), rows=300)
    store = sqlite_conn("profile_store_default")
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__MAPPING_WORKERS", "1")
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__BATCH_SIZE", "100")
    project(crm_spec())
    state, report = run_dag("crm")
    assert state == "success"
    assert report is not None
    assert report["summary"]["batches"] == 3
    assert report["summary"]["read"] == 300
    assert len(stored(store)) == report["summary"]["created"] == 300 - report["summary"]["failed"]
    assert variable("customer_import.crm.last_item") == "300"
