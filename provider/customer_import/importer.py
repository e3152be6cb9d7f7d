"""One run of an import: extract parts in batches, map, de-duplicate keys, match and write, advance the
cursor over what is committed (never past a value with uncommitted rows: ``cursor.PartProgress``,
decision record 0005), and account for every row in the report.

Nothing here knows Airflow beyond the cursor state it is given: the operator supplies it.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from itertools import compress
from operator import attrgetter, is_
from typing import Any, TypeVar

import numpy as np

from customer_import import config
from customer_import.config import DEFAULT_FINGERPRINT_CACHE_MB
from customer_import.cursor import CursorState, PartProgress, decode
from customer_import.exceptions import QueryError
from customer_import.fingerprints import (
    BatchFingerprints,
    RowFingerprints,
    StoredFingerprints,
    fingerprints_apply,
)
from customer_import.geo.locator import fields_to_fill
from customer_import.known_rejections import KnownRejections
from customer_import.mapping.batches import InlineBatchMapper, Mapped, ProcessBatchMapper, run_mapping
from customer_import.mapping.errors import AMBIGUOUS_MATCH, DUPLICATE_KEY, Rejection
from customer_import.mapping.mapper import Known, Record, find_column
from customer_import.report import CONTACT_FIELDS, RunReport
from customer_import.sources.arrow_text import ArrowRows
from customer_import.sources.cursor_shape import CursorShape, cursor_shape
from customer_import.sources.dialects import SourceDialect
from customer_import.sources.extract import ArrowBatch, Batch, extract_part
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import DuplicateKeys, MatchBy
from customer_import.store import batch_sql, staged_batches
from customer_import.store.connection import open_store
from customer_import.store.staged_batches import StagedBatches, StagedLoad
from customer_import.store.writer import KeptRejection, ProfileWriter, ensure_schema

log = logging.getLogger(__name__)

Keyed = TypeVar("Keyed", Record, Known, Record | Known)
_KEY = attrgetter("key", "key2")
_KEY1 = attrgetter("key")
_ROW_NO = attrgetter("row_no")
_REJECTED_ROW = attrgetter("row")
_is_none = partial(is_, None)


class DuplicateKeyFilter:
    """``prevent_duplication.duplicate_keys`` within one part (one query execution).

    Within a batch: ``last`` keeps the last row of a key, ``first`` the first, ``reject`` rejects them all.
    Across batches of the part, ``first`` skips and ``reject`` rejects keys already written by an earlier
    batch (that earlier row stays written); ``last`` lets the later row update the profile again.
    """

    def __init__(self, policy: DuplicateKeys, *, single_key: bool = False) -> None:
        """``single_key``: the records have no second key (``key2`` always None): the key alone is compared."""
        self.policy = policy
        self.seen: set[Any] = set()
        self._key = _KEY1 if single_key else _KEY

    def apply(self, records: Sequence[Keyed]) -> tuple[list[Keyed], list[Keyed], list[Keyed]]:
        """Split a batch (in source order) into (kept, skipped, rejected)."""
        keys = list(map(self._key, records))
        count = len(keys)
        seen = self.seen
        if self.policy is DuplicateKeys.LAST:
            winner = dict(zip(keys, range(count), strict=True))  # each key's last row
            if len(winner) == count:
                return list(records), [], []
            lost = sorted(set(range(count)).difference(winner.values()))  # earlier rows of a key
            winners = bytearray(b"\x01") * count
            for index in lost:
                winners[index] = 0
            return list(compress(records, winners)), [records[i] for i in lost], []
        if self.policy is DuplicateKeys.FIRST:
            winner = dict(zip(reversed(keys), range(count - 1, -1, -1), strict=True))  # each key's first
            if len(winner) == count and seen.isdisjoint(winner):
                seen.update(winner)
                return list(records), [], []
            keep = [winner[k] == i and k not in seen for i, k in enumerate(keys)]
            seen.update(winner)
            return list(compress(records, keep)), [r for r, k in zip(records, keep, strict=True) if not k], []
        repeats = Counter(keys)  # reject: every row of a repeated key, or of a key an earlier batch had
        keep = [repeats[k] == 1 and k not in seen for k in keys]
        seen.update(repeats)
        return list(compress(records, keep)), [], [r for r, k in zip(records, keep, strict=True) if not k]


def _duplicate_filter(spec: ImportSpec) -> DuplicateKeyFilter:
    """A part's duplicate-key filter (only push-subscription matching has a second key)."""
    single = spec.target.matching.by is not MatchBy.PUSH_SUBSCRIPTION
    return DuplicateKeyFilter(spec.prevent_duplication.duplicate_keys, single_key=single)


