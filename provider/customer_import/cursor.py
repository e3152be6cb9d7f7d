"""The ``{lastItem}`` cursor: where the next part of an import starts.

It lives in the Airflow Variable ``customer_import.<name>.last_item`` as plain text: ``5000``, ``A-17``,
``2026-11-28T03:00:00+00:00``, the way a person would type it. It is read back with the type of the
spec's ``cursor.start_value`` (a number stays a number, an ISO date/datetime a date/datetime), so the
bound parameter keeps its type. Editing the Variable rewinds or skips. It is saved only after the batch
it covers has been committed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
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


class PartProgress:
    """How far the cursor may move while one part is written, batch by batch (decision record 0005).

    The invariant: the saved cursor is a value whose rows are all committed, so a run killed at any
    instant and run again reads every row it has not committed (and, at worst, some it has, again).

    * An ordered part (``ORDER BY`` the cursor column first, ascending) comes in cursor order: after a
      committed batch, every value before the batch's last value is complete; the last value may continue
      in the next batch. With an exclusive query (``> {lastItem}``) the safe cursor is therefore the last
      value *before* the last one (``complete``); the part's last value (``last``) becomes safe when the
      part ends (and was not cut by a LIMIT inside that value: see ``importer``). With an inclusive query
      (``>= {lastItem}``) the next read includes the saved value again, so the last value is safe at once.
    * An unordered part can hold any value in any batch: nothing is safe before the whole part is
      committed; then its largest value is.

    Only equality is used on an ordered part, so the source's own order (collations) is respected.
    ``tail`` keeps the rows that share the last value (for an exclusive, LIMIT-cut part: to find which rows
    of that value a second read returns that this part did not).
    """

    def __init__(self, start: Any, *, ordered: bool, inclusive: bool, keep_tail: bool = False) -> None:
        self.start = start
        self.ordered = ordered
        self.inclusive = inclusive
        self.keep_tail = keep_tail
        self.last: Any = None  # the last (ordered) or largest (unordered) value committed in this part
        self.complete: Any = None  # ordered, exclusive: the last value before ``last`` (all committed)
        self.tail: list[Sequence[Any]] = []

    def committed(self, rows: Sequence[Sequence[Any]], index: int) -> None:
        """Account for a committed batch (its rows in source order; ``index``: the cursor column)."""
        if not self.ordered:
            self.last = advance(self.last, [self.last, *(row[index] for row in rows)])
            return
        end = len(rows) - 1
        while end >= 0 and rows[end][index] is None:
            end -= 1
        if end < 0:
            return
        last = rows[end][index]
        before = end
        while before >= 0 and (rows[before][index] is None or rows[before][index] == last):
            before -= 1
        if before >= 0:  # the batch holds a value before its last one: everything up to it is complete
            self.complete = rows[before][index]
            self.tail = []
        elif self.last is not None and self.last != last:
            self.complete = self.last
            self.tail = []
        if self.keep_tail:
            self.tail.extend(row for row in rows[before + 1 :] if row[index] == last)
        self.last = last

    @property
    def safe(self) -> Any:
        """The value the cursor may be saved at now, mid-part (``start`` while none is)."""
        if not self.ordered:
            return self.start
        if self.inclusive:
            return self.start if self.last is None else self.last
        return self.start if self.complete is None else self.complete

    @property
    def at_end(self) -> Any:
        """The value the cursor moves to when the part ended complete (not cut inside its last value)."""
        return self.start if self.last is None else self.last


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
