"""Read every stored profile of a database back as plain JSON-ready dicts (``profiles export``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from customer_import.store.dialects import StoreDialect
from customer_import.store.schema import stored_field_types
from customer_import.store.tables import Tables


def _json_ready(value: Any) -> Any:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _subscriptions_of(
    connection: Any, dialect: StoreDialect, database_name: str, profile_ids: list[Any]
) -> dict[Any, list[dict[str, Any]]]:
    """The subscriptions of some profiles (one query per chunk of profiles, on its own cursor)."""
    table = dialect.quote(Tables(database_name).subscriptions)
    marks = ", ".join([dialect.param] * len(profile_ids))
    cursor = connection.cursor()
    try:
        cursor.execute(
            f"SELECT profile_id, resource, channel, contact, provider, status, status_changed_at FROM {table} "
            f"WHERE profile_id IN ({marks}) ORDER BY profile_id, resource, channel, contact",
            profile_ids,
        )
        out: dict[Any, list[dict[str, Any]]] = {}
        for profile_id, resource, channel, contact, provider, status, changed in cursor.fetchall():
            entry = {"resource": resource, "channel": channel, "contact": contact, "status": status}
            if provider is not None:
                entry["provider"] = provider
            entry["status_changed_at"] = _json_ready(changed)
            out.setdefault(profile_id, []).append(entry)
        return out
    finally:
        cursor.close()


def iter_profiles(dialect: StoreDialect, connection: Any, database_name: str) -> Iterator[dict[str, Any]]:
    """Every profile, ordered by profile_id, with each field ever declared and its subscriptions."""
    cursor = connection.cursor()
    try:
        try:
            types = stored_field_types(cursor, dialect, database_name)
        except Exception as error:  # no import has created the store's tables yet
            connection.rollback()
            raise LookupError(
                f"the store has no profile database {database_name!r} (no import has run yet)"
            ) from error
        if not types:
            raise LookupError(f"the store has no profile database {database_name!r} (no import has run yet)")
        names = list(types)
        columns = ", ".join(dialect.quote(c) for c in ["profile_id", "created_at", "updated_at", *names])
        cursor.execute(
            f"SELECT {columns} FROM {dialect.quote(Tables(database_name).profiles)} ORDER BY profile_id"
        )
        while rows := cursor.fetchmany(1000):
            subscriptions = _subscriptions_of(connection, dialect, database_name, [row[0] for row in rows])
            for row in rows:
                fields = {
                    name: _json_ready(dialect.from_db(types[name], value))
                    for name, value in zip(names, row[3:], strict=True)
                }
                # Flat (profile["email"]) and grouped (profile["fields"]["email"]); field names never
                # collide with these keys (they are reserved in the profile database model).
                yield {
                    "profile_id": row[0],
                    **fields,
                    "created_at": _json_ready(row[1]),
                    "updated_at": _json_ready(row[2]),
                    "fields": fields,
                    "subscriptions": subscriptions.get(row[0], []),
                }
    finally:
        cursor.close()