@dataclass
class _Pending:
    """A batch read and being mapped: its mapped rows (when ready), known rows and fingerprints."""

    mapped: Callable[[], Mapped]
    known: list[Known] = field(default_factory=list)
    fingerprints: Mapping[int, bytes] = field(default_factory=dict)
    batch: Batch | None = None  # kept while rows are known: one may have to be mapped after all
    first_row: int = 0
    remapped: list[Callable[[], Mapped]] = field(default_factory=list)
    rows: Sequence[tuple[Any, ...]] = ()  # the batch as read (for the cursor)
    columns: tuple[str, ...] = ()
    rejected: list[Rejection] = field(default_factory=list)  # known rejections: rows not mapped

    def all_mapped(self) -> Mapped:
        mapped = self.mapped()
        if self.remapped or self.rejected:
            return [*mapped, *(item for more in self.remapped for item in more()), *self.rejected]
        return mapped

    def recheck(self, replaced: list[bytes], mapper: InlineBatchMapper | ProcessBatchMapper) -> None:
        """Map the known rows whose fingerprints the batch before has just replaced (see _Run.part): they
        were looked up before that batch was written, and these are all it took off stored profiles."""
        if not self.known or self.batch is None or not replaced:
            return
        assert isinstance(self.fingerprints, BatchFingerprints)
        numbers = np.fromiter(map(_ROW_NO, self.known), dtype=np.int64, count=len(self.known))
        gone = self.fingerprints.among(numbers, replaced)
        if not gone.any():
            return
        stale = numbers[gone].tolist()
        self.known = list(compress(self.known, (~gone).tolist()))
        rows = _take(self.batch, [n - self.first_row for n in stale])
        self.remapped.append(mapper.submit(self.batch.columns, rows, stale))


def _submit(
    mapper: InlineBatchMapper | ProcessBatchMapper,
    batch: Batch,
    row_numbers: range,
    fingerprinter: RowFingerprints | None,
    writer: ProfileWriter,
    stored: StoredFingerprints | None,
    known_rejections: KnownRejections | None = None,
) -> _Pending:
    """Start mapping a batch; with fingerprints, rows a stored profile already holds are only keyed (from
    an ``ArrowBatch``, only their key and cursor columns are made Python values), and rows an earlier run
    rejected for their values are rejected again without mapping (``known_rejections``)."""
    if fingerprinter is None:
        return _Pending(mapper.submit(batch.columns, batch.row_list(), row_numbers))
    if isinstance(batch, ArrowBatch):
        data = fingerprinter.of_arrow(batch.columns, batch.type_oids, batch.arrow)
    else:
        data = b"".join(fingerprinter.of(batch.columns, batch.rows))
    prints = BatchFingerprints(row_numbers.start, data)
    if stored is not None:
        hits = stored.known_pairs(prints.pairs())
    else:
        each = list(prints.values())
        in_store = writer.known_fingerprints(each)
        hits = np.fromiter((p in in_store for p in each), dtype=np.bool_, count=len(each))
    row_mapper = mapper.row_mapper(batch.columns)
    positions = np.flatnonzero(hits)
    numbered = (positions + row_numbers.start).tolist()
    read = None
    if isinstance(batch.rows, ArrowRows):  # only the key and cursor columns become Python values
        columns = batch.rows.columns(positions.tolist(), row_mapper.known_columns)
        read = row_mapper.known_from_columns(columns, numbered)
    if read is None:
        read = row_mapper.known_rows(_take(batch, positions.tolist(), row_mapper.known_columns), numbered)
    known: list[Known] = list(filter(None, read))  # a Known is a non-empty tuple; None: key unreadable
    to_map: list[tuple[Any, ...]] = []
    numbers: list[int] = []
    rejected: list[Rejection] = []  # known rejections
    if len(known) < len(batch.rows):  # rows not known, or whose key cannot be read (mapped: rejected)
        unread = np.fromiter(map(_is_none, read), dtype=np.bool_, count=len(read))
        hits[positions[unread]] = False
        missing = np.flatnonzero(~hits)
        if known_rejections:
            again, found = known_rejections.find(prints, missing + row_numbers.start)
            rejected.extend(found)
            missing = missing[~again]
        numbers = (missing + row_numbers.start).tolist()
        to_map = _take(batch, missing.tolist())
    submitted = mapper.submit(batch.columns, to_map, numbers)
    return _Pending(submitted, known, prints, batch if known else None, row_numbers.start, rejected=rejected)


