"""The ``{lastItem}`` cursor: where the next part of an import starts.

It lives in the Airflow Variable ``customer_import.<name>.last_item`` as JSON (``5000``, ``"A-17"``,
``"2026-11-28T03:00:00+00:00"``); a value typed by hand without JSON quotes is read as text. Editing the
Variable rewinds or skips. It is saved only after the batch it covers has been committed.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any, Protocol

_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def encode(value: Any) -> str:
    if isinstance(value, dt.datetime | dt.date):
        return json.dumps(value.isoformat())
    return json.dumps(value)


def decode(text: str) -> Any:
    """A stored cursor as a typed value: numbers, text, or dates/datetimes written in ISO form."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        value = text.strip()
    if isinstance(value, str):
        if _DATETIME.match(value):
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if _DATE.match(value):
            return dt.date.fromisoformat(value)
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
        return self.start_value if stored is None or stored == "" else decode(str(stored))

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
