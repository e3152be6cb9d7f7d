"""Store dialects: what differs between the SQLite (embedded default) and PostgreSQL profile stores.

Callers never branch on the database name: they ask the dialect for types, quoting, parameter markers,
value adaptation, locking and bulk loading. A dialect is chosen from the Airflow connection type.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any, ClassVar

from customer_import import driver_errors
from customer_import.dialect_lookup import dialect_for
from customer_import.driver_errors import ErrorCodes
from customer_import.fingerprints import FINGERPRINT_BYTES, FINGERPRINT_COLUMN
from customer_import.spec.vocab import FieldType

_TEXT_TYPES = (
    FieldType.STRING,
    FieldType.ENUM,
    FieldType.IP,
    FieldType.EMAIL,
    FieldType.PHONE,
    FieldType.TIMEZONE,
)


def dump_json(value: Any) -> str:
    """The one JSON text form of tags and json values in a text column (stable, so comparable)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class StoreDialect:
    """Base: standard SQL. Subclasses set types and the few statements that differ."""

    name: ClassVar[str]
    conn_types: ClassVar[tuple[str, ...]]
    param: ClassVar[str]
    types: ClassVar[dict[FieldType, str]]
    timestamp_type: ClassVar[str]
    bytes_type: ClassVar[str]
    identity_column: ClassVar[str]
    # The DBMS's error codes, fatal or transient (customer_import.driver_errors), and substrings of an
    # error *without a code* that retrying cannot fix.
    error_codes: ClassVar[ErrorCodes]
    fatal_markers: ClassVar[tuple[str, ...]] = ()

    def error_types(self) -> tuple[type[BaseException], ...]:
        """The exceptions of this store's driver (imported when asked: never at DAG parsing)."""
        raise NotImplementedError

    def is_fatal(self, error: BaseException) -> bool:
        """Whether retrying cannot fix ``error`` (by its code: SQLSTATE, SQLite's result code)."""
        return driver_errors.is_fatal(error, self.error_codes, self.fatal_markers)

    def describe_error(self, error: BaseException) -> str:
        return driver_errors.describe(error, self.error_codes)

    def quote(self, identifier: str) -> str:
        return '"' + identifier.replace('"', '""') + '"'

    def column_type(self, field_type: FieldType) -> str:
        return "TEXT" if field_type in _TEXT_TYPES else self.types[field_type]

    def begin(self, cursor: Any, lock_name: str) -> None:
        """Start the batch transaction, serialising writers of one profile database."""
        raise NotImplementedError

    def to_db(self, field_type: FieldType, value: Any) -> Any:
        return value

    # Field types whose values to_db changes; the writer calls to_db only for these (the rest pass as is).
    adapted_types: ClassVar[frozenset[FieldType]] = frozenset()

    def adapter(self, field_type: FieldType) -> Callable[[Any], Any] | None:
        """``value -> database value`` for a type that needs it (None passes through), else None."""
        if field_type not in self.adapted_types:
            return None
        return functools.partial(self.to_db, field_type)

    def from_db(self, field_type: FieldType, value: Any) -> Any:
        return value

    def timestamp(self, value: dt.datetime) -> Any:
        return value

    # Whether the stage tables empty themselves when a transaction ends (no DELETE before or after a batch).
    stage_emptied_on_commit: ClassVar[bool] = False

    def create_stage(self, name: str, columns: str) -> str:
        return f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.quote(name)} ({columns})"

    def load_stage(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: list[tuple[Any, ...]],
    ) -> None:
        """Bulk-load ``rows`` into the stage (``types``: the columns' SQL types, for a binary load)."""
        marks = ", ".join([self.param] * len(columns))
        names = ", ".join(self.quote(c) for c in columns)
        cursor.executemany(f"INSERT INTO {self.quote(table)} ({names}) VALUES ({marks})", rows)

    def existing_columns(self, cursor: Any, table: str) -> set[str]:
        raise NotImplementedError

    # Profile ids per statement when a run reads the stored fingerprints (bounds the memory it takes).
    FINGERPRINT_CHUNK_IDS: ClassVar[int] = 262_144

    def stored_fingerprints(
        self, cursor: Any, profiles: str, most: int
    ) -> tuple[int, Iterator[bytes]] | None:
        """(how many, then chunks of concatenated fingerprints) of the stored profiles; None when there
        are more than ``most``. The chunks are read from ``cursor`` as they are consumed."""
        table = self.quote(profiles)
        cursor.execute(
            f"SELECT count(*), min(profile_id), max(profile_id) FROM {table} "
            f"WHERE {FINGERPRINT_COLUMN} IS NOT NULL"
        )
        count, low, high = cursor.fetchone()
        if int(count) > most:
            return None
        if not count:
            return 0, iter(())
        step = self.FINGERPRINT_CHUNK_IDS
        chunks = (
            self._fingerprints_between(cursor, table, start, start + step)
            for start in range(int(low) - 1, int(high), step)
        )
        return int(count), chunks

    def _fingerprints_between(self, cursor: Any, table: str, after: int, upto: int) -> bytes:
        """The fingerprints of the profiles with ids in (after, upto], concatenated."""
        cursor.execute(
            f"SELECT {FINGERPRINT_COLUMN} FROM {table} WHERE profile_id > {self.param} "
            f"AND profile_id <= {self.param} AND length({FINGERPRINT_COLUMN}) = {FINGERPRINT_BYTES}",
            (after, upto),
        )
        return b"".join(bytes(row[0]) for row in cursor.fetchall())

    def known_fingerprints(self, cursor: Any, profiles: str, fingerprints: Sequence[bytes]) -> set[bytes]:
        """Which of ``fingerprints`` a stored profile holds (one indexed lookup per chunk of 500)."""
        found: set[bytes] = set()
        for start in range(0, len(fingerprints), 500):
            chunk = fingerprints[start : start + 500]
            marks = ", ".join([self.param] * len(chunk))
            cursor.execute(
                f"SELECT {FINGERPRINT_COLUMN} FROM {self.quote(profiles)} "
                f"WHERE {FINGERPRINT_COLUMN} IN ({marks})",
                tuple(chunk),
            )
            found.update(bytes(row[0]) for row in cursor.fetchall())
        return found

    def new_profile_id(self, profiles: str, sequence: str | None = None) -> str | None:
        """An SQL expression giving a new, unused profile id per evaluation, if the database has one
        (``sequence``: the profile id sequence's name as ``id_sequence`` found it)."""
        return None

    def id_sequence(self, cursor: Any, profiles: str) -> str | None:
        """The name of the sequence numbering ``profiles``, where new_profile_id uses one."""
        return None

    # Whether a batch's match and writes can be one statement (batch_sql.folded_write).
    folds_writes: ClassVar[bool] = False
    # Whether a helper thread may write batches while the task maps the next ([customer_import]
    # overlap_writes): the server does the work and the driver's connection may change threads.
    writes_off_thread: ClassVar[bool] = False

    def assign_ids(self, stage: str, profiles: str, where: str) -> str:
        """SQL giving the stage rows matching ``where`` new, unused profile ids (without new_profile_id)."""
        raise NotImplementedError


