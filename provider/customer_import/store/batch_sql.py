"""Pure builders of the set-based statements that match and write one batch (tested as strings).

A batch is loaded into staging tables, then a fixed handful of statements match it against the stored
profiles, decide each row's action, update, insert, write subscriptions and record events, whatever the
batch size:

    stage(row_no, match_key, match_key2, <mapped fields>, fingerprint, stored_fingerprint, profile_id,
          match_count, action, subs_changed)
    stage_subs(row_no, resource, channel, contact, provider, status, profile_id, sub_action)

Profile actions: ``create``, ``update``, ``unchanged``, ``skip`` (the mode says leave it), ``ambiguous``.
Subscription actions: ``create``, ``update``, ``unchanged``.
"""

from __future__ import annotations

from dataclasses import dataclass

from customer_import.fingerprints import FINGERPRINT_COLUMN
from customer_import.spec.vocab import FieldType, ImportMode
from customer_import.store.dialects import StoreDialect
from customer_import.store.tables import Tables

CREATE, UPDATE, UNCHANGED, SKIP, AMBIGUOUS = "create", "update", "unchanged", "skip", "ambiguous"
SUBSCRIBED, UNCONFIRMED = "subscribed", "unconfirmed"


@dataclass(frozen=True)
class MatchPlan:
    """Where a row's key is looked up: a profile column, subscriptions of some channels, or both."""

    profile_column: str | None  # "email", "phone", "profile_id" or a unique custom field
    channels: tuple[str, ...] = ()  # subscriptions whose contact is the key (email; sms/whatsapp/viber; push)
    with_provider: bool = False  # push: the key is (token, provider)


@dataclass(frozen=True)
class BatchPlan:
    """What one import writes: which fields, matched how, in which mode."""

    tables: Tables
    fields: tuple[tuple[str, FieldType], ...]  # written profile fields (never profile_id), in stage order
    match: MatchPlan
    match_type: FieldType
    mode: ImportMode
    skip_unchanged: bool
    keep_existing_on_empty: bool
    # Fields filled by IP location: an address without a location never erases a stored value.
    keep_when_empty: frozenset[str] = frozenset()
    # Whether rows carry source fingerprints (customer_import.fingerprints) to keep on their profiles.
    fingerprints: bool = False
    # The profile id sequence, where the store numbers new profiles with one (StoreDialect.id_sequence).
    id_sequence: str | None = None

    @property
    def stage_columns(self) -> tuple[str, ...]:
        """Columns bulk-loaded into the stage, in order."""
        return ("row_no", "match_key", "match_key2", *(name for name, _ in self.fields), "fingerprint")


SUB_STAGE_COLUMNS = ("row_no", "resource", "channel", "contact", "provider", "status")
SUB_STAGE_TYPES = ("BIGINT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT")


def stage_types(dialect: StoreDialect, plan: BatchPlan) -> tuple[str, ...]:
    """The SQL types of ``plan.stage_columns``, in order (the stage's DDL and its binary COPY)."""
    key_type = "BIGINT" if plan.match.profile_column == "profile_id" else dialect.column_type(plan.match_type)
    return (
        "BIGINT",
        key_type,
        "TEXT",
        *(dialect.column_type(kind) for _, kind in plan.fields),
        dialect.bytes_type,
    )


def stage_ddl(dialect: StoreDialect, plan: BatchPlan) -> list[str]:
    row_no, key, key2, *fields, fingerprint = stage_types(dialect, plan)
    columns = [
        f"row_no {row_no} NOT NULL",
        f"match_key {key} NOT NULL",
        f"match_key2 {key2}",
        *(f"{dialect.quote(name)} {kind}" for (name, _), kind in zip(plan.fields, fields, strict=True)),
        f"fingerprint {fingerprint}",
        f"stored_fingerprint {dialect.bytes_type}",
        "profile_id BIGINT",
        "match_count INTEGER NOT NULL DEFAULT 0",
        "action TEXT",
        "subs_changed INTEGER NOT NULL DEFAULT 0",
    ]
    subs = [
        *(
            f"{name} {kind}" + ("" if name == "provider" else " NOT NULL")
            for name, kind in zip(SUB_STAGE_COLUMNS, SUB_STAGE_TYPES, strict=True)
        ),
        "profile_id BIGINT",
        "sub_action TEXT",
    ]
    return [
        dialect.create_stage(plan.tables.stage, ", ".join(columns)),
        dialect.create_stage(plan.tables.stage_subs, ", ".join(subs)),
    ]


