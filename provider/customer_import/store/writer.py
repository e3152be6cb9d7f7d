"""Write batches into the profile store: one transaction and a fixed handful of statements per batch."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import FieldType, MatchBy
from customer_import.store import batch_sql as sql
from customer_import.store.dialects import StoreDialect
from customer_import.store.schema import SchemaChange, evolve
from customer_import.store.tables import Tables


@dataclass(frozen=True, slots=True)
class StagedRow:
    """A mapped row ready to write: its run row number, normalised matching key and field values."""

    row_no: int
    key: Any
    values: dict[str, Any]


@dataclass
class BatchOutcome:
    counts: dict[str, int] = field(default_factory=dict)
    ambiguous: list[tuple[int, int]] = field(default_factory=list)  # (row_no, number of matching profiles)


def plan_for(spec: ImportSpec, database: ProfileDatabase) -> sql.BatchPlan:
    fields = database.all_fields()
    mapped = tuple((m.field, fields[m.field].type) for m in spec.mapping if m.field != "profile_id")
    match_column = spec.match_field
    match_type = FieldType.INT if spec.target.matching.by is MatchBy.PROFILE_ID else fields[match_column].type
    return sql.BatchPlan(
        tables=Tables(database.name),
        fields=mapped,
        match_column=match_column,
        match_type=match_type,
        mode=spec.target.mode,
        skip_unchanged=spec.prevent_duplication.skip_unchanged,
        keep_existing_on_empty=spec.prevent_duplication.keep_existing_on_empty,
    )


def ensure_schema(dialect: StoreDialect, connection: Any, database: ProfileDatabase) -> list[SchemaChange]:
    """Create or evolve the database's tables in one transaction."""
    cursor = connection.cursor()
    try:
        dialect.begin(cursor, database.name)
        changes = evolve(cursor, dialect, database)
        connection.commit()
    except BaseException:
        connection.rollback()
        raise
    finally:
        cursor.close()
    return changes


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
    ) -> None:
        self.dialect = dialect
        self.connection = connection
        self.plan = plan_for(spec, database)
        self.database = database
        self.import_name = spec.name
        self.run_id = run_id
        self.record_events = not spec.target.suppress_triggers
        self._match_type = self.plan.match_type

    def write(self, rows: Sequence[StagedRow], now: dt.datetime | None = None) -> BatchOutcome:
        """Match and write ``rows`` (unique keys) in one transaction; return the action counts."""
        if not rows:
            return BatchOutcome()
        d, plan = self.dialect, self.plan
        stamp = d.timestamp(now or dt.datetime.now(dt.UTC))
        staged = [
            (
                row.row_no,
                d.to_db(self._match_type, row.key),
                *(d.to_db(kind, row.values.get(name)) for name, kind in plan.fields),
            )
            for row in rows
        ]
        cursor = self.connection.cursor()
        try:
            d.begin(cursor, self.database.name)
            cursor.execute(sql.stage_ddl(d, plan))
            cursor.execute(sql.clear_stage(d, plan))
            d.load_stage(cursor, plan.tables.stage, plan.stage_columns, staged)
            cursor.execute(sql.match(d, plan))
            cursor.execute(sql.classify(d, plan))
            cursor.execute(sql.update(d, plan), (stamp,))
            cursor.execute(sql.insert(d, plan), (stamp, stamp))
            cursor.execute(sql.link_created(d, plan))
            if self.record_events:
                cursor.execute(sql.record_events(d, plan), (self.import_name, self.run_id, stamp))
            cursor.execute(sql.counts(d, plan))
            outcome = BatchOutcome(counts={action: int(n) for action, n in cursor.fetchall()})
            if outcome.counts.get(sql.AMBIGUOUS):
                cursor.execute(sql.ambiguous_rows(d, plan))
                outcome.ambiguous = [(int(r), int(n)) for r, n in cursor.fetchall()]
            cursor.execute(sql.clear_stage(d, plan))
            self.connection.commit()
        except BaseException:
            self.connection.rollback()
            raise
        finally:
            cursor.close()
        return outcome
