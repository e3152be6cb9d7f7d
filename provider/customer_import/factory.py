"""The DAG factory: every spec file becomes one DAG; broken specs become one visible import error.

Parsing reads spec and database files only: no connections, Variables, network or drivers.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset

from customer_import import config
from customer_import.exceptions import SpecError
from customer_import.operators.import_profiles import (
    PARTITION_TASK_ID,
    PLAN_TASK_ID,
    CustomerImportOperator,
    PrepareProfileStoreOperator,
)
from customer_import.operators.initial_load import LoadPartitionOperator, PlanInitialLoadOperator
from customer_import.schedule.timetables import build_timetable, dag_window, describe
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.loader import load_project, yaml_files

INVALID_SPECS_DAG_ID = "customer_import__invalid_specs"
FAB_AUTH_MANAGER = "FabAuthManager"


def profiles_asset(database: str) -> Asset:
    """The asset a run updates; trigger campaigns schedule on it (``customer_profiles/<database>``)."""
    return Asset(f"customer_profiles/{database}")  # name and URI alike, as a downstream DAG writes it


class InvalidSpecs(DAG):
    """Carries every spec problem; its validation fails, which Airflow shows as this file's import error
    while the DAGs of the valid specs load normally."""

    def validate(self) -> None:
        raise SpecError(list(self.params.get("problems", [])))


def _access_control(groups: list[str]) -> dict[str, dict[str, set[str]]] | None:
    """``access_groups`` -> DAG access_control, where the FAB auth manager (which enforces it) is in use."""
    if not groups:
        return None
    from airflow.configuration import conf

    if FAB_AUTH_MANAGER not in conf.get("core", "auth_manager", fallback=""):
        return None
    return {
        group: {"DAGs": {"can_read", "can_edit"}, "DAG Runs": {"can_create", "can_read"}} for group in groups
    }


def _doc(spec: ImportSpec, spec_file: str) -> str:
    lines = [
        f"### {spec.description or spec.name}",
        "",
        f"- spec: `{spec_file}`",
        f"- source: `{spec.source.conn_id}`" + (f" table `{spec.source.table}`" if spec.source.table else ""),
        f"- target: profile database `{spec.target.database}`, mode `{spec.target.mode.value}`, "
        f"matching by `{spec.target.matching.by.value}`",
        f"- schedule: {describe(spec.schedule)}",
    ]
    if spec.source.cursor is not None:
        lines.append(f"- cursor: Variable `{spec.variable_key}` (column `{spec.source.cursor.column}`)")
    if spec.run_immediately:
        from customer_import.schedule.deploy_run import content_version

        version = content_version(spec.model_dump(mode="json"))
        lines.append(f"- run_immediately: one run per deployed spec version (this one: `{version}`)")
    return "\n".join(lines)


def _timetable(spec: ImportSpec) -> Any:
    """The plan's timetable; with ``run_immediately``, wrapped to add one run per deployed spec version."""
    timetable = build_timetable(spec.schedule)
    if not spec.run_immediately:
        return timetable
    from airflow.serialization.encoders import coerce_to_core_timetable

    from customer_import.schedule.deploy_run import DeployRunTimetable, content_version

    inner = coerce_to_core_timetable(timetable) if timetable is not None else None
    return DeployRunTimetable(inner, content_version(spec.model_dump(mode="json")))


def _alert_callbacks(spec: ImportSpec) -> dict[str, dict[str, Any]]:
    """The tasks' alert callbacks (``alerts``); the SMTP provider is imported only for specs with alerts."""
    if spec.alerts is None:
        return {}
    from customer_import.alerts import callbacks

    return callbacks(spec.name, [str(address) for address in spec.alerts.email], list(spec.alerts.on))


def build_dag(spec: ImportSpec, database: ProfileDatabase, spec_file: str = "") -> DAG:
    """One import's DAG. With ``run_immediately`` it is created unpaused (Airflow's default creates new
    DAGs paused, which would silently hold back the deploy run); other DAGs follow that default."""
    start_date, end_date = dag_window(spec.schedule)
    dag = DAG(
        dag_id=spec.name,
        description=(spec.description or f"Import {spec.name} into {spec.target.database}")[:200],
        doc_md=_doc(spec, spec_file),
        schedule=_timetable(spec),
        start_date=start_date,
        end_date=end_date,
        catchup=False,
        is_paused_upon_creation=False if spec.run_immediately else None,
        max_active_runs=1,
        tags=set(spec.labels) | {"customer_import"},
        access_control=_access_control(spec.access_groups),
        default_args={
            "retries": config.retries(),
            "retry_delay": dt.timedelta(seconds=config.retry_delay_seconds()),
            "owner": "customer_import",
        },
    )
    spec_data = spec.model_dump(mode="json")
    database_data = database.model_dump(mode="json")
    alerts = _alert_callbacks(spec)
    prepare = PrepareProfileStoreOperator(
        task_id="prepare_store", database=database_data, dag=dag, **alerts.get("prepare_store", {})
    )
    run = CustomerImportOperator(
        task_id="import_profiles",
        spec=spec_data,
        database=database_data,
        query=spec.source.query,
        outlets=[] if spec.target.suppress_triggers else [profiles_asset(spec.target.database)],
        dag=dag,
        initial_load=spec.source.initial_load is not None,
        # with an initial load, also after its partitions were skipped (none planned: incremental run)
        trigger_rule="none_failed" if spec.source.initial_load is not None else "all_success",
        **alerts.get("import_profiles", {}),
    )
    if spec.source.initial_load is None:
        prepare >> run
        return dag
    plan = PlanInitialLoadOperator(
        task_id=PLAN_TASK_ID,
        spec=spec_data,
        database=database_data,
        query=spec.source.query,
        dag=dag,
        **alerts.get("prepare_store", {}),  # failure alerts only
    )
    partitions = LoadPartitionOperator.partial(
        task_id=PARTITION_TASK_ID,
        spec=spec_data,
        database=database_data,
        query=spec.source.query,
        dag=dag,
        **alerts.get("prepare_store", {}),
    ).expand(partition=plan.output)
    prepare >> plan >> partitions >> run
    return dag


def build_dags(namespace: dict[str, Any], project_dir: Path | None = None) -> dict[str, DAG]:
    """Build every spec's DAG into ``namespace`` (the DAG file's globals) and return them."""
    root = project_dir or Path.cwd()
    project = load_project(
        yaml_files(config.specs_folder(root)), yaml_files(config.databases_folder(root)), root=root
    )
    dags: dict[str, DAG] = {}
    for name, loaded in project.specs.items():
        database = project.databases[loaded.model.target.database].model
        dags[name] = namespace[name] = build_dag(loaded.model, database, loaded.file)
    if project.problems:
        namespace[INVALID_SPECS_DAG_ID] = InvalidSpecs(
            dag_id=INVALID_SPECS_DAG_ID,
            schedule=None,
            params={"problems": [str(p) for p in project.problems]},
        )
    return dags
