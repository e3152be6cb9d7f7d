"""End-to-end set-up: a migrated Airflow metadata DB (SQLite) and a project folder of specs per test."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO


@pytest.fixture(scope="session", autouse=True)
def airflow_db() -> None:
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        check=True,
        capture_output=True,
        env=os.environ.copy(),
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Write specs (dicts) and the repo's profile databases into a fresh project the factory reads."""
    specs = tmp_path / "import_specs"
    databases = tmp_path / "profile_databases"
    specs.mkdir()
    databases.mkdir()
    for file in (REPO / "include" / "profile_databases").glob("*.yaml"):
        (databases / file.name).write_text(file.read_text())
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__SPECS_FOLDER", str(specs))
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__DATABASES_FOLDER", str(databases))
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__RETRIES", "0")
    _forget_cursors()

    def write(*spec_dicts: dict[str, Any], raw: dict[str, str] | None = None) -> Path:
        for spec in spec_dicts:
            (specs / f"{spec['name']}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        for name, text in (raw or {}).items():
            (specs / name).write_text(text)
        return specs

    return write


def _forget_cursors() -> None:
    """Each test starts with no cursor Variables (the metadata DB is shared by the session)."""
    from airflow.models import Variable
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Variable).where(Variable.key.like("customer_import.%")))


def load_dagbag() -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(str(REPO / "dags"))


def run_dag(dag_id: str) -> tuple[str, dict[str, Any] | None]:
    """Run the DAG with dag.test() (a manual run, no logical date); return its state and the XCom report."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    bag = load_dagbag()
    assert not bag.import_errors, bag.import_errors
    run = bag.dags[dag_id].test(logical_date=None)
    with create_session() as session:
        value = session.scalar(
            select(XComModel.value).where(
                XComModel.dag_id == dag_id,
                XComModel.run_id == run.run_id,
                XComModel.task_id == "import_profiles",
                XComModel.key == "return_value",
            )
        )
    return str(run.state), value


def variable(key: str) -> str | None:
    from airflow.models import Variable

    return Variable.get(key, default_var=None)


def set_variable(key: str, value: str) -> None:
    from airflow.models import Variable

    Variable.set(key, value)
