"""Map whole batches, in this process or in a worker process while this one reads and writes.

Mapping and validation are pure Python and take most of an import's time (see benchmarks/). With
``[customer_import] mapping_workers`` > 0, batches are mapped in that many worker processes while the
task process extracts the next batch and writes the previous one, so two cores work at once. The order of
batches, and so of cursor updates, is kept.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from customer_import.mapping.errors import Rejection
from customer_import.mapping.mapper import Record, RowMapper
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec

Mapped = list[Record | Rejection]


def map_rows(mapper: RowMapper, rows: Sequence[tuple[Any, ...]], row_numbers: Sequence[int]) -> Mapped:
    return mapper.map_rows(rows, row_numbers)


class InlineBatchMapper:
    """Maps in the calling process (the default)."""

    def __init__(self, spec: ImportSpec, database: ProfileDatabase, locator: Any = None) -> None:
        self._spec, self._database, self._locator = spec, database, locator
        self._mappers: dict[tuple[str, ...], RowMapper] = {}

    def row_mapper(self, columns: tuple[str, ...]) -> RowMapper:
        if columns not in self._mappers:
            self._mappers[columns] = RowMapper(self._spec, self._database, columns, locator=self._locator)
        return self._mappers[columns]

    def submit(
        self, columns: tuple[str, ...], rows: list[tuple[Any, ...]], row_numbers: Sequence[int]
    ) -> Callable[[], Mapped]:
        result = map_rows(self.row_mapper(columns), rows, row_numbers)
        return lambda: result

    def close(self) -> None:
        self._mappers.clear()


# --- worker process side ---------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(spec_data: dict[str, Any], database_data: dict[str, Any]) -> None:
    from customer_import.geo.locator import locator_for

    spec = ImportSpec.model_validate(spec_data)
    _worker.update(
        spec=spec, database=ProfileDatabase.model_validate(database_data), locator=locator_for(spec)
    )
    _worker["mappers"] = {}


def _map_in_worker(
    columns: tuple[str, ...], rows: list[tuple[Any, ...]], row_numbers: Sequence[int]
) -> Mapped:
    mappers: dict[tuple[str, ...], RowMapper] = _worker["mappers"]
    if columns not in mappers:
        mappers[columns] = RowMapper(
            _worker["spec"], _worker["database"], columns, locator=_worker["locator"]
        )
    return map_rows(mappers[columns], rows, row_numbers)


class ProcessBatchMapper:
    """Maps in worker processes (spawned: nothing of the task process is shared but the spec)."""

    def __init__(self, spec: ImportSpec, database: ProfileDatabase, workers: int) -> None:
        import multiprocessing

        self._local = InlineBatchMapper(spec, database)  # reads the keys of known rows here
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(spec.model_dump(mode="json"), database.model_dump(mode="json")),
        )

    def submit(
        self, columns: tuple[str, ...], rows: list[tuple[Any, ...]], row_numbers: Sequence[int]
    ) -> Callable[[], Mapped]:
        future: Future[Mapped] = self._pool.submit(_map_in_worker, columns, rows, row_numbers)
        return future.result

    def row_mapper(self, columns: tuple[str, ...]) -> RowMapper:
        return self._local.row_mapper(columns)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def batch_mapper(
    spec: ImportSpec, database: ProfileDatabase, locator: Any, workers: int
) -> InlineBatchMapper | ProcessBatchMapper:
    if workers > 0:
        return ProcessBatchMapper(spec, database, workers)
    return InlineBatchMapper(spec, database, locator)