def _take(
    batch: Batch, positions: Sequence[int], only: frozenset[int] | None = None
) -> list[tuple[Any, ...]]:
    """A batch's rows at these positions (``only``: the columns that must hold values; an ArrowBatch
    leaves the others None instead of converting them)."""
    rows = batch.rows
    if isinstance(rows, ArrowRows):
        return rows.take(positions, only)
    return [rows[p] for p in positions]


def run_import(
    spec: ImportSpec,
    database: ProfileDatabase,
    *,
    query: str,
    source: SourceDialect,
    cursor_state: CursorState,
    run_id: str,
    batch_size: int,
    store_conn_id: str | None = None,
    mapping_workers: int = 0,
    fingerprint_cache_mb: int = DEFAULT_FINGERPRINT_CACHE_MB,
    keep_runs: int | None = None,
    initial_load: StagedLoad | None = None,
) -> RunReport:
    """Run one import; the report is complete even when the run is to be failed by max_error_rate.

    Every rejected row is kept in the store's ``<database>_rejections`` with the batch it belongs to;
    ``keep_runs`` (default ``[customer_import] keep_runs``) runs of the import keep theirs (decision 0007).
    ``initial_load``: this run's partitions (``source.initial_load``) are staged; write them first, move
    the cursor to their upper end, then read incrementally from there.
    """
    report = RunReport(
        import_name=spec.name,
        run_id=run_id,
        mask_contacts=spec.reports.mask_contacts,
        contact_columns=frozenset(m.column for m in spec.mapping if m.field in CONTACT_FIELDS),
    )
    last_item = cursor_state.load()
    report.cursor_before = report.cursor_after = last_item
    # Batches that are mostly fingerprinted rather than mapped are read as Arrow where the source has a
    # columnar reader (sources/arrow_text.py: PostgreSQL); their fetch then leaves the GIL free, and this
    # process maps emails and phones with Arrow's kernels too.
    columnar = fingerprints_apply(spec) and source.has_columnar_reader() and config.columnar_reader()
    locator, mapper, fingerprinter = run_mapping(spec, database, mapping_workers, vectorised=columnar)
    filled = fields_to_fill(spec, database, locator.fields) if locator is not None else ()
    try:
        with _heap_frozen(), open_store(store_conn_id) as (store_dialect, connection):
            report.schema_changes = [
                c.description for c in ensure_schema(store_dialect, connection, database)
            ]
            writer = ProfileWriter(
                store_dialect, connection, spec, database, run_id=run_id, filled_fields=filled
            )
            stored = None
            most = fingerprint_cache_mb * 1024 * 1024 // StoredFingerprints.BYTES_EACH
            if fingerprinter is not None and most > 0:
                stored = writer.stored_fingerprints(most)
            if fingerprinter is not None and stored is None:
                began = time.perf_counter()
                writer.index_fingerprints()
                log.info(
                    "source fingerprints: more than %s stored (fingerprint_cache_mb); looked up per batch "
                    "through their index (ensured in %.1f s)",
                    f"{most:,}",
                    time.perf_counter() - began,
                )
            elif stored is not None:
                log.info("source fingerprints: %s stored, held in memory", f"{len(stored):,}")
            shape = (
                cursor_shape(query, spec.source.cursor.column, source.sqlglot_dialect)
                if spec.source.cursor is not None
                else None
            )
            loading = initial_load is not None and last_item != initial_load.upper
            known_rejections = writer.start_run(
                config.keep_runs() if keep_runs is None else keep_runs,
                # while staged batches are being written, a retry keeps the rejections already written
                _never if loading else _rereads(last_item, shape.inclusive) if shape is not None else None,
                masked=spec.reports.mask_contacts if fingerprinter is not None else None,
            )
            if known_rejections:
                log.info(
                    "known rejections: %s kept by earlier runs, rejected again unmapped",
                    f"{len(known_rejections):,}",
                )
            run = _Run(
                report,
                writer,
                spec,
                cursor_state,
                last_item,
                stored,
                mapper,
                fingerprinter,
                shape,
                known_rejections=known_rejections,
                overlap=store_dialect.writes_off_thread and config.overlap_writes(),
            )
            if loading:
                assert initial_load is not None
                staged = StagedBatches(store_dialect, connection, database.name, spec.name, run_id)
                _write_staged(run, staged, initial_load.offsets)
                run.save(initial_load.upper)
            while True:
                before_part = run.last_item
                report.parts += 1
                batches = extract_part(
                    source, spec.source.conn_id, query, run.last_item, batch_size, columnar=columnar
                )
                with closing(batches):  # however the part ends, the source is closed before going on
                    read_in_part = run.part(batches)
                if shape is not None and run.progress is not None:
                    if shape.ordered and not shape.inclusive and shape.may_be_cut(read_in_part):
                        _read_rest_of_last_value(run, source, query, batch_size)
                    run.save(run.progress.at_end)
                if not spec.source.drain or read_in_part == 0:
                    break
                if run.last_item == before_part:
                    log.info("the cursor did not advance in this part (%r); draining stops", run.last_item)
                    break
    finally:
        mapper.close()
    return report


