"""Thin Airflow operators: prepare the profile store, and run one import (the work is in ``importer``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from airflow.sdk import BaseOperator

from customer_import.exceptions import (
    CustomerImportError,
    QueryError,
    SourceError,
    StoreError,
    StoreSchemaError,
)


class SourceUnavailableError(Exception):
    """A transient source failure; Airflow retries the task (``[customer_import] retries``)."""


class StoreUnavailableError(Exception):
    """A transient profile-store failure (the store went away, a deadlock); Airflow retries the task."""


def _scrub(message: str, *secrets: str | None) -> str:
    """Never log a password, even where a driver echoes one back."""
    for secret in secrets:
        if secret:
            message = message.replace(secret, "***")
    return message


def _store_password(conn_id: str | None) -> str | None:
    from customer_import.hooks.connections import find_connection
    from customer_import.store.connection import DEFAULT_CONN_ID

    try:
        connection = find_connection(conn_id or DEFAULT_CONN_ID)
    except Exception:  # the error being reported is the one that counts
        return None
    return getattr(connection, "password", None) if connection is not None else None


def _store_failure(error: StoreError, conn_id: str | None, *secrets: str | None) -> BaseException:
    """A fatal store error fails the task at once (a permission, a missing database: retrying repeats
    it); a transient one is retried by Airflow. The message names the store connection and the cause."""
    message = _scrub(str(error), _store_password(conn_id), *secrets)
    return _fail(message) if error.fatal else StoreUnavailableError(message)


def _fail(message: str) -> BaseException:
    """An error retrying cannot fix (bad spec, refused query, schema conflict)."""
    from airflow.sdk.exceptions import AirflowFailException

    return AirflowFailException(message)


PLAN_TASK_ID = "plan_initial_load"
PARTITION_TASK_ID = "load_partition"


def source_of(spec: Any) -> tuple[Any, Any]:
    """The spec's source connection (from Airflow) and its dialect; a missing or unknown one fails."""
    from airflow.sdk import BaseHook

    from customer_import.sources.dialects import source_dialect_for

    try:
        connection = BaseHook.get_connection(spec.source.conn_id)
    except Exception as exc:
        raise _fail(f"source connection {spec.source.conn_id!r} is not defined in Airflow: {exc}") from exc
    try:
        return connection, source_dialect_for(connection.conn_type or "")
    except CustomerImportError as exc:
        raise _fail(f"source connection {spec.source.conn_id!r}: {exc}") from exc


def run_of(context: Any) -> tuple[str, bool]:
    """The task's run id, and whether the run is a backfill."""
    dag_run = context.get("dag_run")
    run_type = getattr(dag_run, "run_type", None)
    # Under the Task SDK, run_type is an enum whose str() is 'DagRunType.BACKFILL': compare its value.
    is_backfill = str(getattr(run_type, "value", run_type) or "") == "backfill"
    return str(getattr(dag_run, "run_id", "") or context.get("run_id") or "manual"), is_backfill


@contextmanager
def translated_errors(source_password: str | None, store_conn_id: str | None) -> Iterator[None]:
    """Errors as Airflow should treat them: AirflowFailException for what retrying cannot fix (a refused
    query, missing columns, a fatal driver error), a retried exception for a transient source or store
    failure; messages name the connection and never hold a password."""
    from customer_import.geo.locator import GeoDatabaseError
    from customer_import.mapping.mapper import MissingColumnsError

    try:
        yield
    except (QueryError, MissingColumnsError, StoreSchemaError, GeoDatabaseError) as exc:
        raise _fail(str(exc)) from exc
    except SourceError as exc:
        message = _scrub(str(exc), source_password, _store_password(store_conn_id))
        if exc.fatal:
            raise _fail(message) from None
        raise SourceUnavailableError(message) from None
    except StoreError as exc:
        raise _store_failure(exc, store_conn_id, source_password) from None


