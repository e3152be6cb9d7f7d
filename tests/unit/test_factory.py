"""The DAG factory without a metadata DB: DAG attributes from the spec, access control, timetables."""

from __future__ import annotations

import pytest

from customer_import.factory import build_dag, profiles_asset
from tests.helpers import make_database, make_spec

FAB = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"


def test_spec_becomes_a_dag() -> None:
    spec = make_spec(
        description="Nightly CRM sync",
        labels=["crm", "nightly"],
        schedule={
            "plan": "daily",
            "times": ["03:00"],
            "timezone": "Europe/Berlin",
            "start_date": "2026-12-01",
            "deactivate_at": "2027-06-30T00:00",
        },
    )
    dag = build_dag(spec, make_database(), "include/import_specs/shop_import.yaml")
    assert dag.dag_id == "shop_import"
    assert dag.description == "Nightly CRM sync"
    assert {"crm", "nightly"} <= set(dag.tags)
    assert dag.max_active_runs == 1
    assert dag.catchup is False
    assert dag.start_date.isoformat() == "2026-11-30T23:00:00+00:00"  # midnight Berlin
    assert dag.end_date.isoformat() == "2027-06-29T22:00:00+00:00"
    assert "0 3 * * *" in repr(dag.timetable) and "Europe/Berlin" in repr(dag.timetable)
    assert "include/import_specs/shop_import.yaml" in (dag.doc_md or "")
    task = dag.get_task("import_profiles")
    assert task.outlets == [profiles_asset("shop")]
    assert dag.get_task("prepare_store").downstream_task_ids == {"import_profiles"}


def test_manual_plan_has_no_schedule_and_suppress_triggers_has_no_asset() -> None:
    dag = build_dag(make_spec(target={"suppress_triggers": True}), make_database())
    assert type(dag.timetable).__name__ == "NullTimetable"
    assert dag.get_task("import_profiles").outlets == []


def test_access_groups_become_access_control_only_with_the_fab_auth_manager(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = make_spec(access_groups=["marketing"])
    monkeypatch.setenv(
        "AIRFLOW__CORE__AUTH_MANAGER",
        "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
    )
    assert not build_dag(spec, make_database()).access_control
    monkeypatch.setenv("AIRFLOW__CORE__AUTH_MANAGER", FAB)
    access = build_dag(spec, make_database()).access_control
    assert access is not None
    assert set(access) == {"marketing"}
    assert "can_read" in str(access["marketing"])


def test_parsing_dags_does_not_load_the_import_machinery() -> None:
    """The DAG file imports the factory on every parse: numpy and the fingerprints are for the task only."""
    import subprocess
    import sys

    probe = "import sys, customer_import.factory; print(sorted({'numpy', 'customer_import.fingerprints'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_initial_load_adds_a_plan_and_mapped_partitions_before_the_import() -> None:
    spec = make_spec(
        source={
            "conn_id": "src",
            "query": "SELECT id, email FROM customers WHERE id > {lastItem} ORDER BY id",
            "cursor": {"column": "id", "start_value": 0},
            "initial_load": {"partitions": 4},
        }
    )
    dag = build_dag(spec, make_database())
    assert set(dag.task_ids) == {"prepare_store", "plan_initial_load", "load_partition", "import_profiles"}
    assert dag.get_task("prepare_store").downstream_task_ids == {"plan_initial_load"}
    assert dag.get_task("plan_initial_load").downstream_task_ids == {"load_partition"}
    partitions = dag.get_task("load_partition")
    assert type(partitions).__name__ == "MappedOperator"
    assert partitions.downstream_task_ids == {"import_profiles"}
    run = dag.get_task("import_profiles")
    assert run.trigger_rule == "none_failed"  # also when no partition was planned (skipped): incremental
    assert run.initial_load is True
    plain = build_dag(make_spec(), make_database())
    assert plain.get_task("import_profiles").trigger_rule == "all_success"
    assert plain.get_task("import_profiles").initial_load is False