@contextmanager
def _heap_frozen() -> Iterator[None]:
    """Tune the garbage collector for the run. A batch makes tens of thousands of tuples (rows, keys,
    Known rows) that live until the batch is written: with the default thresholds (a young collection
    every 700 allocations) they are walked and promoted again and again, and each full collection also
    walks every object alive before the run (Airflow's, the libraries': hundreds of thousands). So the
    run collects its young objects every 100,000 allocations (about once a batch) and moves the older
    objects out of the collector's reach (``gc.freeze``); both are restored afterwards. Measured with
    benchmarks/import_benchmark.py on 200,000 rows (the unchanged re-run): see benchmarks/README.md."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _never(_: str | None) -> bool:
    return False


def _write_staged(run: _Run, staged: StagedBatches, offsets: dict[int, int]) -> None:
    """Write the batches the partitions staged (``initial_load``), in cursor order, each deleted in the
    transaction that writes it; a partition's rows are numbered after those of the partitions before it
    (``offsets``), as one part would number them."""
    run.duplicates = _duplicate_filter(run.spec)
    batches = staged.pending()
    run.report.parts += len({b.partition for b in batches})
    log.info(
        "initial load: writing %d staged batch(es) of %d row(s)", len(batches), sum(b.rows for b in batches)
    )
    for batch, payload in staged.payloads(batches):
        shift = offsets.get(batch.partition, 0)  # the partition's row numbers (from 1) -> the run's
        items, prints = staged_batches.decode(payload, shift)
        run.report.read += batch.rows
        run.report.batches += 1
        pending = _Pending(partial(list, items), fingerprints=prints)
        replaced = _write_batch(
            run.report,
            run.writer,
            run.duplicates,
            items,
            pending,
            run.spec.match_field,
            partial(staged.delete, staged=batch),
        )
        if run.stored is not None:
            run.stored.forget(replaced)
        log.info("staged batch %d.%d written: %s", batch.partition, batch.batch, run.report.summary_line())


def _rereads(start: Any, inclusive: bool) -> Callable[[str | None], bool]:
    """Whether a run starting at the cursor ``start`` reads a row with this stored cursor value again:
    the query reads the values after ``start`` (and ``start`` itself with ``>=``). A rejection of an
    earlier attempt of the same run with such a value is deleted before the run reads it again."""

    def again(text: str | None) -> bool:
        if text is None:
            return False  # a row without a cursor value: not selected by '> {lastItem}'
        if start is None:
            return True
        try:
            value = decode(text, start)
            return bool(value > start or (inclusive and value == start))
        except (TypeError, ValueError):
            return False  # not comparable with the cursor: the query cannot have selected it by value

    return again


class _Writing:
    """A batch being written into the store by a helper thread (``[customer_import] overlap_writes``).

    Only one is in flight, and the task's thread waits for it before writing the next batch or saving
    the cursor over it: batches are committed in order, each in its own transaction, exactly as without
    the thread. The store's connection is used by one thread at a time (the task's thread reads no
    fingerprints from the store while a batch is in flight: ``_Run.part``)."""

    def __init__(self, pending: _Pending, write: Callable[[], list[bytes]]) -> None:
        self.pending = pending
        self._replaced: list[bytes] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(write,), name="customer-import-write")
        self._thread.start()

    def _run(self, write: Callable[[], list[bytes]]) -> None:
        try:
            self._replaced = write()
        except BaseException as exc:  # raised in the task's thread by result()
            self._error = exc

    def wait(self) -> None:
        self._thread.join()

    def result(self) -> list[bytes]:
        """The fingerprints the batch replaced, once written; its error, if writing it failed."""
        self.wait()
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        return self._replaced


@dataclass
class _Run:
    """One run's parts: batches mapped in order, written in order, the cursor moved over each one written."""

    report: RunReport
    writer: ProfileWriter
    spec: ImportSpec
    cursor_state: CursorState
    last_item: Any
    stored: StoredFingerprints | None
    mapper: InlineBatchMapper | ProcessBatchMapper
    fingerprinter: RowFingerprints | None
    shape: CursorShape | None = None
    known_rejections: KnownRejections | None = None
    overlap: bool = False  # write batch k in a helper thread while batch k + 1 is mapped
    duplicates: DuplicateKeyFilter = field(init=False)
    progress: PartProgress | None = field(init=False, default=None)

    def part(self, batches: Iterator[Batch], *, continued: bool = False) -> int:
        """Map and write one part's batches; return how many rows it read. ``continued``: more rows of
        the part before (the rest of its last value), with the same duplicate-key filter and progress."""
        report = self.report
        if not continued:
            self.duplicates = _duplicate_filter(self.spec)
            if self.shape is not None:
                self.progress = PartProgress(
                    self.last_item,
                    ordered=self.shape.ordered,
                    inclusive=self.shape.inclusive,
                    keep_tail=self.shape.limit is not None or self.shape.limit_unknown,
                )
        read = 0
        # Batch k + 1 is read and mapped while batch k is written (by a helper thread, with
        # overlap_writes; else in turn, or while a worker maps it, with mapping_workers). Batch k + 1's
        # known rows are then checked again against the fingerprints batch k replaced (forgotten by
        # ``stored``), before it is written. Looked up in the store instead, batch k is written first,
        # so that batch k + 1's lookups see its writes.
        pending: _Pending | None = None  # mapped, not written yet (without overlap)
        writing: _Writing | None = None  # being written by the helper thread
        try:
            while True:
                try:
                    batch = next(batches)
                except StopIteration:
                    break
                except Exception:
                    # The source failed: what was read before is still written, then the run fails.
                    if writing is not None:
                        self.finish(writing)
                        writing = None
                    if pending is not None:
                        self.commit(pending)
                    raise
                row_numbers = range(report.read + 1, report.read + 1 + len(batch.rows))
                report.read += len(batch.rows)
                read += len(batch.rows)
                report.batches += 1
                if self.fingerprinter is not None and self.stored is None:
                    if writing is not None:  # the store must hold batch k before batch k + 1 is looked up
                        self.finish(writing)
                        writing = None
                    if pending is not None:
                        self.commit(pending)
                        pending = None
                submitted = _submit(
                    self.mapper,
                    batch,
                    row_numbers,
                    self.fingerprinter,
                    self.writer,
                    self.stored,
                    self.known_rejections,
                )
                submitted.rows, submitted.columns = batch.rows, batch.columns
                replaced: list[bytes] = []
                if writing is not None:
                    replaced = self.finish(writing)
                    writing = None
                elif pending is not None:
                    replaced = self.commit(pending)
                if replaced and self.stored is not None:
                    submitted.recheck(replaced, self.mapper)
                if self.overlap:
                    writing = self.start(submitted)
                else:
                    pending = submitted
            if writing is not None:
                self.finish(writing)
                writing = None
            if pending is not None:
                self.commit(pending)
        finally:
            if writing is not None:  # something else failed: the batch in flight ends before the store closes
                writing.wait()
        return read

    def _write(self, pending: _Pending, mapped: Mapped) -> list[bytes]:
        """The store's part of committing a batch (the helper thread's, with overlap_writes)."""
        return _write_batch(self.report, self.writer, self.duplicates, mapped, pending, self.spec.match_field)

    def commit(self, pending: _Pending) -> list[bytes]:
        """Write a batch, move the cursor over it; return the fingerprints it replaced."""
        return self.committed(pending, self._write(pending, pending.all_mapped()))

    def start(self, pending: _Pending) -> _Writing:
        """Start writing a mapped batch in the helper thread (this thread goes on reading and mapping)."""
        mapped = pending.all_mapped()  # here: a worker's result is collected by the thread that asked
        return _Writing(pending, partial(self._write, pending, mapped))

    def finish(self, writing: _Writing) -> list[bytes]:
        """Wait for a batch being written (its error is raised here), then move the cursor over it."""
        return self.committed(writing.pending, writing.result())

    def committed(self, pending: _Pending, replaced: list[bytes]) -> list[bytes]:
        """After a batch is written: forget what it replaced, move the cursor over it (this thread saves
        the cursor: Airflow's Variables are set from the task's own thread)."""
        if self.stored is not None:
            self.stored.forget(replaced)
        cursor = self.spec.source.cursor
        if cursor is not None and self.progress is not None and pending.rows:
            index = find_column(pending.columns, cursor.column)
            if index is not None:
                self.progress.committed(pending.rows, index)
                self.save(self.progress.safe)
        log.info("batch committed: %s", self.report.summary_line())
        return replaced

    def save(self, value: Any) -> None:
        """Save the cursor (only after what it covers is committed), when it moved."""
        if value == self.last_item:
            return
        self.last_item = value
        self.cursor_state.save(value)
        self.report.cursor_after = value


