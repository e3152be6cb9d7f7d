"""The ``{lastItem}`` cursor: where the next part of an import starts.

It lives in the Airflow Variable ``customer_import.<name>.last_item`` as plain text: ``5000``, ``A-17``,
``2026-11-28T03:00:00+00:00``, the way a person would type it. It is read back with the type of the
spec's ``cursor.start_value`` (a number stays a number, an ISO date/datetime a date/datetime), so the
bound parameter keeps its type. Editing the Variable rewinds or skips. It is saved only after the batch
it covers has been committed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol


def encode(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def decode(text: str, like: Any) -> Any:
    """The stored text as a value of the type of ``like`` (the spec's start_value)."""
    value = text.strip()
    try:
        if isinstance(like, bool):
            return value
        if isinstance(like, int):
            return int(value)
        if isinstance(like, float):
            return float(value)
        if isinstance(like, dt.datetime):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if isinstance(like, dt.date):
            return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(
            f"the stored cursor {text!r} is not a {type(like).__name__} like start_value {like!r}; "
            "fix or delete the Variable"
        ) from exc
    return value


def advance(current: Any, values: list[Any]) -> Any:
    """The largest non-empty cursor-column value of a batch (the current cursor if there is none)."""
    present = [v for v in values if v is not None]
    if not present:
        return current
    try:
        return max(present)
    except TypeError as exc:
        kinds = sorted({type(v).__name__ for v in present})
        raise TypeError(f"the cursor column mixes types that cannot be ordered: {', '.join(kinds)}") from exc


class CursorState(Protocol):
    def load(self) -> Any: ...

    def save(self, value: Any) -> None: ...


class VariableCursor:
    """The shared cursor of scheduled and manual runs, in an Airflow Variable."""

    def __init__(self, key: str, start_value: Any) -> None:
        self.key = key
        self.start_value = start_value

    def load(self) -> Any:
        from airflow.sdk import Variable

        stored = Variable.get(self.key, default=None)
        return self.start_value if stored is None or stored == "" else decode(str(stored), self.start_value)

    def save(self, value: Any) -> None:
        from airflow.sdk import Variable

        Variable.set(
            self.key, encode(value), description="customer_import cursor ({lastItem}); edit to rewind or skip"
        )


class MemoryCursor:
    """A run-local cursor (backfills, previews): starts at ``start_value`` and never touches the Variable."""

    def __init__(self, start_value: Any) -> None:
        self.value = start_value

    def load(self) -> Any:
        return self.value

    def save(self, value: Any) -> None:
        self.value = value