def clear_stage(dialect: StoreDialect, plan: BatchPlan) -> list[str]:
    """Empty the stage tables (before and after a batch), unless the transaction's end does."""
    if dialect.stage_emptied_on_commit:
        return []
    return [f"DELETE FROM {dialect.quote(t)}" for t in (plan.tables.stage, plan.tables.stage_subs)]


def _candidates(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Every (profile_id, k[, k2]) a key can match: profile column values and/or subscription contacts."""
    q = dialect.quote
    parts = []
    if plan.match.profile_column is not None:
        column = q(plan.match.profile_column)
        parts.append(
            f"SELECT profile_id, {column} AS k FROM {q(plan.tables.profiles)} WHERE {column} IS NOT NULL"
        )
    if plan.match.channels:
        channels = ", ".join(f"'{c}'" for c in plan.match.channels)
        k2 = ", provider AS k2" if plan.match.with_provider else ""
        parts.append(
            f"SELECT profile_id, contact AS k{k2} FROM {q(plan.tables.subscriptions)} WHERE channel IN ({channels})"
        )
    return " UNION ALL ".join(parts)


def _new_value(
    dialect: StoreDialect, plan: BatchPlan, name: str, stage_alias: str, profile_alias: str
) -> str:
    """The value a field gets on update (an empty source value keeps the stored one if asked)."""
    column = dialect.quote(name)
    if plan.keep_existing_on_empty or name in plan.keep_when_empty:
        return f"COALESCE({stage_alias}.{column}, {profile_alias}.{column})"
    return f"{stage_alias}.{column}"


def _resolution(dialect: StoreDialect, plan: BatchPlan, stage: str) -> tuple[str, list[str], list[str]]:
    """A stage row's matching profiles (``found``, aliased ``m``; the matched profile joins as ``p``), and
    the columns it resolves with the expressions giving them: profile_id, match_count, action and, with
    fingerprints, stored_fingerprint."""
    on = f"c.k = {stage}.match_key" + (f" AND c.k2 = {stage}.match_key2" if plan.match.with_provider else "")
    found = (
        f"SELECT min(c.profile_id) AS pid, count(DISTINCT c.profile_id) AS n "
        f"FROM ({_candidates(dialect, plan)}) c WHERE {on}"
    )
    differs = " OR ".join(
        f"{_new_value(dialect, plan, name, stage, 'p')} IS DISTINCT FROM p.{dialect.quote(name)}"
        for name, _ in plan.fields
    )
    if plan.mode is ImportMode.INSERT_ONLY:
        on_match = f"'{SKIP}'"
    elif differs:
        # A subscription may name a profile that is gone (no foreign key): nothing to update then.
        on_match = (
            f"CASE WHEN p.profile_id IS NOT NULL AND ({differs}) THEN '{UPDATE}' ELSE '{UNCHANGED}' END"
        )
    else:
        on_match = f"'{UNCHANGED}'"
    creates = plan.mode is not ImportMode.UPDATE_ONLY
    on_new = f"'{CREATE}'" if creates else f"'{SKIP}'"
    new_id = dialect.new_profile_id(plan.tables.profiles, plan.id_sequence) if creates else None
    targets = ["profile_id", "match_count", "action"]
    values = [
        f"CASE WHEN m.n = 0 THEN {new_id} ELSE m.pid END" if new_id else "m.pid",
        "m.n",
        f"CASE WHEN m.n > 1 THEN '{AMBIGUOUS}' WHEN m.n = 1 THEN {on_match} ELSE {on_new} END",
    ]
    if plan.fingerprints:
        targets.append("stored_fingerprint")
        values.append(f"p.{FINGERPRINT_COLUMN}")
    return found, targets, values


def resolve(dialect: StoreDialect, plan: BatchPlan) -> str:
    """One pass over the stage: each row's matching profiles (count, and the first), its action from the
    count, the mode and whether any field changes, and, where the dialect can (``new_profile_id``), the
    id of a profile to create; with fingerprints also the one the matched profile holds (the batch may
    replace it: replaced_fingerprints).

    Correlated subqueries: the key condition reaches each candidate table's index, so a batch costs an
    index probe or two per row whatever the store's size (a join was planned as a scan of every profile).
    """
    q = dialect.quote
    stage, profiles = q(plan.tables.stage), q(plan.tables.profiles)
    found, targets, values = _resolution(dialect, plan, stage)
    return (
        f"UPDATE {stage} SET ({', '.join(targets)}) = (SELECT {', '.join(values)} "
        f"FROM ({found}) m LEFT JOIN {profiles} p ON p.profile_id = m.pid AND m.n = 1)"
    )


def update(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Write changed (and, without skip_unchanged, identical) matched rows in place; profile_id stays."""
    q = dialect.quote
    stage, profiles = q(plan.tables.stage), q(plan.tables.profiles)
    assignments = [f"{q(name)} = {_new_value(dialect, plan, name, 's', profiles)}" for name, _ in plan.fields]
    # Every profile write replaces the fingerprint (NULL from an import without): see fingerprints.py.
    assignments.append(f"{FINGERPRINT_COLUMN} = s.fingerprint")
    assignments.append(f"updated_at = {dialect.param}")
    actions = f"('{UPDATE}')" if plan.skip_unchanged else f"('{UPDATE}', '{UNCHANGED}')"
    return (
        f"UPDATE {profiles} SET {', '.join(assignments)} FROM {stage} s "
        f"WHERE s.profile_id = {profiles}.profile_id AND s.action IN {actions}"
    )


def assign_ids(dialect: StoreDialect, plan: BatchPlan) -> str | None:
    """Give the rows to create their profile_id before inserting (so every row knows its profile), where
    ``resolve`` did not (a dialect without ``new_profile_id``)."""
    if dialect.new_profile_id(plan.tables.profiles, plan.id_sequence) is not None:
        return None
    return dialect.assign_ids(plan.tables.stage, plan.tables.profiles, f"action = '{CREATE}'")


def insert(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Create profiles for the rows to create, with their assigned ids, in source order."""
    q = dialect.quote
    names = [q(name) for name, _ in plan.fields]
    columns = ", ".join(["profile_id", *names])
    p = dialect.param
    return (
        f"INSERT INTO {q(plan.tables.profiles)} ({columns}, {FINGERPRINT_COLUMN}, created_at, updated_at) "
        f"SELECT {columns}, fingerprint, {p}, {p} FROM {q(plan.tables.stage)} "
        f"WHERE action = '{CREATE}' ORDER BY row_no"
    )


def confirm_fingerprints(dialect: StoreDialect, plan: BatchPlan) -> str:
    """An unchanged profile keeps the fingerprint of the row that found it unchanged (nothing else
    changes: not updated_at, no event), so the next run can skip that row without mapping it."""
    q = dialect.quote
    stage, profiles = q(plan.tables.stage), q(plan.tables.profiles)
    return (
        f"UPDATE {profiles} SET {FINGERPRINT_COLUMN} = s.fingerprint FROM {stage} s "
        f"WHERE s.profile_id = {profiles}.profile_id AND s.action = '{UNCHANGED}' "
        f"AND s.fingerprint IS NOT NULL AND {profiles}.{FINGERPRINT_COLUMN} IS DISTINCT FROM s.fingerprint"
    )


def replaced_fingerprints(dialect: StoreDialect, plan: BatchPlan) -> str:
    """The fingerprints this batch's update and confirm_fingerprints took off their profiles."""
    return (
        f"SELECT stored_fingerprint FROM {dialect.quote(plan.tables.stage)} "
        f"WHERE action IN ('{UPDATE}', '{UNCHANGED}') AND stored_fingerprint IS NOT NULL "
        f"AND (fingerprint IS NULL OR fingerprint <> stored_fingerprint)"
    )


# --- subscriptions ------------------------------------------------------------------------------------


def _same_subscription(x: str, ss: str) -> str:
    return (
        f"{x}.profile_id = {ss}.profile_id AND {x}.resource = {ss}.resource "
        f"AND {x}.channel = {ss}.channel AND {x}.contact = {ss}.contact"
    )


def _new_status(ss: str, x: str) -> str:
    """An import saying ``unconfirmed`` never demotes a confirmed subscription (double opt-in is done)."""
    return (
        f"CASE WHEN {ss}.status = '{UNCONFIRMED}' AND {x}.status = '{SUBSCRIBED}' "
        f"THEN {x}.status ELSE {ss}.status END"
    )


def link_subscriptions(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Subscriptions follow their row's profile when it is created, updated or unchanged (not skipped)."""
    q = dialect.quote
    subs, stage = q(plan.tables.stage_subs), q(plan.tables.stage)
    return (
        f"UPDATE {subs} SET profile_id = s.profile_id FROM {stage} s WHERE s.row_no = {subs}.row_no "
        f"AND s.action IN ('{CREATE}', '{UPDATE}', '{UNCHANGED}')"
    )


def classify_subscriptions(dialect: StoreDialect, plan: BatchPlan) -> str:
    q = dialect.quote
    ss, table = q(plan.tables.stage_subs), q(plan.tables.subscriptions)
    same = _same_subscription("x", ss)
    return (
        f"UPDATE {ss} SET sub_action = CASE "
        f"WHEN NOT EXISTS (SELECT 1 FROM {table} x WHERE {same}) THEN '{CREATE}' "
        f"WHEN EXISTS (SELECT 1 FROM {table} x WHERE {same} AND {_new_status(ss, 'x')} IS DISTINCT FROM x.status) "
        f"THEN '{UPDATE}' ELSE '{UNCHANGED}' END WHERE profile_id IS NOT NULL"
    )


def insert_subscriptions(dialect: StoreDialect, plan: BatchPlan) -> str:
    q, p = dialect.quote, dialect.param
    return (
        f"INSERT INTO {q(plan.tables.subscriptions)} (profile_id, resource, channel, contact, provider, status, "
        f"status_changed_at, created_at, updated_at) "
        f"SELECT profile_id, resource, channel, contact, provider, status, {p}, {p}, {p} "
        f"FROM {q(plan.tables.stage_subs)} WHERE sub_action = '{CREATE}' ORDER BY row_no"
    )


def update_subscriptions(dialect: StoreDialect, plan: BatchPlan) -> str:
    """A status change records when it happened."""
    q, p = dialect.quote, dialect.param
    table, ss = q(plan.tables.subscriptions), "ss"
    return (
        f"UPDATE {table} SET status = {_new_status(ss, table)}, provider = COALESCE({ss}.provider, {table}.provider), "
        f"status_changed_at = {p}, updated_at = {p} FROM {q(plan.tables.stage_subs)} {ss} "
        f"WHERE {ss}.sub_action = '{UPDATE}' AND {_same_subscription(table, ss)}"
    )


def flag_subscription_changes(dialect: StoreDialect, plan: BatchPlan) -> str:
    q = dialect.quote
    stage, ss = q(plan.tables.stage), q(plan.tables.stage_subs)
    return (
        f"UPDATE {stage} SET subs_changed = 1 WHERE row_no IN "
        f"(SELECT row_no FROM {ss} WHERE sub_action IN ('{CREATE}', '{UPDATE}'))"
    )


# --- events and counts --------------------------------------------------------------------------------


def record_events(dialect: StoreDialect, plan: BatchPlan) -> str:
    """One profile-change event per created or changed profile (never for unchanged ones)."""
    q, p = dialect.quote, dialect.param
    return (
        f"INSERT INTO {q(plan.tables.events)} (profile_id, event_type, import_name, run_id, occurred_at) "
        f"SELECT profile_id, CASE action WHEN '{CREATE}' THEN 'created' WHEN '{UPDATE}' THEN 'updated' "
        f"ELSE 'subscription_changed' END, {p}, {p}, {p} FROM {q(plan.tables.stage)} "
        f"WHERE action IN ('{CREATE}', '{UPDATE}') OR (action = '{UNCHANGED}' AND subs_changed = 1) ORDER BY row_no"
    )


def counts(dialect: StoreDialect, plan: BatchPlan) -> str:
    """Rows per action; an unchanged profile whose subscriptions changed counts as updated."""
    return (
        f"SELECT CASE WHEN action = '{UNCHANGED}' AND subs_changed = 1 THEN '{UPDATE}' ELSE action END, count(*) "
        f"FROM {dialect.quote(plan.tables.stage)} GROUP BY 1"
    )


def ambiguous_rows(dialect: StoreDialect, plan: BatchPlan) -> str:
    return (
        f"SELECT row_no, match_count FROM {dialect.quote(plan.tables.stage)} "
        f"WHERE action = '{AMBIGUOUS}' ORDER BY row_no"
    )


# --- the whole batch in one statement -----------------------------------------------------------------


def folded_write(dialect: StoreDialect, plan: BatchPlan, *, events: bool) -> str | None:
    """A batch without subscriptions matched and written in one statement, where the dialect can
    (``folds_writes``: data-modifying CTEs): ``resolve``, ``update`` with ``confirm_fingerprints``,
    ``insert``, ``record_events``, ``counts``, ``ambiguous_rows`` and ``replaced_fingerprints`` as one
    pass. The stage is read once and never rewritten (``resolve`` writes a new version of every stage
    row), and the statements' round trips are saved. Parameters by name: stamp, import_name, run_id.

    It returns one row per action: (action, rows, ambiguous row numbers, their match counts, replaced
    fingerprints), the arrays in row order and NULL where empty.

    Every part sees the store as the statement began, as the separate statements saw it under the
    batch's lock: the update and the insert touch different profiles (a created profile is new), and a
    profile is updated once (an update writes the row's fingerprint, which is all a confirmation does).
    """
    if not dialect.folds_writes:
        return None
    q = dialect.quote
    stage, profiles = q(plan.tables.stage), q(plan.tables.profiles)
    found, targets, values = _resolution(dialect, plan, "s")
    names = [q(name) for name, _ in plan.fields]
    # The matched profile is joined inside the lateral subquery: an index probe per row (joined outside,
    # it was planned as a hash join over every stored profile).
    resolved = (
        f"r AS MATERIALIZED (SELECT s.row_no, s.fingerprint, {''.join(f's.{n}, ' for n in names)}"
        + ", ".join(f"x.{target}" for target in targets)
        + ("" if plan.fingerprints else f", NULL::{dialect.bytes_type} AS stored_fingerprint")
        + f" FROM {stage} s CROSS JOIN LATERAL (SELECT "
        + ", ".join(f"{value} AS {target}" for target, value in zip(targets, values, strict=True))
        + f" FROM ({found}) m LEFT JOIN {profiles} p ON p.profile_id = m.pid AND m.n = 1) x)"
    )
    written = f"('{UPDATE}')" if plan.skip_unchanged else f"('{UPDATE}', '{UNCHANGED}')"
    confirms = plan.fingerprints and plan.skip_unchanged
    if confirms:
        # An unchanged profile only takes the fingerprint of the row that found it unchanged.
        def kept(column: str, value: str) -> str:
            return f"CASE WHEN r.action IN {written} THEN {value} ELSE t.{column} END"

        which = (
            f"(r.action IN {written} OR (r.action = '{UNCHANGED}' AND r.fingerprint IS NOT NULL "
            f"AND t.{FINGERPRINT_COLUMN} IS DISTINCT FROM r.fingerprint))"
        )
    else:

        def kept(column: str, value: str) -> str:
            return value

        which = f"r.action IN {written}"
    assignments = [
        *(
            f"{q(name)} = {kept(q(name), _new_value(dialect, plan, name, 'r', 't'))}"
            for name, _ in plan.fields
        ),
        f"{FINGERPRINT_COLUMN} = r.fingerprint",
        f"updated_at = {kept('updated_at', '%(stamp)s')}",
    ]
    columns = ", ".join(["profile_id", *names])
    parts = [
        resolved,
        f"u AS (UPDATE {profiles} t SET {', '.join(assignments)} FROM r "
        f"WHERE r.profile_id = t.profile_id AND {which})",
        f"i AS (INSERT INTO {profiles} ({columns}, {FINGERPRINT_COLUMN}, created_at, updated_at) "
        f"SELECT {columns}, fingerprint, %(stamp)s, %(stamp)s FROM r WHERE action = '{CREATE}' ORDER BY row_no)",
    ]
    if events:
        parts.append(
            f"e AS (INSERT INTO {q(plan.tables.events)} (profile_id, event_type, import_name, run_id, "
            f"occurred_at) SELECT profile_id, CASE action WHEN '{CREATE}' THEN 'created' ELSE 'updated' END, "
            f"%(import_name)s, %(run_id)s, %(stamp)s FROM r WHERE action IN ('{CREATE}', '{UPDATE}') "
            "ORDER BY row_no)"
        )
    ambiguous = f"FILTER (WHERE action = '{AMBIGUOUS}')"
    replaced = (
        f"array_agg(stored_fingerprint) FILTER (WHERE action IN ('{UPDATE}', '{UNCHANGED}') "
        "AND stored_fingerprint IS NOT NULL AND (fingerprint IS NULL OR fingerprint <> stored_fingerprint))"
        if plan.fingerprints
        else "NULL"
    )
    return (
        f"WITH {', '.join(parts)} SELECT action, count(*), array_agg(row_no ORDER BY row_no) {ambiguous}, "
        f"array_agg(match_count ORDER BY row_no) {ambiguous}, {replaced} FROM r GROUP BY action"
    )
