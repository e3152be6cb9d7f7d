"""OpenLineage dataset names per DBMS (the e2e test checks the events of a real run)."""

from __future__ import annotations

import pytest
from airflow.models.connection import Connection

from customer_import.lineage import DatasetName, dataset_name, operator_lineage


@pytest.mark.parametrize(
    ("uri", "table", "expected"),
    [
        (
            "postgres://u:p@db.example.com:5433/crm",
            "customers",
            ("postgres://db.example.com:5433", "crm.public.customers"),
        ),
        ("postgres://u:p@db/crm", "sales.customers", ("postgres://db:5432", "crm.sales.customers")),
        ("mysql://u:p@maria:3306/shop", "customers", ("mysql://maria:3306", "shop.customers")),
        ("clickhouse://u:p@ch:9000/analytics", "customers", ("clickhouse://ch:9000", "analytics.customers")),
        ("mssql://u:p@sql:1433/crm", "customers", ("mssql://sql:1433", "crm.dbo.customers")),
        ("oracle://u:p@ora:1521/ORCLPDB1", "CRM.CUSTOMERS", ("oracle://ora:1521", "ORCLPDB1.CRM.CUSTOMERS")),
        ("sqlite:////data/crm.db", "customers", ("file", "/data/crm.db.customers")),
    ],
)
def test_dataset_names_follow_openlineage_naming(uri: str, table: str, expected: tuple[str, str]) -> None:
    assert dataset_name(Connection(uri=uri), table) == DatasetName(*expected)


def test_the_output_carries_the_written_row_count() -> None:
    lineage = operator_lineage(
        DatasetName("mysql://m:3306", "shop.customers"),
        DatasetName("postgres://p:5432", "store.public.customers_profiles"),
        {"created": 5, "updated": 2, "unchanged": 9, "failed": 1},
    )
    assert [(d.namespace, d.name) for d in lineage.inputs] == [("mysql://m:3306", "shop.customers")]
    [output] = lineage.outputs
    assert output.outputFacets["outputStatistics"].rowCount == 7
    assert (
        operator_lineage(None, output_name := DatasetName("file", "x"), None).outputs[0].name
        == output_name.name
    )
