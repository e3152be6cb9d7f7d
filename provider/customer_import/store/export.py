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


def iter_profiles(dialect: StoreDialect, connection: Any, database_name: str) -> Iterator[dict[str, Any]]:
    """Every profile, ordered by profile_id: system columns, then each field ever declared."""
    cursor = connection.cursor()
    try:
        types = stored_field_types(cursor, dialect, database_name)
        if not types:
            raise LookupError(f"the store has no profile database {database_name!r} (no import has run yet)")
        names = list(types)
        columns = ", ".join(dialect.quote(c) for c in ["profile_id", "created_at", "updated_at", *names])
        cursor.execute(
            f"SELECT {columns} FROM {dialect.quote(Tables(database_name).profiles)} ORDER BY profile_id"
        )
        while rows := cursor.fetchmany(1000):
            for row in rows:
                profile: dict[str, Any] = {"profile_id": row[0], "created_at": row[1], "updated_at": row[2]}
                profile["fields"] = {
                    name: _json_ready(dialect.from_db(types[name], value))
                    for name, value in zip(names, row[3:], strict=True)
                }
                profile["subscriptions"] = []
                yield {k: _json_ready(v) for k, v in profile.items()}
    finally:
        cursor.close()
