"""The batch statements are pure functions of the plan: compared as strings, per store dialect."""

from __future__ import annotations

import dataclasses

import pytest

from customer_import.spec.vocab import FieldType, ImportMode
from customer_import.store import batch_sql as sql
from customer_import.store.dialects import PostgresStore, SqliteStore, StoreDialect
from customer_import.store.tables import Tables


def plan(
    mode: ImportMode = ImportMode.UPSERT,
    *,
    skip: bool = True,
    keep: bool = False,
    match: sql.MatchPlan | None = None,
) -> sql.BatchPlan:
    return sql.BatchPlan(
        tables=Tables("shop"),
        fields=(("email", FieldType.EMAIL), ("ltv", FieldType.FLOAT)),
        match=match or sql.MatchPlan(profile_column="email"),
        match_type=FieldType.EMAIL,
        mode=mode,
        skip_unchanged=skip,
        keep_existing_on_empty=keep,
    )


STAGE = '"customer_import_stage_shop"'
CHANGED = f'{STAGE}."email" IS DISTINCT FROM p."email" OR {STAGE}."ltv" IS DISTINCT FROM p."ltv"'
GUARDED = f"p.profile_id IS NOT NULL AND ({CHANGED})"  # a matched subscription's profile may be gone


def test_resolve_matches_classifies_and_numbers_new_profiles_in_one_statement() -> None:
    assert sql.resolve(PostgresStore(), plan()) == (
        f"UPDATE {STAGE} SET (profile_id, match_count, action) = (SELECT "
        "CASE WHEN m.n = 0 THEN nextval(pg_get_serial_sequence('\"shop_profiles\"', 'profile_id')) "
        "ELSE m.pid END, m.n, "
        "CASE WHEN m.n > 1 THEN 'ambiguous' WHEN m.n = 1 THEN "
        f"CASE WHEN p.profile_id IS NOT NULL AND ({CHANGED}) THEN 'update' ELSE 'unchanged' END ELSE 'create' END "
        "FROM (SELECT min(c.profile_id) AS pid, count(DISTINCT c.profile_id) AS n "
        'FROM (SELECT profile_id, "email" AS k FROM "shop_profiles" WHERE "email" IS NOT NULL) c '
        f"WHERE c.k = {STAGE}.match_key) m "
        'LEFT JOIN "shop_profiles" p ON p.profile_id = m.pid AND m.n = 1)'
    )
    assert sql.assign_ids(PostgresStore(), plan()) is None  # the sequence numbered them in resolve


def test_sqlite_numbers_new_profiles_after_resolving_them() -> None:
    statement = sql.resolve(SqliteStore(), plan())
    assert statement.startswith(
        f"UPDATE {STAGE} SET (profile_id, match_count, action) = (SELECT m.pid, m.n, "
    )
    assert "nextval" not in statement
    assign = sql.assign_ids(SqliteStore(), plan())
    assert assign is not None and "row_number() OVER (ORDER BY row_no)" in assign
    assert "WHERE action = 'create'" in assign


def test_match_by_email_looks_in_profiles_and_email_subscriptions() -> None:
    statement = sql.resolve(
        PostgresStore(), plan(match=sql.MatchPlan(profile_column="email", channels=("email",)))
    )
    assert (
        'SELECT profile_id, "email" AS k FROM "shop_profiles" WHERE "email" IS NOT NULL UNION ALL '
        "SELECT profile_id, contact AS k FROM \"shop_subscriptions\" WHERE channel IN ('email')"
    ) in statement


def test_match_by_push_subscription_uses_token_and_provider() -> None:
    statement = sql.resolve(
        SqliteStore(), plan(match=sql.MatchPlan(None, channels=("push",), with_provider=True))
    )
    assert (
        "SELECT profile_id, contact AS k, provider AS k2 FROM \"shop_subscriptions\" WHERE channel IN ('push')"
        in statement
    )
    assert f"WHERE c.k = {STAGE}.match_key AND c.k2 = {STAGE}.match_key2" in statement
    assert 'FROM "shop_profiles" WHERE' not in statement  # profiles are only joined to compare fields


