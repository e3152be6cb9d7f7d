"""Checks of a spec that need its profile database, and "not supported yet" for keys not built yet.

Each check yields ``(yaml_path, message)``; the loader adds file and line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from customer_import.sources.query import check_query
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.problems import Loc
from customer_import.spec.vocab import SUPPORTED_MATCH_BY, FieldType, ImportMode, MatchBy

NOT_SUPPORTED = "is not supported yet"


def check_spec_against_database(spec: ImportSpec, database: ProfileDatabase) -> list[tuple[Loc, str]]:
    return [
        *_not_supported_yet(spec),
        *_check_matching(spec, database),
        *_check_mapping(spec, database),
        *_check_ip_location(spec),
        *_check_schedule(spec),
        *((("source", "query"), message) for message in check_query(spec.source.query, None)),
    ]


def spec_warnings(spec: ImportSpec, dialect: str | None = None) -> list[tuple[Loc, str]]:
    """Problems that do not stop the import but probably lose rows."""
    from customer_import.sources.query import has_order_by

    cursor = spec.source.cursor
    if cursor is not None and not has_order_by(spec.source.query, cursor.column, dialect):
        return [
            (
                ("source", "query"),
                f"the query uses {{lastItem}} but does not ORDER BY the cursor column {cursor.column!r} "
                "(first sort key, ascending): rows after a batch's largest value can be skipped",
            )
        ]
    return []


def _not_supported_yet(spec: ImportSpec) -> Iterator[tuple[Loc, str]]:
    if spec.target.matching.by not in SUPPORTED_MATCH_BY:
        supported = ", ".join(sorted(m.value for m in SUPPORTED_MATCH_BY))
        yield (
            ("target", "matching", "by"),
            f"matching by {spec.target.matching.by.value!r} {NOT_SUPPORTED} (supported now: {supported})",
        )
    if spec.subscriptions:
        yield ("subscriptions",), f"subscriptions {NOT_SUPPORTED}; remove the key"


def _check_matching(spec: ImportSpec, database: ProfileDatabase) -> Iterator[tuple[Loc, str]]:
    matching = spec.target.matching
    if matching.by is MatchBy.PROFILE_ID and spec.target.mode is not ImportMode.UPDATE_ONLY:
        yield (
            ("target", "mode"),
            "matching by profile_id needs mode: update_only (profile ids cannot be created)",
        )
    if matching.by is MatchBy.CUSTOM and matching.field is not None:
        definition = database.fields.get(matching.field)
        if definition is None:
            yield (
                ("target", "matching", "field"),
                f"{matching.field!r} is not a custom field of database {database.name!r}",
            )
        elif not definition.unique:
            yield (
                ("target", "matching", "field"),
                f"custom field {matching.field!r} must be declared unique: true to match on it",
            )
    if matching.by in SUPPORTED_MATCH_BY and spec.mapped(spec.match_field) is None:
        yield ("mapping",), f"matching by {matching.by.value} needs a mapping for field {spec.match_field!r}"


def _check_mapping(spec: ImportSpec, database: ProfileDatabase) -> Iterator[tuple[Loc, str]]:
    fields = database.all_fields()
    for index, item in enumerate(spec.mapping):
        loc: Loc = ("mapping", index)
        if item.field == "profile_id":
            if spec.target.matching.by is not MatchBy.PROFILE_ID:
                yield (
                    (*loc, "field"),
                    "profile_id can only be mapped as the matching key (matching by profile_id)",
                )
            continue
        definition = fields.get(item.field)
        if definition is None:
            yield (*loc, "field"), f"{item.field!r} is not a field of database {database.name!r}"
            continue
        if item.date_format is not None:
            if definition.type not in (FieldType.DATE, FieldType.DATETIME):
                yield (
                    (*loc, "date_format"),
                    f"date_format applies to date and datetime fields, not {definition.type}",
                )
            elif "%" not in item.date_format:
                yield (*loc, "date_format"), "date_format is a strptime format such as %d.%m.%Y"
        if item.phone is not None and definition.type is not FieldType.PHONE:
            yield (*loc, "phone"), "phone options apply to the phone field only"


def _check_ip_location(spec: ImportSpec) -> Iterator[tuple[Loc, str]]:
    """ip_location needs an IP to locate, and the .mmdb file the spec names must be there."""
    if not spec.target.ip_location:
        return
    if spec.mapped("ip") is None and spec.mapped("registration_ip") is None:
        yield (
            ("target", "ip_location"),
            "ip_location locates the mapped ip (else registration_ip), but the mapping has neither field",
        )
    mmdb = spec.target.ip_location_mmdb
    if mmdb is not None and not os.path.isfile(mmdb):
        yield (
            ("target", "ip_location", "mmdb"),
            f"the IP location database {mmdb!r} does not exist (or is not a file) on this machine",
        )


def _check_schedule(spec: ImportSpec) -> Iterator[tuple[Loc, str]]:
    """A plan that parses but never fires (30 February, day 31 in 30-day months only)."""
    from customer_import.schedule.timetables import build_timetable

    try:
        build_timetable(spec.schedule)
    except ValueError as exc:
        # The key that chose the impossible day: the cron expression, or a monthly plan's days.
        key = {"cron": "expression", "monthly": "days"}.get(spec.schedule.plan)
        yield ("schedule", key) if key else ("schedule",), str(exc)