class PrepareProfileStoreOperator(BaseOperator):
    """Create or evolve the profile database's tables in the store (idempotent, keeps all data)."""

    ui_color = "#e8f4ea"

    def __init__(self, *, database: dict[str, Any], store_conn_id: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.store_conn_id = store_conn_id

    def execute(self, context: Any) -> list[str]:
        from customer_import.spec.database import ProfileDatabase
        from customer_import.store.connection import open_store
        from customer_import.store.writer import ensure_schema

        database = ProfileDatabase.model_validate(self.database)
        try:
            with open_store(self.store_conn_id) as (dialect, connection):
                changes = [c.description for c in ensure_schema(dialect, connection, database)]
        except StoreSchemaError as exc:
            raise _fail(str(exc)) from exc
        except StoreError as exc:
            raise _store_failure(exc, self.store_conn_id) from None
        for change in changes:
            self.log.info("profile database %s: %s", database.name, change)
        return changes


class SpecTaskOperator(BaseOperator):
    """What the tasks that run an import spec share: the spec and profile database (as dicts, validated
    when the task runs), the source query (rendered by Jinja), the store connection and the batch size."""

    template_fields: Sequence[str] = ("query",)
    template_ext: Sequence[str] = ()

    def __init__(
        self,
        *,
        spec: dict[str, Any],
        database: dict[str, Any],
        query: str,
        store_conn_id: str | None = None,
        batch_size: int | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.database = database
        self.query = query
        self.store_conn_id = store_conn_id
        self.batch_size = batch_size

    def models(self) -> tuple[Any, Any]:
        """The validated ``(ImportSpec, ProfileDatabase)``."""
        from customer_import.spec.database import ProfileDatabase
        from customer_import.spec.import_spec import ImportSpec

        return ImportSpec.model_validate(self.spec), ProfileDatabase.model_validate(self.database)


class CustomerImportOperator(SpecTaskOperator):
    """Run one import spec: extract -> map -> match -> upsert; push the run's report to XCom."""

    ui_color = "#dbe9f6"

    def __init__(self, *, initial_load: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.initial_load = initial_load  # write the partitions of plan_initial_load first, if it made any

    def execute(self, context: Any) -> dict[str, Any]:
        from customer_import import config
        from customer_import.cursor import CursorState, MemoryCursor, VariableCursor
        from customer_import.importer import run_import

        spec, database = self.models()
        connection, source = source_of(spec)
        from customer_import.spec.checks import spec_warnings

        for _, warning in spec_warnings(spec, source.sqlglot_dialect):
            self.log.warning("import %s: %s", spec.name, warning)
        run_id, is_backfill = run_of(context)
        start = spec.source.cursor.start_value if spec.source.cursor else None
        cursor: CursorState
        if is_backfill:
            # Backfill runs use their data interval (Jinja in the query) and never move the shared cursor.
            self.log.info("backfill run: cursor starts at start_value %r and is not saved", start)
            cursor = MemoryCursor(start)
        else:
            cursor = VariableCursor(spec.variable_key, start)
        staged = None
        if self.initial_load and not is_backfill:
            from customer_import.initial_load import staged_load

            ti = context["ti"]
            partitions = ti.xcom_pull(task_ids=PLAN_TASK_ID)
            results = ti.xcom_pull(task_ids=PARTITION_TASK_ID) if partitions else None
            staged = staged_load(partitions, list(results or ()), start)
        with translated_errors(connection.password, self.store_conn_id):
            report = run_import(
                spec,
                database,
                query=self.query,
                source=source,
                cursor_state=cursor,
                run_id=run_id,
                batch_size=self.batch_size or config.batch_size(),
                store_conn_id=self.store_conn_id,
                mapping_workers=config.mapping_workers(),
                fingerprint_cache_mb=config.fingerprint_cache_mb(),
                initial_load=staged,
            )
        result = report.to_dict()
        self._summary = result["summary"]  # for the OpenLineage facets on complete
        self.log.info("%s", report.summary_line())
        from customer_import.metrics import emit

        emit(spec.name, result["summary"], float(result["summary"]["duration_seconds"]))
        for code, count in sorted(report.error_counts.items()):
            self.log.info("rejected %d row(s): %s", count, code)
        outlet_events = context.get("outlet_events")
        if outlet_events is not None:
            for outlet in self.outlets:
                outlet_events[outlet].extra = {
                    "import_name": spec.name,
                    "run_id": run_id,
                    **result["summary"],
                }
        limit = spec.reports.max_error_rate
        if limit is not None and report.error_rate > limit:
            context["ti"].xcom_push(key="return_value", value=result)
            raise _fail(
                f"{report.failed} of {report.read} rows rejected ({report.error_rate:.1%}), more than "
                f"max_error_rate {limit:.1%}; the good rows were written and the cursor advanced; see the report"
            )
        return result

    def get_openlineage_facets_on_start(self) -> Any:
        """OpenLineage (``apache-airflow-providers-openlineage``): the source table read, the profile table."""
        return self._lineage(None)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """As on start, with the run's counts as the output's ``outputStatistics`` facet."""
        return self._lineage(getattr(self, "_summary", None))

    def _lineage(self, summary: dict[str, Any] | None) -> Any:
        from customer_import.config import embedded_store_path
        from customer_import.hooks.connections import find_connection
        from customer_import.lineage import dataset_name, embedded_store_dataset, operator_lineage
        from customer_import.spec.import_spec import ImportSpec
        from customer_import.store.connection import DEFAULT_CONN_ID

        spec = ImportSpec.model_validate(self.spec)
        source_conn = find_connection(spec.source.conn_id)
        source = dataset_name(source_conn, spec.source.table) if spec.source.table and source_conn else None
        table = f"{spec.target.database}_profiles"
        store_conn = find_connection(self.store_conn_id or DEFAULT_CONN_ID)
        output = (
            dataset_name(store_conn, table)
            if store_conn is not None
            else embedded_store_dataset(str(embedded_store_path()), table)
        )
        return operator_lineage(source, output, summary)
