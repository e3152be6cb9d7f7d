"""Write batches into the profile store: one transaction and a fixed handful of statements per batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import repeat
from typing import Any, TypeVar

from customer_import.fingerprints import StoredFingerprints, fingerprints_apply
from customer_import.known_rejections import MOST, NOT_BY_VALUE, KnownRejections
from customer_import.mapping.mapper import Record
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import FieldType, MatchBy
from customer_import.store import batch_sql as sql
from customer_import.store import rejections as rejections_sql
from customer_import.store.dialects import StoreDialect
from customer_import.store.schema import SchemaChange, evolve, fingerprint_index
from customer_import.store.tables import Tables

T = TypeVar("T")
PHONE_CHANNELS = ("sms", "whatsapp", "viber")
_MATCH_PLANS: dict[MatchBy, sql.MatchPlan] = {
    MatchBy.EMAIL: sql.MatchPlan("email", ("email",)),
    MatchBy.EMAIL_PROFILE: sql.MatchPlan("email"),
    MatchBy.EMAIL_SUBSCRIPTION: sql.MatchPlan(None, ("email",)),
    MatchBy.PHONE: sql.MatchPlan("phone", PHONE_CHANNELS),
    MatchBy.PHONE_PROFILE: sql.MatchPlan("phone"),
    MatchBy.PHONE_SUBSCRIPTION: sql.MatchPlan(None, PHONE_CHANNELS),
    MatchBy.PROFILE_ID: sql.MatchPlan("profile_id"),
    MatchBy.PUSH_SUBSCRIPTION: sql.MatchPlan(None, ("push",), with_provider=True),
}


def match_plan(spec: ImportSpec) -> tuple[sql.MatchPlan, FieldType]:
    """Where the spec's matching key is looked up, and the key's type."""
    by = spec.target.matching.by
    if by is MatchBy.CUSTOM:
        assert spec.target.matching.field is not None
        return sql.MatchPlan(spec.target.matching.field), FieldType.STRING
    kind = {"email": FieldType.EMAIL, "phone": FieldType.PHONE, "profile_id": FieldType.INT}
    return _MATCH_PLANS[by], kind.get(spec.match_field, FieldType.STRING)


@dataclass
class BatchOutcome:
    counts: dict[str, int] = field(default_factory=dict)
    ambiguous: list[tuple[int, int]] = field(default_factory=list)  # (row_no, number of matching profiles)
    replaced_fingerprints: list[bytes] = field(default_factory=list)  # taken off profiles by this batch


# A rejected row as the store keeps it: (row_no, cursor value, column, code, message, value, report
# sample as JSON), texts.
KeptRejection = tuple[int, str | None, str | None, str, str, str | None, str]
# Given the ambiguous rows (row_no, matches) found inside a batch's transaction, their kept rejections.
AmbiguousRows = Callable[[list[tuple[int, int]]], Sequence[KeptRejection]]


def written_fields(
    spec: ImportSpec, database: ProfileDatabase, filled: Sequence[str] = ()
) -> tuple[tuple[str, FieldType], ...]:
    """The fields a batch writes, with their types: the mapped ones (never profile_id), then the ones
    ``filled`` by IP location that the mapping does not name."""
    fields = database.all_fields()
    mapped = [m.field for m in spec.mapping if m.field != "profile_id"]
    extra = [name for name in dict.fromkeys(filled) if name not in mapped and name in fields]
    return tuple((name, fields[name].type) for name in (*mapped, *extra))


def plan_for(spec: ImportSpec, database: ProfileDatabase, filled: Sequence[str] = ()) -> sql.BatchPlan:
    match, match_type = match_plan(spec)
    if spec.target.matching.by is MatchBy.CUSTOM and match.profile_column is not None:
        match_type = database.all_fields()[match.profile_column].type
    return sql.BatchPlan(
        tables=Tables(database.name),
        fields=written_fields(spec, database, filled),
        match=match,
        match_type=match_type,
        mode=spec.target.mode,
        skip_unchanged=spec.prevent_duplication.skip_unchanged,
        keep_existing_on_empty=spec.prevent_duplication.keep_existing_on_empty,
        keep_when_empty=frozenset(filled) - {m.field for m in spec.mapping},
        fingerprints=fingerprints_apply(spec),
    )


@contextmanager
def transaction(dialect: StoreDialect, connection: Any, database: str) -> Iterator[Any]:
    """A cursor in one store transaction, begun under the profile database's lock: committed when the
    block ends, rolled back when it raises."""
    cursor = connection.cursor()
    try:
        dialect.begin(cursor, database)
        yield cursor
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        cursor.close()


def ensure_schema(dialect: StoreDialect, connection: Any, database: ProfileDatabase) -> list[SchemaChange]:
    """Create or evolve the database's tables in one transaction."""
    with transaction(dialect, connection, database.name) as cursor:
        return evolve(cursor, dialect, database)