class SqliteStore(StoreDialect):
    name = "sqlite"
    conn_types = ("sqlite",)
    param = "?"
    types: ClassVar[dict[FieldType, str]] = {
        FieldType.INT: "INTEGER",
        FieldType.FLOAT: "REAL",
        FieldType.DATE: "TEXT",
        FieldType.DATETIME: "TEXT",
        FieldType.BOOL: "INTEGER",
        FieldType.TAGS: "TEXT",
        FieldType.JSON: "TEXT",
    }
    timestamp_type = "TEXT"
    bytes_type = "BLOB"
    identity_column = "INTEGER PRIMARY KEY AUTOINCREMENT"
    error_codes = driver_errors.SQLITE

    def error_types(self) -> tuple[type[BaseException], ...]:
        import sqlite3

        return (sqlite3.Error,)

    def begin(self, cursor: Any, lock_name: str) -> None:
        # SQLite has one writer at a time; IMMEDIATE takes the write lock before the batch reads.
        cursor.execute("BEGIN IMMEDIATE")

    adapted_types = frozenset(
        {FieldType.TAGS, FieldType.JSON, FieldType.DATETIME, FieldType.DATE, FieldType.BOOL}
    )

    def to_db(self, field_type: FieldType, value: Any) -> Any:
        if value is None:
            return None
        if field_type in (FieldType.TAGS, FieldType.JSON):
            return dump_json(value)
        if field_type is FieldType.DATETIME:
            return self.timestamp(value)
        if field_type is FieldType.DATE:
            return value.isoformat()
        if field_type is FieldType.BOOL:
            return int(value)
        return value

    def from_db(self, field_type: FieldType, value: Any) -> Any:
        if value is None:
            return None
        if field_type in (FieldType.TAGS, FieldType.JSON):
            return json.loads(value)
        if field_type is FieldType.BOOL:
            return bool(value)
        if field_type is FieldType.DATE:
            return dt.date.fromisoformat(value)
        if field_type is FieldType.DATETIME:
            return dt.datetime.fromisoformat(value)
        return value

    def timestamp(self, value: dt.datetime) -> Any:
        return value.astimezone(dt.UTC).isoformat(timespec="microseconds")

    def existing_columns(self, cursor: Any, table: str) -> set[str]:
        cursor.execute(f"PRAGMA table_info({self.quote(table)})")
        return {row[1] for row in cursor.fetchall()}

    def assign_ids(self, stage: str, profiles: str, where: str) -> str:
        # The writer holds SQLite's only write lock (BEGIN IMMEDIATE): ids after the highest ever given.
        q = self.quote
        highest = (
            f"max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = '{profiles}'), 0), "
            f"coalesce((SELECT max(profile_id) FROM {q(profiles)}), 0))"
        )
        return (
            f"UPDATE {q(stage)} SET profile_id = {highest} + r.n FROM "
            f"(SELECT row_no, row_number() OVER (ORDER BY row_no) AS n FROM {q(stage)} WHERE {where}) r "
            f"WHERE r.row_no = {q(stage)}.row_no"
        )


