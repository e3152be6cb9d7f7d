"""The parallel initial load's operators (``source.initial_load``): plan the partitions, stage one.

The import task (``CustomerImportOperator`` with ``initial_load=True``) writes what they staged; the work
is in ``customer_import.initial_load``.
"""

from __future__ import annotations

from typing import Any

from customer_import.operators.import_profiles import SpecTaskOperator, run_of, source_of, translated_errors


class PlanInitialLoadOperator(SpecTaskOperator):
    """The run's partitions (a list for ``load_partition.expand``): [] unless the cursor is at start_value."""

    ui_color = "#f3ead7"

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from customer_import.cursor import VariableCursor
        from customer_import.initial_load import plan

        spec, database = self.models()
        run_id, is_backfill = run_of(context)
        if is_backfill:
            self.log.info("backfill run: no initial load (a backfill reads its data interval)")
            return []
        assert spec.source.cursor is not None
        connection, source = source_of(spec)
        with translated_errors(connection.password, self.store_conn_id):
            return plan(
                spec,
                database,
                query=self.query,
                source=source,
                cursor_state=VariableCursor(spec.variable_key, spec.source.cursor.start_value),
                run_id=run_id,
                store_conn_id=self.store_conn_id,
            )


class LoadPartitionOperator(SpecTaskOperator):
    """Read, map and stage one partition of the initial load (mapped over the plan's partitions)."""

    ui_color = "#f3ead7"

    def __init__(self, *, partition: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.partition = partition

    def execute(self, context: Any) -> dict[str, Any]:
        from customer_import import config
        from customer_import.initial_load import stage_partition

        spec, database = self.models()
        run_id, _ = run_of(context)
        connection, source = source_of(spec)
        with translated_errors(connection.password, self.store_conn_id):
            result = stage_partition(
                spec,
                database,
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