@pytest.mark.parametrize(
    ("mode", "on_match", "on_new", "new_id"),
    [
        (ImportMode.UPSERT, f"CASE WHEN {GUARDED} THEN 'update' ELSE 'unchanged' END", "'create'", True),
        (ImportMode.INSERT_ONLY, "'skip'", "'create'", True),
        (ImportMode.UPDATE_ONLY, f"CASE WHEN {GUARDED} THEN 'update' ELSE 'unchanged' END", "'skip'", False),
    ],
)
def test_resolve_per_mode(mode: ImportMode, on_match: str, on_new: str, new_id: bool) -> None:
    statement = sql.resolve(PostgresStore(), plan(mode))
    assert (
        f"CASE WHEN m.n > 1 THEN 'ambiguous' WHEN m.n = 1 THEN {on_match} ELSE {on_new} END FROM" in statement
    )
    assert ("nextval" in statement) is new_id  # update_only never creates, so never takes an id


def test_keep_existing_on_empty_coalesces_in_compare_and_update() -> None:
    statement = sql.update(PostgresStore(), plan(keep=True))
    assert statement == (
        'UPDATE "shop_profiles" SET "email" = COALESCE(s."email", "shop_profiles"."email"), '
        '"ltv" = COALESCE(s."ltv", "shop_profiles"."ltv"), source_fingerprint = s.fingerprint, updated_at = %s '
        'FROM "customer_import_stage_shop" s '
        "WHERE s.profile_id = \"shop_profiles\".profile_id AND s.action IN ('update')"
    )
    assert f'COALESCE({STAGE}."ltv", p."ltv") IS DISTINCT FROM p."ltv"' in sql.resolve(
        PostgresStore(), plan(keep=True)
    )


def test_an_unchanged_profile_takes_the_fingerprint_of_the_row_that_confirmed_it() -> None:
    assert sql.confirm_fingerprints(PostgresStore(), plan()) == (
        'UPDATE "shop_profiles" SET source_fingerprint = s.fingerprint FROM "customer_import_stage_shop" s '
        "WHERE s.profile_id = \"shop_profiles\".profile_id AND s.action = 'unchanged' "
        'AND s.fingerprint IS NOT NULL AND "shop_profiles".source_fingerprint IS DISTINCT FROM s.fingerprint'
    )


def test_with_fingerprints_resolve_keeps_the_matched_profiles_fingerprint() -> None:
    with_prints = dataclasses.replace(plan(), fingerprints=True)
    statement = sql.resolve(PostgresStore(), with_prints)
    assert "SET (profile_id, match_count, action, stored_fingerprint) = (SELECT " in statement
    assert "ELSE 'create' END, p.source_fingerprint FROM" in statement
    assert "stored_fingerprint" not in sql.resolve(PostgresStore(), plan())


def test_replaced_fingerprints_are_those_an_update_or_confirmation_took_off() -> None:
    assert sql.replaced_fingerprints(SqliteStore(), plan()) == (
        'SELECT stored_fingerprint FROM "customer_import_stage_shop" '
        "WHERE action IN ('update', 'unchanged') AND stored_fingerprint IS NOT NULL "
        "AND (fingerprint IS NULL OR fingerprint <> stored_fingerprint)"
    )


def test_without_skip_unchanged_identical_rows_are_written_too() -> None:
    assert sql.update(SqliteStore(), plan(skip=False)).endswith("s.action IN ('update', 'unchanged')")


@pytest.mark.parametrize(("dialect", "mark"), [(SqliteStore(), "?"), (PostgresStore(), "%s")])
def test_insert_and_events_use_the_dialects_parameter_marker(dialect: StoreDialect, mark: str) -> None:
    assert sql.insert(dialect, plan()) == (
        f'INSERT INTO "shop_profiles" (profile_id, "email", "ltv", source_fingerprint, created_at, updated_at) '
        f'SELECT profile_id, "email", "ltv", fingerprint, {mark}, {mark} '
        "FROM \"customer_import_stage_shop\" WHERE action = 'create' ORDER BY row_no"
    )
    assert f"{mark}, {mark}, {mark} FROM" in sql.record_events(dialect, plan())