class ProfileWriter:
    """Matches and writes batches of one import run into one profile database."""

    def __init__(
        self,
        dialect: StoreDialect,
        connection: Any,
        spec: ImportSpec,
        database: ProfileDatabase,
        *,
        run_id: str,
        filled_fields: Sequence[str] = (),
    ) -> None:
        self.dialect = dialect
        self.connection = connection
        self.plan = plan_for(spec, database, filled_fields)
        self.database = database
        self.import_name = spec.name
        self.run_id = run_id
        self.record_events = not spec.target.suppress_triggers
        self._key_adapter = dialect.adapter(self.plan.match_type)
        self._names = tuple(name for name, _ in self.plan.fields)
        self._adapters = tuple(dialect.adapter(kind) for _, kind in self.plan.fields)
        self._stage_types = sql.stage_types(dialect, self.plan)
        self._sequence_found = False

    def _stage_rows(self, rows: Sequence[Record], fingerprints: Mapping[int, bytes]) -> list[tuple[Any, ...]]:
        """The stage's tuples, built column by column in C (``map``, ``zip``); values are adapted only
        for the field types the dialect changes."""
        key_adapter = self._key_adapter
        row_numbers = [row.row_no for row in rows]
        keys = [row.key for row in rows]
        values = [row.values for row in rows]
        columns: list[Sequence[Any]] = [
            row_numbers,
            keys if key_adapter is None else list(map(key_adapter, keys)),
            [row.key2 for row in rows],
        ]
        for name, adapt in zip(self._names, self._adapters, strict=True):
            column = list(map(dict.get, values, repeat(name)))
            columns.append(column if adapt is None else [None if v is None else adapt(v) for v in column])
        columns.append(list(map(fingerprints.get, row_numbers)))
        return list(zip(*columns, strict=True))

    def _read(self, read: Callable[[Any], T]) -> T:
        """``read(cursor)`` outside any write transaction, which is ended after: no snapshot or lock kept."""
        cursor = self.connection.cursor()
        try:
            return read(cursor)
        finally:
            cursor.close()
            self.connection.rollback()

    def stored_fingerprints(self, most: int) -> StoredFingerprints | None:
        """Every fingerprint the store holds now, in memory; None when there are more than ``most``."""

        def read(cursor: Any) -> StoredFingerprints | None:
            found = self.dialect.stored_fingerprints(cursor, self.plan.tables.profiles, most)
            return StoredFingerprints(found[1], found[0]) if found is not None else None

        return self._read(read)

    def index_fingerprints(self) -> None:
        """Create the stored fingerprints' index unless it exists (``schema.fingerprint_index``), for a
        run that looks them up per batch. Under the database's lock, in its own transaction."""
        with transaction(self.dialect, self.connection, self.database.name) as cursor:
            cursor.execute(fingerprint_index(self.dialect, self.plan.tables))

    def known_fingerprints(self, fingerprints: Sequence[bytes]) -> set[bytes]:
        """Which source-row fingerprints stored profiles hold."""
        if not fingerprints:
            return set()
        return self._read(
            lambda cursor: self.dialect.known_fingerprints(cursor, self.plan.tables.profiles, fingerprints)
        )

    def start_run(
        self,
        keep_runs: int,
        rereads: Callable[[str | None], bool] | None,
        now: dt.datetime | None = None,
        *,
        masked: bool | None = None,
    ) -> KnownRejections | None:
        """In one transaction before the run's first batch: record the run, delete the rejections of its
        earlier attempts that it reads again (``rereads(cursor value)``; None: every one, the query has no
        cursor) and those of the import's runs older than its last ``keep_runs`` (this one included).
        With fingerprints, first read the import's kept value rejections (``masked``: the run's
        ``mask_contacts``; customer_import.known_rejections)."""
        if keep_runs < 1:
            raise ValueError(f"[customer_import] keep_runs must be 1 or more, not {keep_runs}")
        d, tables = self.dialect, self.plan.tables
        names = (self.import_name, self.run_id)
        known = None
        with transaction(d, self.connection, self.database.name) as cursor:
            if self.plan.fingerprints and masked is not None:
                cursor.execute(rejections_sql.known(d, tables), (self.import_name, MOST))
                known = KnownRejections.of(cursor.fetchall(), masked)
            cursor.execute(
                rejections_sql.register_run(d, tables), (*names, d.timestamp(now or dt.datetime.now(dt.UTC)))
            )
            if rereads is None:
                cursor.execute(rejections_sql.delete_run(d, tables), names)
            else:
                cursor.execute(rejections_sql.run_cursors(d, tables), names)
                again = [int(rid) for rid, value in cursor.fetchall() if rereads(value)]
                for start in range(0, len(again), 500):
                    chunk = again[start : start + 500]
                    cursor.execute(rejections_sql.delete_ids(d, tables, len(chunk)), tuple(chunk))
            for statement in rejections_sql.prune(d, tables):
                cursor.execute(statement, (self.import_name, self.import_name, keep_runs))
        return known

    def _keep_rejections(
        self, cursor: Any, rejected: Sequence[KeptRejection], stamp: Any, fingerprints: Mapping[int, bytes]
    ) -> None:
        """Bulk-load a batch's rejected rows into ``<database>_rejections`` (the caller's transaction); a
        value rejection keeps its row's fingerprint (customer_import.known_rejections)."""
        if not rejected:
            return
        names, d = (self.import_name, self.run_id), self.dialect
        prints = fingerprints.get if self.plan.fingerprints else None
        d.load_stage(
            cursor,
            self.plan.tables.rejections,
            rejections_sql.COLUMNS,
            rejections_sql.column_types(d),
            [
                (
                    *names,
                    *row[:6],
                    stamp,
                    prints(row[0]) if prints is not None and row[3] not in NOT_BY_VALUE else None,
                    row[6],
                )
                for row in rejected
            ],
        )

    def write(
        self,
        rows: Sequence[Record],
        now: dt.datetime | None = None,
        fingerprints: Mapping[int, bytes] | None = None,
        *,
        rejected: Sequence[KeptRejection] = (),
        ambiguous: AmbiguousRows | None = None,
        then: Callable[[Any], None] | None = None,
    ) -> BatchOutcome:
        """Match and write ``rows`` (unique keys) and keep the batch's ``rejected`` rows, with the rows
        the match finds ambiguous (``ambiguous``), in one transaction; return the action counts.
        ``then(cursor)`` runs last in that transaction (a staged batch deleted as it is written)."""
        d, plan = self.dialect, self.plan
        stamp = d.timestamp(now or dt.datetime.now(dt.UTC))
        prints = fingerprints if fingerprints is not None else {}
        if not rows:
            if rejected or then is not None:
                with transaction(d, self.connection, self.database.name) as cursor:
                    self._keep_rejections(cursor, rejected, stamp, prints)
                    if then is not None:
                        then(cursor)
            return BatchOutcome()
        staged = self._stage_rows(rows, fingerprints if self.plan.fingerprints and fingerprints else {})
        subscriptions = [
            (row.row_no, sub.resource, sub.channel, sub.contact, sub.provider, sub.status)
            for row in rows
            for sub in row.subscriptions
        ]
        with transaction(d, self.connection, self.database.name) as cursor:
            if not self._sequence_found:  # once the tables exist; a constant in the statements after
                self.plan = plan = replace(plan, id_sequence=d.id_sequence(cursor, plan.tables.profiles))
                self._sequence_found = True
            for statement in (*sql.stage_ddl(d, plan), *sql.clear_stage(d, plan)):
                cursor.execute(statement)
            d.load_stage(cursor, plan.tables.stage, plan.stage_columns, self._stage_types, staged)
            folded = None if subscriptions else sql.folded_write(d, plan, events=self.record_events)
            if folded is not None:
                outcome = self._write_folded(cursor, folded, stamp)
            else:
                outcome = self._write_statements(cursor, plan, stamp, subscriptions)
            if outcome.ambiguous and ambiguous is not None:
                rejected = [*rejected, *ambiguous(outcome.ambiguous)]
            self._keep_rejections(cursor, rejected, stamp, prints)
            for statement in sql.clear_stage(d, plan):
                cursor.execute(statement)
            if then is not None:
                then(cursor)
        return outcome

    def _write_folded(self, cursor: Any, statement: str, stamp: Any) -> BatchOutcome:
        """The batch's match and writes as one statement (batch_sql.folded_write)."""
        cursor.execute(statement, {"stamp": stamp, "import_name": self.import_name, "run_id": self.run_id})
        outcome = BatchOutcome()
        for action, n, rows, matches, replaced in cursor.fetchall():
            outcome.counts[action] = int(n)
            if rows:
                outcome.ambiguous.extend(zip(map(int, rows), map(int, matches), strict=True))
            if replaced:
                outcome.replaced_fingerprints.extend(map(bytes, replaced))
        return outcome

    def _write_statements(
        self, cursor: Any, plan: sql.BatchPlan, stamp: Any, subscriptions: list[tuple[Any, ...]]
    ) -> BatchOutcome:
        """The batch's match and writes, a statement each (after the stage is loaded)."""
        d = self.dialect
        if subscriptions:
            d.load_stage(
                cursor, plan.tables.stage_subs, sql.SUB_STAGE_COLUMNS, sql.SUB_STAGE_TYPES, subscriptions
            )
        cursor.execute(sql.resolve(d, plan))
        cursor.execute(sql.update(d, plan), (stamp,))
        if (assign := sql.assign_ids(d, plan)) is not None:
            cursor.execute(assign)
        cursor.execute(sql.insert(d, plan), (stamp, stamp))
        if plan.fingerprints:
            cursor.execute(sql.confirm_fingerprints(d, plan))
        if subscriptions:
            cursor.execute(sql.link_subscriptions(d, plan))
            cursor.execute(sql.classify_subscriptions(d, plan))
            cursor.execute(sql.insert_subscriptions(d, plan), (stamp, stamp, stamp))
            cursor.execute(sql.update_subscriptions(d, plan), (stamp, stamp))
            cursor.execute(sql.flag_subscription_changes(d, plan))
        if self.record_events:
            cursor.execute(sql.record_events(d, plan), (self.import_name, self.run_id, stamp))
        cursor.execute(sql.counts(d, plan))
        outcome = BatchOutcome(counts={action: int(n) for action, n in cursor.fetchall()})
        if outcome.counts.get(sql.AMBIGUOUS):
            cursor.execute(sql.ambiguous_rows(d, plan))
            outcome.ambiguous = [(int(r), int(n)) for r, n in cursor.fetchall()]
        if plan.fingerprints:
            cursor.execute(sql.replaced_fingerprints(d, plan))
            outcome.replaced_fingerprints = [bytes(r[0]) for r in cursor.fetchall()]
        return outcome