class PostgresStore(StoreDialect):
    name = "postgres"
    conn_types = ("postgres", "postgresql")
    param = "%s"
    types: ClassVar[dict[FieldType, str]] = {
        FieldType.INT: "BIGINT",
        FieldType.FLOAT: "DOUBLE PRECISION",
        FieldType.DATE: "DATE",
        FieldType.DATETIME: "TIMESTAMPTZ",
        FieldType.BOOL: "BOOLEAN",
        FieldType.TAGS: "JSONB",
        FieldType.JSON: "JSONB",
    }
    timestamp_type = "TIMESTAMPTZ"
    bytes_type = "BYTEA"
    identity_column = "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    error_codes = driver_errors.POSTGRES
    # libpq refuses a connection without a SQLSTATE: its words for the fatal refusals.
    fatal_markers = (
        "password authentication failed",
        'role "',
        'database "',
        "no pg_hba.conf entry",
        "permission denied",
    )

    def error_types(self) -> tuple[type[BaseException], ...]:
        import psycopg

        return (psycopg.Error, OSError)

    def begin(self, cursor: Any, lock_name: str) -> None:
        # psycopg opens the transaction on the first statement; the advisory lock lasts until commit.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"customer_import:{lock_name}",))

    adapted_types = frozenset({FieldType.TAGS, FieldType.JSON})

    def adapter(self, field_type: FieldType) -> Callable[[Any], Any] | None:
        if field_type is FieldType.TAGS:
            return _jsonb_tags()
        return super().adapter(field_type)

    def to_db(self, field_type: FieldType, value: Any) -> Any:
        if value is not None and field_type in (FieldType.TAGS, FieldType.JSON):
            from psycopg.types.json import Jsonb

            return Jsonb(value)
        return value

    # ON COMMIT DELETE ROWS (and a rollback discards what a batch staged): saves four DELETEs a batch.
    stage_emptied_on_commit = True

    def create_stage(self, name: str, columns: str) -> str:
        return f"CREATE TEMPORARY TABLE IF NOT EXISTS {self.quote(name)} ({columns}) ON COMMIT DELETE ROWS"

    def load_stage(
        self,
        cursor: Any,
        table: str,
        columns: Sequence[str],
        types: Sequence[str],
        rows: list[tuple[Any, ...]],
    ) -> None:
        # Binary COPY with the stage's types: 1.2-2.0 us a row against 5 us as text (20,000 stage rows).
        names = ", ".join(self.quote(c) for c in columns)
        with cursor.copy(f"COPY {self.quote(table)} ({names}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types([kind.lower() for kind in types])
            for row in rows:
                copy.write_row(row)

    def known_fingerprints(self, cursor: Any, profiles: str, fingerprints: Sequence[bytes]) -> set[bytes]:
        # IN (SELECT unnest(...)): an index probe per fingerprint; "= ANY(array)" was planned as a scan of
        # the whole table (measured: 0.20 s against 0.14 s per 10,000 of 1,000,000, growing with the table).
        cursor.execute(
            f"SELECT {FINGERPRINT_COLUMN} FROM {self.quote(profiles)} "
            f"WHERE {FINGERPRINT_COLUMN} IN (SELECT unnest(%s::bytea[]))",
            (list(fingerprints),),
            binary=True,
        )
        return {bytes(row[0]) for row in cursor.fetchall()}

    def _fingerprints_between(self, cursor: Any, table: str, after: int, upto: int) -> bytes:
        # One value from the server (binary): no row, and no Python object, per profile.
        cursor.execute(
            f"SELECT string_agg({FINGERPRINT_COLUMN}, ''::bytea) FROM {table} WHERE profile_id > %s "
            f"AND profile_id <= %s AND octet_length({FINGERPRINT_COLUMN}) = {FINGERPRINT_BYTES}",
            (after, upto),
            binary=True,
        )
        value = cursor.fetchone()[0]
        return bytes(value) if value is not None else b""

    def new_profile_id(self, profiles: str, sequence: str | None = None) -> str | None:
        if sequence is not None:
            # A constant regclass: pg_get_serial_sequence per row cost 3.4 us (1.7 s per 500,000 creates).
            return "nextval('" + sequence.replace("'", "''") + "'::regclass)"
        return f"nextval(pg_get_serial_sequence('{self.quote(profiles)}', 'profile_id'))"

    def id_sequence(self, cursor: Any, profiles: str) -> str | None:
        cursor.execute("SELECT pg_get_serial_sequence(%s, 'profile_id')", (self.quote(profiles),))
        row = cursor.fetchone()
        return None if row is None or row[0] is None else str(row[0])

    folds_writes = True
    writes_off_thread = True

    def existing_columns(self, cursor: Any, table: str) -> set[str]:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s",
            (table,),
        )
        return {row[0] for row in cursor.fetchall()}


STORE_DIALECTS: tuple[type[StoreDialect], ...] = (SqliteStore, PostgresStore)


def store_dialect_for(conn_type: str) -> StoreDialect:
    return dialect_for(
        STORE_DIALECTS, conn_type, "the profile store cannot use a connection of type {conn_type!r}"
    )


_TAG_LISTS_KEPT = 65536  # distinct tag lists a run's adapter keeps as JSON


def _as_is(data: bytes) -> bytes:
    return data


def _jsonb_tags() -> Callable[[Any], Any]:
    """``to_db`` for tags (lists of text), each distinct list turned into JSON once: a batch's tags repeat
    (json.dumps cost 2 us a value, in the thread that maps the next batch). The JSON is what ``Jsonb``
    writes by default."""
    from psycopg.types.json import Jsonb

    kept: dict[tuple[str, ...], Any] = {}

    def adapt(value: Any) -> Any:
        key = tuple(value)
        found = kept.get(key)
        if found is None:
            if len(kept) >= _TAG_LISTS_KEPT:
                kept.clear()
            found = kept[key] = Jsonb(json.dumps(value).encode(), dumps=_as_is)
        return found

    return adapt
