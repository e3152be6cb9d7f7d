"""Pure builders of the set-based statements that match and write one batch (tested as strings).

A batch is loaded into a staging table, then a fixed handful of statements match it against the stored
profiles, decide each row's action, update, insert and record events, whatever the batch size:

    stage(row_no, match_key, <mapped fields>, profile_id, match_count, action)

Actions: ``create``, ``update``, ``unchanged``, ``skip`` (the mode says leave it), ``ambiguous``.
"""

from __future__ import annotations

from dataclasses import dataclass

from customer_import.spec.vocab import FieldType, ImportMode
from customer_import.store.dialects import StoreDialect
from customer_import.store.tables import Tables

CREATE, UPDATE, UNCHANGED, SKIP, AMBIGUOUS = "create", "update", "unchanged", "skip", "ambiguous"
ACTIONS = (CREATE, UPDATE, UNCHANGED, SKIP, AMBIGUOUS)


@dataclass(frozen=True)
class BatchPlan:
    """What one import writes: which fields, matched how, in which mode."""

    tables: Tables
    fields: tuple[tuple[str, FieldType], ...]  # mapped profile fields (never profile_id), in stage order
    match_column: str  # the profile column matched on (profile_id, email, phone or a unique custom field)
    match_type: FieldType
    mode: ImportMode
    skip_unchanged: bool
    keep_existing_on_empty: bool

    @property
    def stage_columns(self) -> tuple[str, ...]:
        """Columns bulk-loaded into the stage, in order."""
        return ("row_no", "match_key", *(name for name, _ in self.fields))


def stage_ddl(dialect: StoreDialect, plan: BatchPlan) -> str:
    q = dialect.quote
    match_type = "BIGINT" if plan.match_column == "profile_id" else dialect.column_type(plan.match_type)
    columns = [
        "row_no BIGINT NOT NULL",
        f"match_key {match_type} NOT NULL",
        *(f"{q(name)} {dialect.column_type(kind)}" for name, kind in plan.fields),
        "profile_id BIGINT",
        "match_count INTEGER NOT NULL DEFAULT 0",
        "action TEXT",
    ]
    return dialect.create_stage(plan.tables.stage, ", ".join(columns))


def clear_stage(dialect: StoreDialect, plan: BatchPlan) -> str:
    return f"DELETE FROM {dialect.quote(plan.tables.stage)}"


def match(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Count the stored profiles having each row's key, and remember the (first) one."""
    q = dialect.quote
    stage, profiles, key = q(plan.tables.stage), q(plan.tables.profiles), q(plan.match_column)
    return (
        f"UPDATE {stage} SET profile_id = m.profile_id, match_count = m.n FROM ("
        f"SELECT p.{key} AS match_key, min(p.profile_id) AS profile_id, count(*) AS n "
        f"FROM {profiles} p WHERE p.{key} IN (SELECT s.match_key FROM {stage} s) GROUP BY p.{key}"
        f") m WHERE m.match_key = {stage}.match_key"
    )


def _new_value(
    dialect: StoreDialect, plan: BatchPlan, name: str, stage_alias: str, profile_alias: str
) -> str:
    """The value a field gets on update (an empty source value keeps the stored one if asked)."""
    column = dialect.quote(name)
    if plan.keep_existing_on_empty:
        return f"COALESCE({stage_alias}.{column}, {profile_alias}.{column})"
    return f"{stage_alias}.{column}"


def classify(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Set every staged row's action from its match count, the mode and whether anything changes."""
    q = dialect.quote
    stage, profiles = q(plan.tables.stage), q(plan.tables.profiles)
    differs = " OR ".join(
        f"{_new_value(dialect, plan, name, stage, 'p')} IS DISTINCT FROM p.{q(name)}"
        for name, _ in plan.fields
    )
    changed = (
        f"EXISTS (SELECT 1 FROM {profiles} p WHERE p.profile_id = {stage}.profile_id AND ({differs}))"
        if differs
        else "1 = 0"
    )
    on_match = (
        f"'{SKIP}'"
        if plan.mode is ImportMode.INSERT_ONLY
        else (f"CASE WHEN {changed} THEN '{UPDATE}' ELSE '{UNCHANGED}' END")
    )
    on_new = f"'{SKIP}'" if plan.mode is ImportMode.UPDATE_ONLY else f"'{CREATE}'"
    return (
        f"UPDATE {stage} SET action = CASE WHEN match_count > 1 THEN '{AMBIGUOUS}' "
        f"WHEN match_count = 1 THEN {on_match} ELSE {on_new} END"
    )


def update(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Write changed (and, without skip_unchanged, identical) matched rows in place; profile_id stays."""
    q = dialect.quote
    stage, profiles = q(plan.tables.stage), q(plan.tables.profiles)
    assignments = [f"{q(name)} = {_new_value(dialect, plan, name, 's', profiles)}" for name, _ in plan.fields]
    assignments.append(f"updated_at = {dialect.param}")
    actions = f"('{UPDATE}')" if plan.skip_unchanged else f"('{UPDATE}', '{UNCHANGED}')"
    return (
        f"UPDATE {profiles} SET {', '.join(assignments)} FROM {stage} s "
        f"WHERE s.profile_id = {profiles}.profile_id AND s.action IN {actions}"
    )


def insert(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Create profiles for the rows to create, in source order."""
    q = dialect.quote
    names = [q(name) for name, _ in plan.fields]
    p = dialect.param
    return (
        f"INSERT INTO {q(plan.tables.profiles)} ({', '.join(names)}, created_at, updated_at) "
        f"SELECT {', '.join(names)}, {p}, {p} FROM {q(plan.tables.stage)} WHERE action = '{CREATE}' ORDER BY row_no"
    )


def link_created(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Give created rows their new profile_id (keys are unique within a batch)."""
    q = dialect.quote
    stage, profiles, key = q(plan.tables.stage), q(plan.tables.profiles), q(plan.match_column)
    return (
        f"UPDATE {stage} SET profile_id = p.profile_id FROM {profiles} p "
        f"WHERE {stage}.action = '{CREATE}' AND p.{key} = {stage}.match_key"
    )


def record_events(dialect: StoreDialect, plan: BatchPlan) -> str:
    """One profile-change event per created or changed profile (never for unchanged ones)."""
    q, p = dialect.quote, dialect.param
    return (
        f"INSERT INTO {q(plan.tables.events)} (profile_id, event_type, import_name, run_id, occurred_at) "
        f"SELECT profile_id, CASE action WHEN '{CREATE}' THEN 'created' ELSE 'updated' END, {p}, {p}, {p} "
        f"FROM {q(plan.tables.stage)} WHERE action IN ('{CREATE}', '{UPDATE}') ORDER BY row_no"
    )


def counts(dialect: StoreDialect, plan: BatchPlan) -> str:
    return f"SELECT action, count(*) FROM {dialect.quote(plan.tables.stage)} GROUP BY action"


def ambiguous_rows(dialect: StoreDialect, plan: BatchPlan) -> str:
    return (
        f"SELECT row_no, match_count FROM {dialect.quote(plan.tables.stage)} "
        f"WHERE action = '{AMBIGUOUS}' ORDER BY row_no"
    )
