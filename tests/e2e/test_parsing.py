"""Parsing the DAG file reads spec files only: no driver is imported, no connection or Variable is read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.e2e
DRIVERS = (
    "psycopg",
    "psycopg2",
    "MySQLdb",
    "pymssql",
    "oracledb",
    "clickhouse_driver",
    "airflow_clickhouse_plugin",
)

PROBE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
from airflow.sdk import BaseHook, Variable

def refuse(*args, **kwargs):
    raise RuntimeError("DAG parsing must not read connections or Variables")

BaseHook.get_connection = classmethod(refuse)
Variable.get = staticmethod(refuse)
bag = DagBag(sys.argv[1])
print(json.dumps({"dags": sorted(bag.dag_ids), "errors": {k: str(v)[:300] for k, v in bag.import_errors.items()},
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in sys.argv[2].split(","))}))
"""


def test_parsing_imports_no_driver_and_reads_no_connection_or_variable() -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(REPO / "dags"), ",".join(DRIVERS)],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        check=True,
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert "demo_crm_customers" in result["dags"]
    assert "example_clickhouse_customers" in result["dags"]
    assert result["modules"] == []