def _read_rest_of_last_value(run: _Run, source: SourceDialect, query: str, batch_size: int) -> None:
    """A part cut by its LIMIT may have stopped inside the rows sharing its last value, which a query
    with ``> {lastItem}`` would never read again once the cursor is there. Read the query again from the
    last complete value, and write the rows of that last value this part did not have, so the cursor can
    move to it (decision record 0005). For a unique cursor this reads the part's last row and the next."""
    progress = run.progress
    spec_cursor = run.spec.source.cursor
    assert progress is not None
    assert spec_cursor is not None
    last = progress.last
    if last is None:
        return
    if progress.complete is None:
        raise QueryError(
            f"every row of this part shares the cursor value {last!r}, and the query's LIMIT cut it: with "
            f"'> {{lastItem}}' the cursor cannot move past {last!r} without skipping rows, nor stay before it "
            "without reading the same rows again; the rows read were written, the cursor was not moved. "
            "Raise the LIMIT above the largest number of rows sharing one cursor value"
        )
    seen = Counter(map(repr, progress.tail))
    columns: tuple[str, ...] = ()
    new_rows: list[tuple[Any, ...]] = []
    read = 0
    ended_inside = True  # the second read ended before a value after ``last`` appeared
    inside = False
    batches = extract_part(source, run.spec.source.conn_id, query, progress.complete, batch_size)
    with closing(batches):
        for batch in batches:
            columns = batch.columns
            index = find_column(columns, spec_cursor.column)
            assert index is not None
            for row in batch.rows:
                read += 1
                value = row[index]
                if value == last:
                    inside = True
                    key = repr(row)
                    if seen[key]:
                        seen[key] -= 1  # a row this part has written already
                    else:
                        new_rows.append(row)
                elif inside:
                    ended_inside = False  # the first value after ``last``: its rows are all read
                    break
                else:
                    new_rows.append(row)  # between the last complete value and ``last``: written since
            if not ended_inside:
                break
    shape = run.shape
    assert shape is not None
    if ended_inside and shape.may_be_cut(read):
        raise QueryError(
            f"more rows share the cursor value {last!r} than the query's LIMIT returns at once: the cursor "
            f"stays at {progress.complete!r} (the rows read were written). Raise the LIMIT above the largest "
            "number of rows sharing one cursor value"
        )
    if new_rows:
        log.info(
            "%d more row(s) with the cursor value %r after the LIMIT; importing them", len(new_rows), last
        )
        run.part(iter([Batch(columns, new_rows)]), continued=True)


