"""The batch statements are pure functions of the plan: compared as strings, per store dialect."""

from __future__ import annotations

import pytest

from customer_import.spec.vocab import FieldType, ImportMode
from customer_import.store import batch_sql as sql
from customer_import.store.dialects import PostgresStore, SqliteStore, StoreDialect
from customer_import.store.tables import Tables


def plan(mode: ImportMode = ImportMode.UPSERT, *, skip: bool = True, keep: bool = False) -> sql.BatchPlan:
    return sql.BatchPlan(
        tables=Tables("shop"),
        fields=(("email", FieldType.EMAIL), ("ltv", FieldType.FLOAT)),
        match_column="email",
        match_type=FieldType.EMAIL,
        mode=mode,
        skip_unchanged=skip,
        keep_existing_on_empty=keep,
    )


def test_match_counts_and_remembers_the_profile() -> None:
    assert sql.match(SqliteStore(), plan()) == (
        'UPDATE "customer_import_stage_shop" SET profile_id = m.profile_id, match_count = m.n FROM ('
        'SELECT p."email" AS match_key, min(p.profile_id) AS profile_id, count(*) AS n FROM "shop_profiles" p '
        'WHERE p."email" IN (SELECT s.match_key FROM "customer_import_stage_shop" s) GROUP BY p."email"'
        ') m WHERE m.match_key = "customer_import_stage_shop".match_key'
    )


@pytest.mark.parametrize(
    ("mode", "on_match", "on_new"),
    [
        (ImportMode.UPSERT, "CASE WHEN {changed} THEN 'update' ELSE 'unchanged' END", "'create'"),
        (ImportMode.INSERT_ONLY, "'skip'", "'create'"),
        (ImportMode.UPDATE_ONLY, "CASE WHEN {changed} THEN 'update' ELSE 'unchanged' END", "'skip'"),
    ],
)
def test_classify_per_mode(mode: ImportMode, on_match: str, on_new: str) -> None:
    stage = '"customer_import_stage_shop"'
    changed = (
        f'EXISTS (SELECT 1 FROM "shop_profiles" p WHERE p.profile_id = {stage}.profile_id AND '
        f'({stage}."email" IS DISTINCT FROM p."email" OR {stage}."ltv" IS DISTINCT FROM p."ltv"))'
    )
    assert sql.classify(SqliteStore(), plan(mode)) == (
        f"UPDATE {stage} SET action = CASE WHEN match_count > 1 THEN 'ambiguous' "
        f"WHEN match_count = 1 THEN {on_match.format(changed=changed)} ELSE {on_new} END"
    )


def test_keep_existing_on_empty_coalesces_in_compare_and_update() -> None:
    statement = sql.update(PostgresStore(), plan(keep=True))
    assert statement == (
        'UPDATE "shop_profiles" SET "email" = COALESCE(s."email", "shop_profiles"."email"), '
        '"ltv" = COALESCE(s."ltv", "shop_profiles"."ltv"), updated_at = %s FROM "customer_import_stage_shop" s '
        "WHERE s.profile_id = \"shop_profiles\".profile_id AND s.action IN ('update')"
    )
    assert 'COALESCE("customer_import_stage_shop"."ltv", p."ltv") IS DISTINCT FROM p."ltv"' in sql.classify(
        PostgresStore(), plan(keep=True)
    )


def test_without_skip_unchanged_identical_rows_are_written_too() -> None:
    assert sql.update(SqliteStore(), plan(skip=False)).endswith("s.action IN ('update', 'unchanged')")


@pytest.mark.parametrize(("dialect", "mark"), [(SqliteStore(), "?"), (PostgresStore(), "%s")])
def test_insert_and_events_use_the_dialects_parameter_marker(dialect: StoreDialect, mark: str) -> None:
    assert sql.insert(dialect, plan()) == (
        f'INSERT INTO "shop_profiles" ("email", "ltv", created_at, updated_at) SELECT "email", "ltv", {mark}, {mark} '
        "FROM \"customer_import_stage_shop\" WHERE action = 'create' ORDER BY row_no"
    )
    assert f"{mark}, {mark}, {mark} FROM" in sql.record_events(dialect, plan())


def test_stage_ddl_per_dialect() -> None:
    assert sql.stage_ddl(PostgresStore(), plan()) == (
        'CREATE TEMPORARY TABLE IF NOT EXISTS "customer_import_stage_shop" (row_no BIGINT NOT NULL, '
        'match_key TEXT NOT NULL, "email" TEXT, "ltv" DOUBLE PRECISION, profile_id BIGINT, '
        "match_count INTEGER NOT NULL DEFAULT 0, action TEXT) ON COMMIT DELETE ROWS"
    )
    assert '"ltv" REAL' in sql.stage_ddl(SqliteStore(), plan())


def test_identifiers_are_quoted_by_the_dialect() -> None:
    assert SqliteStore().quote('we"ird') == '"we""ird"'
