"""Map whole batches, in this process or in a worker process while this one reads and writes.

Mapping and validation are pure Python and take most of an import's time (see benchmarks/). With
``[customer_import] mapping_workers`` > 0, batches are mapped in that many worker processes while the
task process extracts the next batch and writes the previous one, so two cores work at once. The order of
batches, and so of cursor updates, is kept.

Batches are mapped column-wise (:mod:`customer_import.mapping.columnar`, the same output as row by row)
unless ``[customer_import] columnar_mapping`` is false.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from customer_import.fingerprints import RowFingerprints, fingerprints_apply
from customer_import.geo.locator import GeoLocator, locator_for
from customer_import.mapping.columnar import ColumnarMapper
from customer_import.mapping.errors import Rejection
from customer_import.mapping.mapper import Record, RowMapper
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec

Mapped = list[Record | Rejection]


def map_rows(
    mapper: RowMapper | ColumnarMapper, rows: Sequence[tuple[Any, ...]], row_numbers: Sequence[int]
) -> Mapped:
    return mapper.map_rows(rows, row_numbers)


class InlineBatchMapper:
    """Maps in the calling process (the default)."""

    def __init__(
        self,
        spec: ImportSpec,
        database: ProfileDatabase,
        locator: Any = None,
        columnar: bool = True,
        vectorised: bool = False,
    ) -> None:
        self._spec, self._database, self._locator = spec, database, locator
        self._columnar, self._vectorised = columnar, vectorised
        self._mappers: dict[tuple[str, ...], RowMapper] = {}
        self._batch_mappers: dict[tuple[str, ...], RowMapper | ColumnarMapper] = {}

    def row_mapper(self, columns: tuple[str, ...]) -> RowMapper:
        """The row mapper of this result shape (with its column-wise key reader, when columnar)."""
        if columns not in self._mappers:
            rows = RowMapper(self._spec, self._database, columns, locator=self._locator)
            self._mappers[columns] = rows
            columnar = (
                ColumnarMapper(self._spec, self._database, rows, self._vectorised) if self._columnar else None
            )
            self._batch_mappers[columns] = columnar if columnar is not None and columnar.supported else rows
        return self._mappers[columns]

    def batch_mapper(self, columns: tuple[str, ...]) -> RowMapper | ColumnarMapper:
        """What maps a whole batch of this shape: column-wise where it can, else the row mapper."""
        self.row_mapper(columns)
        return self._batch_mappers[columns]

    def submit(
        self, columns: tuple[str, ...], rows: list[tuple[Any, ...]], row_numbers: Sequence[int]
    ) -> Callable[[], Mapped]:
        result = map_rows(self.batch_mapper(columns), rows, row_numbers)
        return lambda: result

    def close(self) -> None:
        self._mappers.clear()
        self._batch_mappers.clear()


# --- worker process side ---------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(spec_data: dict[str, Any], database_data: dict[str, Any], columnar: bool = True) -> None:
    from customer_import.geo.locator import locator_for

    spec = ImportSpec.model_validate(spec_data)
    database = ProfileDatabase.model_validate(database_data)
    # No other thread here: Arrow's kernels can release the GIL without waiting to get it back.
    _worker["mapper"] = InlineBatchMapper(spec, database, locator_for(spec), columnar, vectorised=True)


def _map_in_worker(
    columns: tuple[str, ...], rows: list[tuple[Any, ...]], row_numbers: Sequence[int]
) -> Mapped:
    mapper: InlineBatchMapper = _worker["mapper"]
    return map_rows(mapper.batch_mapper(columns), rows, row_numbers)


class ProcessBatchMapper:
    """Maps in worker processes (spawned: nothing of the task process is shared but the spec)."""

    def __init__(
        self, spec: ImportSpec, database: ProfileDatabase, workers: int, columnar: bool = True
    ) -> None:
        import multiprocessing

        # Reads the keys of known rows here.
        self._local = InlineBatchMapper(spec, database, columnar=columnar)
        self._pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
            initargs=(spec.model_dump(mode="json"), database.model_dump(mode="json"), columnar),
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
    spec: ImportSpec,
    database: ProfileDatabase,
    locator: Any,
    workers: int,
    columnar: bool | None = None,
    vectorised: bool = False,
) -> InlineBatchMapper | ProcessBatchMapper:
    """The run's batch mapper; ``columnar`` None reads ``[customer_import] columnar_mapping``.
    ``vectorised``: Arrow kernels in this process too (``ColumnarMapper``), for a run whose batches are
    fetched without holding the GIL (the columnar reader, ``sources/arrow_text.py``)."""
    if columnar is None:
        from customer_import.config import columnar_mapping

        columnar = columnar_mapping()
    if workers > 0:
        return ProcessBatchMapper(spec, database, workers, columnar)
    return InlineBatchMapper(spec, database, locator, columnar, vectorised)


def run_mapping(
    spec: ImportSpec, database: ProfileDatabase, workers: int, vectorised: bool = False
) -> tuple[GeoLocator | None, InlineBatchMapper | ProcessBatchMapper, RowFingerprints | None]:
    """What one run (or partition) maps with: the IP locator (read once, before anything is written: a
    missing file fails here), the batch mapper and, where the import fingerprints its rows, the
    fingerprinter. The caller closes the mapper."""
    locator = locator_for(spec)
    mapper = batch_mapper(spec, database, locator, workers, vectorised=vectorised)
    fingerprinter = RowFingerprints(spec, database, locator) if fingerprints_apply(spec) else None
    return locator, mapper, fingerprinter
