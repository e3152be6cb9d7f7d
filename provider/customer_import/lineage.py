"""OpenLineage datasets of a run: the source table it read and the profile table it wrote.

Names follow OpenLineage's dataset naming (namespace ``<scheme>://<host>:<port>``, name
``<database>.<schema>.<table>`` where the DBMS has schemas); a SQLite file is ``file`` + its path. The
output carries the run's counts as its ``outputStatistics`` facet (``rowCount``: profiles created or
updated). Used by the operator's ``get_openlineage_facets_on_start/complete`` when
``apache-airflow-providers-openlineage`` is installed; without it, nothing here is imported.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# conn_type -> (namespace scheme, default port, default schema or None where the name has no schema part)
_SCHEMES: dict[str, tuple[str, int | None, str | None]] = {
    "postgres": ("postgres", 5432, "public"),
    "mysql": ("mysql", 3306, None),
    "clickhouse": ("clickhouse", 9000, None),
    "mssql": ("mssql", 1433, "dbo"),
    "oracle": ("oracle", 1521, None),
}


@dataclass(frozen=True)
class DatasetName:
    namespace: str
    name: str


def dataset_name(connection: Any, table: str) -> DatasetName:
    """The dataset of ``table`` (``schema.table`` or a bare name) on an Airflow connection."""
    conn_type = str(getattr(connection, "conn_type", "") or "")
    if conn_type == "sqlite":
        # sqlite:////abs/file.db keeps the path as the schema (the host, in older URIs)
        path = str(getattr(connection, "host", "") or getattr(connection, "schema", "") or "")
        return DatasetName("file", f"{path}.{table}" if path else table)
    scheme, default_port, default_schema = _SCHEMES.get(conn_type, (conn_type or "unknown", None, None))
    host = str(getattr(connection, "host", "") or "localhost")
    port = getattr(connection, "port", None) or default_port
    namespace = f"{scheme}://{host}" + (f":{port}" if port else "")
    database = str(getattr(connection, "schema", "") or "")
    parts = table.split(".")
    if default_schema is not None and len(parts) == 1:
        parts = [default_schema, *parts]
    name = ".".join([database, *parts] if database else parts)
    return DatasetName(namespace, name)


def embedded_store_dataset(path: str, table: str) -> DatasetName:
    return DatasetName("file", f"{path}.{table}")


def operator_lineage(source: DatasetName | None, output: DatasetName, summary: dict[str, Any] | None) -> Any:
    """The provider's ``OperatorLineage`` for these datasets (``summary``: the run's counts, if it ended)."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset
    from openlineage.client.generated.output_statistics_output_dataset import (
        OutputStatisticsOutputDatasetFacet,
    )

    output_facets: dict[str, Any] = {}
    if summary is not None:
        written = int(summary.get("created") or 0) + int(summary.get("updated") or 0)
        output_facets["outputStatistics"] = OutputStatisticsOutputDatasetFacet(rowCount=written)
    return OperatorLineage(
        inputs=[InputDataset(namespace=source.namespace, name=source.name)] if source else [],
        outputs=[OutputDataset(namespace=output.namespace, name=output.name, outputFacets=output_facets)],
    )
