"""What the console reads from the specs and from Airflow's metadata database (the api-server's ORM).

The import's run history is Airflow's: its DagRuns and the report each run's ``import_profiles`` task
returned (XCom); the cursor is its Airflow Variable; the rejected rows are the store's.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from customer_import.report import cut
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.loader import Project

IMPORT_TASK_ID = "import_profiles"  # the factory's task that returns the run's report
COUNTS = ("read", "created", "updated", "unchanged", "skipped", "failed")


def load_project() -> Project:
    """Every spec and profile database of the configured folders, and every problem (read per request:
    a deployed change shows at once)."""
    from customer_import import config
    from customer_import.spec.loader import load_project as load
    from customer_import.spec.loader import yaml_files

    specs, databases = config.specs_folder(), config.databases_folder()
    files = yaml_files(specs) if specs.is_dir() else []
    database_files = yaml_files(databases) if databases.is_dir() else []
    return load(files, database_files)


@dataclass(frozen=True)
class Import:
    spec: ImportSpec
    database: ProfileDatabase | None
    file: str


def find_import(project: Project, name: str) -> Import | None:
    loaded = project.specs.get(name)
    if loaded is None:
        return None
    database = project.databases.get(loaded.model.target.database)
    return Import(loaded.model, database.model if database else None, loaded.file)


def iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def dag_models(dag_ids: list[str]) -> dict[str, Any]:
    from airflow.models.dag import DagModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        found = session.scalars(select(DagModel).where(DagModel.dag_id.in_(dag_ids))).all()
        return {
            m.dag_id: {"paused": bool(m.is_paused), "next_run": iso(m.next_dagrun_create_after)}
            for m in found
        }


def _reports(session: Any, dag_id: str, run_ids: list[str]) -> dict[str, dict[str, Any]]:
    from airflow.models.xcom import XComModel
    from sqlalchemy import select

    if not run_ids:
        return {}
    rows = session.execute(
        select(XComModel.run_id, XComModel.value).where(
            XComModel.dag_id == dag_id,
            XComModel.task_id == IMPORT_TASK_ID,
            XComModel.key == "return_value",
            XComModel.run_id.in_(run_ids),
        )
    ).all()
    reports = {}
    for row in rows:
        value = XComModel.deserialize_value(row)
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                continue
        if isinstance(value, dict):
            reports[row.run_id] = value
    return reports


def _run_entry(run: Any, report: dict[str, Any] | None) -> dict[str, Any]:
    summary = (report or {}).get("summary") or {}
    errors = (report or {}).get("error_counts") or {}
    return {
        "run_id": run.run_id,
        "run_type": str(getattr(run.run_type, "value", run.run_type)),
        "state": str(getattr(run.state, "value", run.state)) if run.state is not None else None,
        "start": iso(run.start_date),
        "end": iso(run.end_date),
        "counts": {name: summary.get(name) for name in COUNTS},
        "cursor_before": cut(summary.get("cursor_before")),
        "cursor_after": cut(summary.get("cursor_after")),
        "errors_by_code": dict(sorted(errors.items(), key=lambda item: (-int(item[1]), item[0]))),
    }


def runs(dag_id: str, limit: int) -> list[dict[str, Any]]:
    """The import's last ``limit`` runs, newest first, each with its report's counts."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        found = session.scalars(
            select(DagRun)
            .where(DagRun.dag_id == dag_id)
            .order_by(DagRun.run_after.desc(), DagRun.id.desc())
            .limit(limit)
        ).all()
        reports = _reports(session, dag_id, [r.run_id for r in found])
        return [_run_entry(r, reports.get(r.run_id)) for r in found]


def run_exists(dag_id: str, run_id: str) -> bool:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return (
            session.scalar(select(DagRun.id).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
            is not None
        )


def cursor_text(spec: ImportSpec) -> str | None:
    """The cursor as stored in the Variable; ``start_value`` when it is not set; None without a cursor."""
    from airflow.models import Variable

    from customer_import.cursor import encode

    if spec.source.cursor is None:
        return None
    stored = Variable.get(spec.variable_key, default_var=None)
    return str(stored) if stored not in (None, "") else encode(spec.source.cursor.start_value)


def set_cursor(spec: ImportSpec, text: str) -> str:
    """Validate ``text`` against the cursor's type (``ValueError`` with a message), store it, read back."""
    from airflow.models import Variable

    from customer_import.cursor import decode, encode

    assert spec.source.cursor is not None
    value = decode(text, spec.source.cursor.start_value)
    Variable.set(
        spec.variable_key,
        encode(value),
        description="customer_import cursor ({lastItem}); edit to rewind or skip",
    )
    return str(Variable.get(spec.variable_key))


def audit(event: str, user: Any, dag_id: str, extra: dict[str, Any], run_id: str | None = None) -> None:
    """An entry in Airflow's audit log (Browse > Audit log): who did what to which import."""
    from airflow.models.log import Log
    from airflow.utils.session import create_session

    with create_session() as session:
        session.add(
            Log(
                event=event,
                owner=user.get_name(),
                owner_display_name=user.get_name(),
                dag_id=dag_id,
                run_id=run_id,
                extra=json.dumps(extra, default=str),
            )
        )


def trigger(dag_id: str, user: Any, request: Any) -> str:
    """Queue a manual run through Airflow's own REST API code path (a real DagRun the scheduler runs)."""
    from airflow.api_fastapi.core_api.datamodels.dag_run import TriggerDAGRunPostBody
    from airflow.api_fastapi.core_api.routes.public.dag_run import trigger_dag_run
    from airflow.models.dagbag import DBDagBag
    from airflow.utils.session import create_session

    with create_session() as session:
        run = trigger_dag_run(
            dag_id,
            TriggerDAGRunPostBody(logical_date=None),
            DBDagBag(),
            user,
            session,
            request,
        )
        return str(cast(Any, run).run_id)  # the DagRun (typed as its response model)


def rejected_rows(database: str, import_name: str, run_id: str) -> Iterator[tuple[Any, ...]]:
    """Every rejected row of the run kept in the store (none when the store has no such table yet)."""
    from customer_import.store.connection import open_store
    from customer_import.store.rejections import of_run
    from customer_import.store.tables import Tables

    with open_store() as (dialect, connection):
        tables = Tables(database)
        cursor = connection.cursor()
        try:
            if not dialect.existing_columns(cursor, tables.rejections):  # no run has written yet
                return
            cursor.execute(of_run(dialect, tables), (import_name, run_id))
            while rows := cursor.fetchmany(5000):
                yield from rows
        finally:
            cursor.close()
            connection.rollback()
