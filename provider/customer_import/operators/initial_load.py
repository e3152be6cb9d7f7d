"""The parallel initial load's operators (``source.initial_load``): plan the partitions, stage one.

The import task (``CustomerImportOperator`` with ``initial_load=True``) writes what they staged; the work
is in ``customer_import.initial_load``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator

from customer_import.operators.import_profiles import run_of, source_of, translated_errors


class PlanInitialLoadOperator(BaseOperator):
    """The run's partitions (a list for ``load_partition.expand``): [] unless the cursor is at start_value."""

    template_fields: Sequence[str] = ("query",)
    template_ext: Sequence[str] = ()
    ui_color = "#f3ead7"

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        database: dict[str, Any],
        query: str,
        store_conn_id: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.database = database
        self.query = query
        self.store_conn_id = store_conn_id

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from customer_import.cursor import VariableCursor
        from customer_import.initial_load import plan
        from customer_import.spec.database import ProfileDatabase
        from customer_import.spec.import_spec import ImportSpec

        spec = ImportSpec.model_validate(self.spec)
        run_id, is_backfill = run_of(context)
        if is_backfill:
            self.log.info("backfill run: no initial load (a backfill reads its data interval)")
            return []
        assert spec.source.cursor is not None
        connection, source = source_of(spec)
        with translated_errors(connection.password, self.store_conn_id):
            return plan(
                spec,
                ProfileDatabase.model_validate(self.database),
                query=self.query,
                source=source,
                cursor_state=VariableCursor(spec.variable_key, spec.source.cursor.start_value),
                run_id=run_id,
                store_conn_id=self.store_conn_id,
            )


class LoadPartitionOperator(BaseOperator):
    """Read, map and stage one partition of the initial load (mapped over the plan's partitions)."""

    template_fields: Sequence[str] = ("query",)
    template_ext: Sequence[str] = ()
    ui_color = "#f3ead7"

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        database: dict[str, Any],
        query: str,
        partition: dict[str, Any],
        store_conn_id: str | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.database = database
        self.query = query
        self.partition = partition
        self.store_conn_id = store_conn_id
        self.batch_size = batch_size

    def execute(self, context: Any) -> dict[str, Any]:
        from customer_import import config
        from customer_import.initial_load import stage_partition
        from customer_import.spec.database import ProfileDatabase
        from customer_import.spec.import_spec import ImportSpec

        spec = ImportSpec.model_validate(self.spec)
        run_id, _ = run_of(context)
        connection, source = source_of(spec)
        with translated_errors(connection.password, self.store_conn_id):
            result = stage_partition(
                spec,
                ProfileDatabase.model_validate(self.database),
                query=self.query,
                source=source,
                partition=self.partition,
                run_id=run_id,
                batch_size=self.batch_size or config.batch_size(),
                store_conn_id=self.store_conn_id,
                mapping_workers=config.mapping_workers(),
            )
        self.log.info(
            "partition %d: %d row(s) read and staged in %d batch(es), %d rejected",
            result["partition"],
            result["read"],
            result["batches"],
            result["rejected"],
        )
        return result
