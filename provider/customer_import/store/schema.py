"""Create and evolve a profile database's tables from its definition, never losing data.

Declared fields are recorded in ``customer_import_fields``. A new field adds a column; a field removed
from the definition keeps its column and data; a changed type is refused (it would need a migration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from customer_import.exceptions import StoreSchemaError
from customer_import.fingerprints import FINGERPRINT_COLUMN
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.vocab import FieldType
from customer_import.store import rejections
from customer_import.store.dialects import StoreDialect
from customer_import.store.tables import FIELDS_TABLE, Tables

# Standard fields that are indexed for matching (non-unique: duplicates are found as ambiguous matches).
MATCH_INDEXED = ("email", "phone")


@dataclass(frozen=True)
class SchemaChange:
    description: str


def create_statements(dialect: StoreDialect, tables: Tables) -> list[str]:
    q = dialect.quote
    ts = dialect.timestamp_type
    return [
        f"CREATE TABLE IF NOT EXISTS {q(FIELDS_TABLE)} ("
        f"database_name TEXT NOT NULL, field_name TEXT NOT NULL, field_type TEXT NOT NULL, "
        f"is_unique INTEGER NOT NULL, PRIMARY KEY (database_name, field_name))",
        f"CREATE TABLE IF NOT EXISTS {q(tables.profiles)} (profile_id {dialect.identity_column}, "
        f"created_at {ts} NOT NULL, updated_at {ts} NOT NULL, {FINGERPRINT_COLUMN} {dialect.bytes_type})",
        f"CREATE TABLE IF NOT EXISTS {q(tables.events)} (event_id {dialect.identity_column}, "
        f"profile_id BIGINT NOT NULL, event_type TEXT NOT NULL, import_name TEXT NOT NULL, "
        f"run_id TEXT NOT NULL, occurred_at {ts} NOT NULL)",
        f"CREATE INDEX IF NOT EXISTS {q('ix_' + tables.events + '_profile')} "
        f"ON {q(tables.events)} (profile_id)",
        f"CREATE TABLE IF NOT EXISTS {q(tables.subscriptions)} (subscription_id {dialect.identity_column}, "
        f"profile_id BIGINT NOT NULL, resource TEXT NOT NULL, channel TEXT NOT NULL, contact TEXT NOT NULL, "
        f"provider TEXT, status TEXT NOT NULL, status_changed_at {ts} NOT NULL, created_at {ts} NOT NULL, "
        f"updated_at {ts} NOT NULL)",
        f"CREATE UNIQUE INDEX IF NOT EXISTS {q('ux_' + tables.subscriptions)} "
        f"ON {q(tables.subscriptions)} (profile_id, resource, channel, contact)",
        f"CREATE INDEX IF NOT EXISTS {q('ix_' + tables.subscriptions + '_contact')} "
        f"ON {q(tables.subscriptions)} (channel, contact)",
        *rejections.create_statements(dialect, tables),
    ]


def evolve(cursor: Any, dialect: StoreDialect, database: ProfileDatabase) -> list[SchemaChange]:
    """Bring the tables in line with ``database`` inside the caller's transaction; return what changed."""
    tables = Tables(database.name)
    q, p = dialect.quote, dialect.param
    for statement in create_statements(dialect, tables):
        cursor.execute(statement)
    cursor.execute(
        f"SELECT field_name, field_type, is_unique FROM {q(FIELDS_TABLE)} WHERE database_name = {p}",
        (database.name,),
    )
    recorded = {name: (FieldType(kind), bool(unique)) for name, kind, unique in cursor.fetchall()}
    columns = dialect.existing_columns(cursor, tables.profiles)
    changes: list[SchemaChange] = []
    kept = dialect.existing_columns(cursor, tables.rejections)
    for name, kind in zip(rejections.COLUMNS, rejections.column_types(dialect), strict=True):
        if name in rejections.ADDED_COLUMNS and name not in kept:  # a rejections table from before
            cursor.execute(f"ALTER TABLE {q(tables.rejections)} ADD COLUMN {q(name)} {kind}")
    if FINGERPRINT_COLUMN not in columns:  # a store created before fingerprints existed
        cursor.execute(
            f"ALTER TABLE {q(tables.profiles)} ADD COLUMN {FINGERPRINT_COLUMN} {dialect.bytes_type}"
        )
        changes.append(SchemaChange(f"added column {FINGERPRINT_COLUMN} (skips unchanged source rows)"))
    conflicts = []
    for name, definition in database.all_fields().items():
        before = recorded.get(name)
        if before is not None and before[0] is not definition.type:
            conflicts.append(
                f"field {name!r} is stored as {before[0].value} but declared as {definition.type.value}"
            )
            continue
        if name not in columns:
            cursor.execute(
                f"ALTER TABLE {q(tables.profiles)} ADD COLUMN {q(name)} {dialect.column_type(definition.type)}"
            )
            changes.append(SchemaChange(f"added column {name} ({definition.type.value})"))
        was_unique = before[1] if before else False
        if name in MATCH_INDEXED:
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {q(tables.index(name, False))} ON {q(tables.profiles)} ({q(name)})"
            )
        if definition.unique and not was_unique:
            cursor.execute(
                f"CREATE UNIQUE INDEX IF NOT EXISTS {q(tables.index(name, True))} "
                f"ON {q(tables.profiles)} ({q(name)})"
            )
            changes.append(SchemaChange(f"made {name} unique"))
        elif was_unique and not definition.unique:
            cursor.execute(f"DROP INDEX IF EXISTS {q(tables.index(name, True))}")
            changes.append(SchemaChange(f"made {name} no longer unique"))
        if before != (definition.type, definition.unique):
            cursor.execute(
                f"DELETE FROM {q(FIELDS_TABLE)} WHERE database_name = {p} AND field_name = {p}",
                (database.name, name),
            )
            cursor.execute(
                f"INSERT INTO {q(FIELDS_TABLE)} (database_name, field_name, field_type, is_unique) "
                f"VALUES ({p}, {p}, {p}, {p})",
                (database.name, name, definition.type.value, int(definition.unique)),
            )
    if conflicts:
        raise StoreSchemaError(
            f"profile database {database.name!r} cannot be evolved without losing data: "
            + "; ".join(conflicts)
            + ". Keep the stored type, or add a new field and migrate the values."
        )
    return changes


def fingerprint_index(dialect: StoreDialect, tables: Tables) -> str:
    """The index a run needs only when it looks stored fingerprints up per batch (a store with more
    than ``fingerprint_cache_mb`` holds). It is not created with the tables: every profile write would
    pay for it (an insert into a random place of a fifth index; measured at 1M benchmark rows, the
    folded write took 19.8 s with it, 14.0 s without). A run that needs it creates it (docs/decisions/0010)."""
    q = dialect.quote
    return (
        f"CREATE INDEX IF NOT EXISTS {q(tables.index(FINGERPRINT_COLUMN, False))} "
        f"ON {q(tables.profiles)} ({FINGERPRINT_COLUMN})"
    )


def stored_field_types(cursor: Any, dialect: StoreDialect, database_name: str) -> dict[str, FieldType]:
    """Every field ever declared for the database (removed ones keep their column and data)."""
    cursor.execute(
        f"SELECT field_name, field_type FROM {dialect.quote(FIELDS_TABLE)} WHERE database_name = {dialect.param}",
        (database_name,),
    )
    return {name: FieldType(kind) for name, kind in cursor.fetchall()}
