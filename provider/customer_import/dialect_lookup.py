"""Choose a dialect (source or store) from an Airflow connection type; callers never branch on names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from customer_import.exceptions import UnsupportedConnectionError

DialectT = TypeVar("DialectT")


def dialect_for(dialects: Sequence[type[DialectT]], conn_type: str, refusal: str) -> DialectT:
    """An instance of the dialect declaring ``conn_type``; else ``refusal`` (formatted with ``conn_type``)
    naming the supported types."""
    for dialect in dialects:
        conn_types: Any = getattr(dialect, "conn_types", ())
        if conn_type in conn_types:
            return dialect()
    supported = ", ".join(t for d in dialects for t in getattr(d, "conn_types", ()))
    raise UnsupportedConnectionError(f"{refusal.format(conn_type=conn_type)} (supported: {supported})")
