"""The parallel initial load (``source.initial_load: {partitions: N}``): plan, stage partitions, write.

Three steps, three tasks of the import's DAG (``factory``):

1. ``plan_initial_load`` (``plan``): on a run whose cursor is still at ``start_value`` (the first run, or
   every run until a load has completed), split the range up to the cursor column's current maximum into
   partitions of about equal row counts (``sources.partitions``); on any later run, or a backfill, no
   partitions: the run is incremental.
2. ``load_partition`` (``stage_partition``, one mapped task per partition, on any worker): read the
   partition, map and validate its rows, stage the mapped batches in the store
   (``store.staged_batches``). Retried alone; a retry replaces what the partition staged before.
3. ``import_profiles`` (``importer.run_import`` with ``initial_load``, a ``StagedLoad``), once every partition has
   succeeded: write the staged batches in cursor order, each deleted in the transaction that writes it,
   then move the cursor to the maximum, then read incrementally from there (the rows that arrived while
   the load ran). The store ends as a single-task load leaves it: same rows, same order, same code.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import closing
from typing import Any

from customer_import.cursor import CursorState, decode, encode
from customer_import.exceptions import QueryError
from customer_import.mapping.batches import run_mapping
from customer_import.mapping.errors import Rejection
from customer_import.sources.dialects import SourceDialect
from customer_import.sources.extract import extract_part
from customer_import.sources.partitions import HIGH, LOW, Partition, boundaries_query, partition_query, split
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.store import staged_batches
from customer_import.store.connection import open_store
from customer_import.store.staged_batches import StagedBatches, StagedLoad

log = logging.getLogger(__name__)


def _cursor(spec: ImportSpec) -> tuple[str, Any, int]:
    cursor, initial = spec.source.cursor, spec.source.initial_load
    if cursor is None or initial is None:
        raise QueryError(f"import {spec.name!r} has no initial_load with a cursor")
    return cursor.column, cursor.start_value, initial.partitions


def plan(
    spec: ImportSpec,
    database: ProfileDatabase,
    *,
    query: str,
    source: SourceDialect,
    cursor_state: CursorState,
    run_id: str,
    store_conn_id: str | None = None,
) -> list[dict[str, Any]]:
    """The run's partitions (as XCom-able dicts, values as cursor text); [] when the run is incremental."""
    column, start, count = _cursor(spec)
    current = cursor_state.load()
    if current != start:
        log.info(
            "the cursor is at %r, past start_value %r: no initial load, the run is incremental",
            current,
            start,
        )
        return []
    text = boundaries_query(query, column, source.sqlglot_dialect, count)
    tiles: list[tuple[Any, int]] = []
    batches = extract_part(source, spec.source.conn_id, text, start, count + 1)
    with closing(batches):
        for batch in batches:
            tiles.extend((row[0], int(row[1])) for row in batch.rows)
    partitions = split(tiles, start)
    with open_store(store_conn_id) as (dialect, connection):
        dropped = StagedBatches(dialect, connection, database.name, spec.name, run_id).forget_other_runs()
    if dropped:
        log.info(
            "deleted %d batch(es) staged by earlier runs of %s that did not complete", dropped, spec.name
        )
    for p in partitions:
        log.info("partition %d: cursor in (%r, %r], %d row(s)", p.index, p.low, p.high, p.rows)
    if len(partitions) < count:
        log.info(
            "%d partition(s) instead of %d: the range has fewer distinct cursor values than partitions, or "
            "a value with more rows than a partition",
            len(partitions),
            count,
        )
    return [
        {"index": p.index, "low": encode(p.low), "high": encode(p.high), "rows": p.rows} for p in partitions
    ]


def partition_from(data: dict[str, Any], start: Any) -> Partition:
    low, high = decode(str(data["low"]), start), decode(str(data["high"]), start)
    return Partition(int(data["index"]), low, high, int(data["rows"]))


def upper_bound(partitions: list[dict[str, Any]] | None, start: Any) -> Any:
    """Where the cursor moves once every partition is written (None: no initial load in this run)."""
    return partition_from(partitions[-1], start).high if partitions else None


def staged_load(
    partitions: list[dict[str, Any]] | None, staged: Sequence[dict[str, Any]] | None, start: Any
) -> StagedLoad | None:
    """From the plan's and the partition tasks' results (XCom): the load the import task writes."""
    if not partitions:
        return None
    read = {int(result["partition"]): int(result["read"]) for result in staged or ()}
    offsets, before = {}, 0
    for part in partitions:
        offsets[int(part["index"])] = before
        before += read.get(int(part["index"]), 0)
    return StagedLoad(upper_bound(partitions, start), offsets)


def stage_partition(
    spec: ImportSpec,
    database: ProfileDatabase,
    *,
    query: str,
    source: SourceDialect,
    partition: dict[str, Any],
    run_id: str,
    batch_size: int,
    store_conn_id: str | None = None,
    mapping_workers: int = 0,
) -> dict[str, Any]:
    """Read, map and stage one partition; return what it read and rejected."""
    column, start, _ = _cursor(spec)
    part = partition_from(partition, start)
    text = partition_query(query, column, source.sqlglot_dialect, first=part.first)
    _, mapper, fingerprinter = run_mapping(spec, database, mapping_workers)
    read = rejected = batch_no = 0
    try:
        with open_store(store_conn_id) as (dialect, connection):
            staged = StagedBatches(dialect, connection, database.name, spec.name, run_id)
            staged.start_partition(part.index)
            bound = {LOW: part.low, HIGH: part.high}
            batches = extract_part(source, spec.source.conn_id, text, part.low, batch_size, bound)
            with closing(batches):
                for batch in batches:
                    numbers = range(read + 1, read + 1 + len(batch.rows))
                    job = mapper.submit(batch.columns, batch.row_list(), numbers)
                    prints = (
                        dict(zip(numbers, fingerprinter.of(batch.columns, batch.rows), strict=True))
                        if fingerprinter is not None
                        else {}
                    )
                    mapped = job()
                    rejected += sum(isinstance(item, Rejection) for item in mapped)
                    payload = staged_batches.encode(mapped, prints)
                    staged.add(part.index, batch_no, len(batch.rows), payload)
                    read += len(batch.rows)
                    batch_no += 1
                    log.info("partition %d: batch %d staged, %d row(s) read", part.index, batch_no, read)
    finally:
        mapper.close()
    return {"partition": part.index, "read": read, "batches": batch_no, "rejected": rejected}