def _write_batch(
    report: RunReport,
    writer: ProfileWriter,
    duplicates: DuplicateKeyFilter,
    mapped: Mapped,
    pending: _Pending,
    match_field: str,
    then: Callable[[Any], None] | None = None,
) -> list[bytes]:
    """Write a batch and account for its rows; return the fingerprints it replaced."""
    mapped_records: list[Record] = []
    rejections: list[Rejection] = []
    for item in mapped:
        if isinstance(item, Rejection):
            rejections.append(item)
        else:
            mapped_records.append(item)
    if pending.rejected:
        rejections.sort(key=_REJECTED_ROW)  # known rejections came after the mapped rows: back in row order
    if pending.remapped:
        mapped_records.sort(key=_ROW_NO)  # rows mapped again come after the batch's others
    records: list[Record | Known] = list(mapped_records)
    if pending.known:
        records.extend(pending.known)
        records.sort(key=_ROW_NO)  # duplicate_keys first/last follow the source order
    kept, skipped, rejected = duplicates.apply(records)
    report.skipped += len(skipped)
    for record in rejected:
        rejections.append(
            Rejection(
                record.row_no,
                record.cursor,
                match_field,
                DUPLICATE_KEY,
                f"the matching value ({match_field}) occurs more than once in this part (duplicate_keys: reject)",
                record.key,
            )
        )
    # The mapped records kept (the known ones are only counted): filtered by identity, so that a
    # batch of mostly known rows costs nothing per known row here.
    dropped = set(map(id, skipped)).union(map(id, rejected))
    to_write = [r for r in mapped_records if id(r) not in dropped] if dropped else mapped_records
    by_row = {r.row_no: r for r in to_write}
    ambiguous: list[Rejection] = []

    def keep_ambiguous(rows: list[tuple[int, int]]) -> list[KeptRejection]:
        """Rejections for the rows the match found ambiguous, kept in the batch's transaction."""
        ambiguous.clear()
        for row_no, matches in rows:
            record = by_row[row_no]
            ambiguous.append(
                Rejection(
                    row_no,
                    record.cursor,
                    match_field,
                    AMBIGUOUS_MATCH,
                    f"the matching value ({match_field}) matches {matches} stored profiles; nothing was written",
                    record.key,
                )
            )
        return [report.kept(r) for r in ambiguous]

    outcome = writer.write(
        to_write,
        fingerprints=pending.fingerprints,
        rejected=[report.kept(r) for r in rejections],
        ambiguous=keep_ambiguous,
        then=then,
    )
    for rejection in rejections:  # counted once the batch is committed
        report.reject(rejection)
    report.unchanged += len(kept) - len(to_write)  # known rows: their profile holds them already
    report.created += outcome.counts.get(batch_sql.CREATE, 0)
    report.updated += outcome.counts.get(batch_sql.UPDATE, 0)
    report.unchanged += outcome.counts.get(batch_sql.UNCHANGED, 0)
    report.skipped += outcome.counts.get(batch_sql.SKIP, 0)
    for rejection in ambiguous:
        report.reject(rejection)
    return outcome.replaced_fingerprints
