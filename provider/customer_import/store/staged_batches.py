"""The parallel initial load's staged batches: ``<database>_staged_batches`` in the profile store.

Each partition task maps its rows and stages every batch's mapped output (the records, the rejections
and the source fingerprints, pickled: written and read only by this package) keyed by
``(import, run, partition, batch)``. The import task then writes them into the profiles in cursor order,
deleting each staged batch in the transaction that writes it: a batch is written exactly once, however
often either task is retried. A partition task that starts again deletes what it staged before; the
plan deletes what other runs of the import left (a load that failed and was started over).

Why a stage and not each partition writing its profiles: writers of one profile database hold its lock
for each batch anyway (``StoreDialect.begin``), so parallel writers would only take turns; and only a
write in cursor order leaves the store exactly as a single-task load does when one customer has rows in
two partitions (``duplicate_keys``, ``keep_existing_on_empty``, the change events).
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from customer_import.mapping.batches import Mapped
from customer_import.mapping.mapper import Record
from customer_import.store.dialects import StoreDialect
from customer_import.store.tables import Tables
from customer_import.store.writer import transaction


@dataclass(frozen=True)
class StagedLoad:
    """What the import task needs to write a run's staged partitions: where the cursor moves after them,
    and each partition's first row number in the run (the rows of the partitions before it), so that a
    rejected row keeps its number however often the task is retried."""

    upper: Any
    offsets: dict[int, int]


@dataclass(frozen=True)
class StagedBatch:
    partition: int
    batch: int
    rows: int


def encode(mapped: Mapped, fingerprints: dict[int, bytes]) -> bytes:
    """A mapped batch as bytes; records as plain tuples (pickling a NamedTuple costs 3x as much). Row
    numbers are the partition's own (from 1); the import task shifts them (``decode``)."""
    items = [tuple(item) if isinstance(item, Record) else item for item in mapped]
    return pickle.dumps((items, fingerprints), protocol=pickle.HIGHEST_PROTOCOL)


def decode(payload: bytes, shift: int = 0) -> tuple[Mapped, dict[int, bytes]]:
    """A staged batch's mapped rows and fingerprints, with ``shift`` added to every row number (a
    partition's numbers from 1 -> the run's)."""
    # A batch staged by the version before (first row, items, fingerprints) reads as well: a load in flight
    # across an upgrade. Our own rows, from our own store: hence pickle.
    *_, items, fingerprints = pickle.loads(bytes(payload))  # noqa: S301
    mapped: Mapped = [
        Record(item[0] + shift, *item[1:])
        if type(item) is tuple
        else dataclasses.replace(item, row=item.row + shift)
        for item in items
    ]
    return mapped, {n + shift: p for n, p in fingerprints.items()} if shift else fingerprints


class StagedBatches:
    """One run's staged batches of one import."""

    def __init__(
        self, dialect: StoreDialect, connection: Any, database: str, import_name: str, run_id: str
    ) -> None:
        self.dialect = dialect
        self.connection = connection
        self.database = database
        self.table = Tables(database).staged_batches
        self.names = (import_name, run_id)

    def _create(self, cursor: Any) -> None:
        d = self.dialect
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {d.quote(self.table)} (import_name TEXT NOT NULL, "
            f"run_id TEXT NOT NULL, partition_no INTEGER NOT NULL, batch_no INTEGER NOT NULL, "
            f"row_count INTEGER NOT NULL, payload {d.bytes_type} NOT NULL, "
            f"PRIMARY KEY (import_name, run_id, partition_no, batch_no))"
        )

    def _delete(self, cursor: Any, where: str, values: tuple[Any, ...]) -> int:
        """Delete this import's staged batches matching ``where`` (after ``import_name = ?``)."""
        cursor.execute(
            f"DELETE FROM {self.dialect.quote(self.table)} WHERE import_name = {self.dialect.param} AND {where}",
            (self.names[0], *values),
        )
        return int(cursor.rowcount or 0)

    def start_partition(self, partition: int) -> None:
        """Before a partition is (re)read: nothing it staged in an earlier attempt remains."""
        p = self.dialect.param
        with transaction(self.dialect, self.connection, self.database) as cursor:
            self._create(cursor)
            self._delete(cursor, f"run_id = {p} AND partition_no = {p}", (self.names[1], partition))

    def forget_other_runs(self) -> int:
        """Delete what the import's other runs staged (a load that failed and is planned again)."""
        with transaction(self.dialect, self.connection, self.database) as cursor:
            self._create(cursor)
            return self._delete(cursor, f"run_id <> {self.dialect.param}", (self.names[1],))

    def add(self, partition: int, batch: int, rows: int, payload: bytes) -> None:
        p = self.dialect.param
        with transaction(self.dialect, self.connection, self.database) as cursor:
            cursor.execute(
                f"INSERT INTO {self.dialect.quote(self.table)} "
                f"(import_name, run_id, partition_no, batch_no, row_count, payload) "
                f"VALUES ({p}, {p}, {p}, {p}, {p}, {p})",
                (*self.names, partition, batch, rows, payload),
            )

    def pending(self) -> list[StagedBatch]:
        """The batches still to write, in cursor order (partition, then batch)."""
        p = self.dialect.param
        cursor = self.connection.cursor()
        try:
            self._create(cursor)
            cursor.execute(
                f"SELECT partition_no, batch_no, row_count FROM {self.dialect.quote(self.table)} "
                f"WHERE import_name = {p} AND run_id = {p} ORDER BY partition_no, batch_no",
                self.names,
            )
            found = [StagedBatch(int(a), int(b), int(c)) for a, b, c in cursor.fetchall()]
            self.connection.commit()
            return found
        except BaseException:
            self.connection.rollback()
            raise
        finally:
            cursor.close()

    def payloads(self, batches: list[StagedBatch]) -> Iterator[tuple[StagedBatch, bytes]]:
        """Each batch's payload, read one at a time (one batch in memory)."""
        p = self.dialect.param
        for staged in batches:
            cursor = self.connection.cursor()
            try:
                cursor.execute(
                    f"SELECT payload FROM {self.dialect.quote(self.table)} WHERE import_name = {p} "
                    f"AND run_id = {p} AND partition_no = {p} AND batch_no = {p}",
                    (*self.names, staged.partition, staged.batch),
                )
                row = cursor.fetchone()
            finally:
                cursor.close()
                self.connection.rollback()
            if row is not None:
                yield staged, bytes(row[0])

    def delete(self, cursor: Any, staged: StagedBatch) -> None:
        """Delete a written batch, in the transaction that wrote it."""
        p = self.dialect.param
        self._delete(
            cursor,
            f"run_id = {p} AND partition_no = {p} AND batch_no = {p}",
            (self.names[1], staged.partition, staged.batch),
        )
