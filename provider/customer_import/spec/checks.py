"""Checks of a spec that need its profile database (fields, matching, subscriptions, schedule, query).

Each check yields ``(yaml_path, message)``; the loader adds file and line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

from customer_import.sources.query import check_query
from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import PHONE_CHANNELS, ImportSpec
from customer_import.spec.problems import Loc
from customer_import.spec.vocab import FieldType, ImportMode, MatchBy


def check_spec_against_database(spec: ImportSpec, database: ProfileDatabase) -> list[tuple[Loc, str]]:
    return [
        *_check_matching(spec, database),
        *_check_subscriptions(spec, database),
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
    if spec.key_column() is None:
        where = " or a subscription on an email channel" if spec.match_field == "email" else ""
        where = (
            " or a subscription on an sms, whatsapp or viber channel"
            if spec.match_field == "phone"
            else where
        )
        yield (
            ("mapping",),
            f"matching by {matching.by.value} needs a mapping for field {spec.match_field!r}{where}",
        )
    creates = spec.target.mode is not ImportMode.UPDATE_ONLY
    by_subscription = {
        MatchBy.EMAIL_SUBSCRIPTION: ("email",),
        MatchBy.PHONE_SUBSCRIPTION: PHONE_CHANNELS,
        MatchBy.PUSH_SUBSCRIPTION: ("push",),
    }.get(matching.by)
    if creates and by_subscription is not None:
        key = spec.key_column()
        if not any(s.channel in by_subscription and s.column == key for s in spec.subscriptions):
            yield (
                ("target", "matching", "by"),
                f"matching by {matching.by.value} in mode {spec.target.mode.value} creates profiles; without a "
                f"subscription on {'/'.join(by_subscription)} from column {key!r} they could never be matched "
                "again (add that subscription, or use mode update_only)",
            )


def _check_subscriptions(spec: ImportSpec, database: ProfileDatabase) -> Iterator[tuple[Loc, str]]:
    seen: set[tuple[str, str, str]] = set()
    for index, subscription in enumerate(spec.subscriptions):
        loc: Loc = ("subscriptions", index)
        resource = database.resources.get(subscription.resource)
        if resource is None:
            known = ", ".join(sorted(database.resources)) or "none declared"
            yield (
                (*loc, "resource"),
                (
                    f"{subscription.resource!r} is not a resource of database {database.name!r} (known: {known})"
                ),
            )
            continue
        channels = [str(c) for c in resource.channels]
        if str(subscription.channel) not in channels:
            yield (
                (*loc, "channel"),
                (
                    f"resource {subscription.resource!r} has no channel {str(subscription.channel)!r} "
                    f"(its channels: {', '.join(channels)})"
                ),
            )
        key = (subscription.resource, str(subscription.channel), subscription.column)
        if key in seen:
            yield loc, "the same resource, channel and column are subscribed twice"
        seen.add(key)


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
