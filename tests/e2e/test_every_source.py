"""Each server source through Airflow for real: an Airflow connection URI, the factory's DAG, dag.test()."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import airflow_conn_env
from tests.e2e.conftest import run_dag, variable
from tests.integration.test_sources import ROWS, seed_clickhouse, seed_mysql, seed_postgres

pytestmark = pytest.mark.e2e
SEEDS = {"postgres": seed_postgres, "mysql": seed_mysql, "clickhouse": seed_clickhouse}
FIXTURES = {"postgres": "pg_database", "mysql": "mysql_database", "clickhouse": "clickhouse_database"}


@pytest.mark.parametrize(
    "kind",
    [
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("clickhouse", marks=pytest.mark.clickhouse),
    ],
)
def test_an_import_from_each_server_runs_in_airflow(
    kind: str, project: Any, sqlite_conn: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    uri = request.getfixturevalue(FIXTURES[kind])
    SEEDS[kind](uri)
    monkeypatch.setenv(airflow_conn_env("crm_src"), uri)
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__BATCH_SIZE", "4")
    sqlite_conn("profile_store_default")
    project(
        {
            "name": f"from_{kind}",
            "target": {"database": "customers", "matching": {"by": "custom", "field": "crm_id"}},
            "source": {
                "conn_id": "crm_src",
                "query": "SELECT id, email, first_name, ltv, seen_at FROM customers WHERE id > {lastItem} "
                "AND (email IS NULL OR email NOT LIKE '%nothing%') ORDER BY id LIMIT 10",
                "cursor": {"column": "id", "start_value": 0},
            },
            "mapping": [
                {"field": "crm_id", "column": "id"},
                {"field": "email", "column": "email"},
                {"field": "first_name", "column": "first_name"},
                {"field": "ltv", "column": "ltv"},
                {"field": "last_order_at", "column": "seen_at"},
            ],
        }
    )
    state, report = run_dag(f"from_{kind}")
    assert state == "success"
    assert report is not None
    assert report["summary"]["read"] == 10
    assert report["summary"]["batches"] == 3
    assert variable(f"customer_import.from_{kind}.last_item") == "10"
    state, report = run_dag(f"from_{kind}")
    assert state == "success"
    assert report is not None
    assert report["summary"]["read"] == len(ROWS) - 10
    assert variable(f"customer_import.from_{kind}.last_item") == str(len(ROWS))