def test_stage_ddl_per_dialect() -> None:
    profiles_stage, subs_stage = sql.stage_ddl(PostgresStore(), plan())
    assert profiles_stage == (
        'CREATE TEMPORARY TABLE IF NOT EXISTS "customer_import_stage_shop" (row_no BIGINT NOT NULL, '
        'match_key TEXT NOT NULL, match_key2 TEXT, "email" TEXT, "ltv" DOUBLE PRECISION, fingerprint BYTEA, '
        "stored_fingerprint BYTEA, profile_id BIGINT, match_count INTEGER NOT NULL DEFAULT 0, action TEXT, subs_changed INTEGER NOT NULL DEFAULT 0) "
        "ON COMMIT DELETE ROWS"
    )
    assert subs_stage.startswith('CREATE TEMPORARY TABLE IF NOT EXISTS "customer_import_stage_subs_shop" (')
    assert '"ltv" REAL, fingerprint BLOB' in sql.stage_ddl(SqliteStore(), plan())[0]


def test_an_unconfirmed_import_never_demotes_a_confirmed_subscription() -> None:
    statement = sql.update_subscriptions(PostgresStore(), plan())
    assert (
        "status = CASE WHEN ss.status = 'unconfirmed' AND \"shop_subscriptions\".status = 'subscribed' "
        'THEN "shop_subscriptions".status ELSE ss.status END'
    ) in statement
    assert "status_changed_at = %s" in statement


def test_subscription_only_changes_count_as_updates_and_are_events() -> None:
    assert "WHEN action = 'unchanged' AND subs_changed = 1 THEN 'update'" in sql.counts(SqliteStore(), plan())
    assert "ELSE 'subscription_changed' END" in sql.record_events(SqliteStore(), plan())


def test_identifiers_are_quoted_by_the_dialect() -> None:
    assert SqliteStore().quote('we"ird') == '"we""ird"'


def test_the_folded_write_is_postgresql_s_and_probes_per_row() -> None:
    assert sql.folded_write(SqliteStore(), plan(), events=True) is None  # no data-modifying CTEs
    statement = sql.folded_write(PostgresStore(), plan(), events=True)
    assert statement is not None and statement.startswith("WITH r AS MATERIALIZED (SELECT s.row_no, ")
    # The matched profile is joined inside the per-row subquery (an index probe), not after it.
    assert (
        f"FROM {STAGE} s CROSS JOIN LATERAL (SELECT CASE WHEN m.n = 0 THEN nextval(pg_get_serial_sequence("
        in statement
    )
    assert 'LEFT JOIN "shop_profiles" p ON p.profile_id = m.pid AND m.n = 1) x)' in statement
    assert 'e AS (INSERT INTO "shop_events"' in statement
    assert "shop_events" not in (sql.folded_write(PostgresStore(), plan(), events=False) or "")
    assert "nextval" not in (
        sql.folded_write(PostgresStore(), plan(ImportMode.UPDATE_ONLY), events=True) or ""
    )


def test_new_profile_ids_come_from_the_sequence_found_once() -> None:
    found = dataclasses.replace(plan(), id_sequence="public.shop_profiles_profile_id_seq")
    assert "nextval('public.shop_profiles_profile_id_seq'::regclass)" in sql.resolve(PostgresStore(), found)
    folded = sql.folded_write(PostgresStore(), found, events=True) or ""
    assert "nextval('public.shop_profiles_profile_id_seq'::regclass)" in folded
    assert "pg_get_serial_sequence" not in folded
    odd = dataclasses.replace(plan(), id_sequence='public."it\'s"')
    assert "nextval('public.\"it''s\"'::regclass)" in sql.resolve(PostgresStore(), odd)
