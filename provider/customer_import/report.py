"""The per-run report: counts, cursor before/after, duration, and the rejected rows with reasons.

It travels in XCom, so it is kept to a size any metadata database takes: counts per code are exact;
rejected rows are kept as a sample of at most ``MAX_SAMPLES_PER_CODE`` per code and ``MAX_REJECTED_ROWS`` in
all (so one frequent code cannot crowd out the others); the report says when rows were left out. Each
sampled value, message and cursor is cut to ``MAX_VALUE_CHARS`` characters (an ellipsis and the original
length mark the cut), and the sample stops growing at ``MAX_SAMPLE_CHARS`` characters in all: a source of
megabyte values cannot make the report large (the store's rejections table keeps every value whole).
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from customer_import.cursor import encode
from customer_import.known_rejections import KnownRejection, sample_json
from customer_import.mapping.errors import Rejection

MAX_REJECTED_ROWS = 1000
MAX_SAMPLES_PER_CODE = 200
MAX_VALUE_CHARS = 200  # a sampled value, cursor or message longer than this is cut
MAX_MESSAGE_CHARS = 500
MAX_SAMPLE_CHARS = 256 * 1024  # the whole sample (values, cursors and messages together)
CONTACT_FIELDS = ("email", "phone")


def mask(value: Any) -> Any:
    """``jane.doe@example.com`` -> ``j***@example.com``; ``+4930123456`` -> ``+49******56``."""
    if value is None:
        return None
    text = str(value)
    if "@" in text:
        local, _, domain = text.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(text) <= 4:
        return "*" * len(text)
    return text[:3] + "*" * (len(text) - 5) + text[-2:]


def _plain(value: Any) -> Any:
    """A JSON-safe value (XCom is JSON)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return str(value)


def cut(value: Any, limit: int = MAX_VALUE_CHARS) -> Any:
    """A JSON-safe value of at most about ``limit`` characters: longer text keeps its start, then an
    ellipsis and its length (``'xxxx… (1048576 characters)'``); a huge integer is cut as text."""
    value = _plain(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinity are not JSON
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        try:
            value = str(value)
        except ValueError:  # more digits than Python converts (sys.get_int_max_str_digits)
            return f"an integer of {value.bit_length()} bits"
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}… ({len(value)} characters)"
    return value


def stored_text(value: Any) -> str | None:
    """A value as the store's rejections table keeps it: whole, as text any store takes (a NUL byte and a
    lone surrogate, which PostgreSQL and UTF-8 refuse, are written as backslash escapes)."""
    if value is None:
        return None
    if isinstance(value, dt.datetime | dt.date):
        text = value.isoformat()
    elif isinstance(value, bytes | bytearray | memoryview):
        text = bytes(value).decode("utf-8", "backslashreplace")
    else:
        text = str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str) else 8


@dataclass
class RunReport:
    import_name: str
    run_id: str
    mask_contacts: bool = False
    contact_columns: frozenset[str] = frozenset()
    read: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    parts: int = 0
    batches: int = 0
    cursor_before: Any = None
    cursor_after: Any = None
    started_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    error_counts: Counter[str] = field(default_factory=Counter)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    sample_chars: int = 0  # the characters of values, cursors and messages in ``rejected``
    schema_changes: list[str] = field(default_factory=list)
    _clock: float = field(default_factory=time.monotonic)

    def _masked(self, rejection: Rejection) -> tuple[Any, str]:
        """The rejection's (value, message), contacts masked under ``mask_contacts``."""
        if isinstance(rejection, KnownRejection):  # as an earlier run's report showed them
            return rejection.value, rejection.message
        value, message = _plain(rejection.value), rejection.message
        if self.mask_contacts and rejection.column in self.contact_columns and value is not None:
            message, value = message.replace(str(value), mask(value)), mask(value)
        return value, message

    def kept(self, rejection: Rejection) -> tuple[int, str | None, str | None, str, str, str | None, str]:
        """The rejection as the store keeps it (every one, whole): row, cursor, column, code, message,
        value; contacts masked under ``mask_contacts``; then how this report shows it (JSON, for a
        later run that meets the row again: customer_import.known_rejections)."""
        if isinstance(rejection, KnownRejection):
            cursor, column, message_text, value_text = rejection.texts
            return (rejection.row, cursor, column, rejection.code, message_text, value_text, rejection.sample)
        value, message = self._masked(rejection)
        return (
            rejection.row,
            stored_text(rejection.cursor),
            stored_text(rejection.column),
            rejection.code,
            stored_text(message) or "",
            stored_text(value),
            sample_json(self.mask_contacts, _plain(rejection.cursor), value, message),
        )

    def reject(self, rejection: Rejection) -> None:
        self.failed += 1
        self.error_counts[rejection.code] += 1
        if (
            len(self.rejected) >= MAX_REJECTED_ROWS
            or self.error_counts[rejection.code] > MAX_SAMPLES_PER_CODE
            or self.sample_chars >= MAX_SAMPLE_CHARS
        ):
            return
        value, message = self._masked(rejection)
        entry = {
            "row": rejection.row,
            "cursor": cut(rejection.cursor),
            "column": cut(rejection.column),
            "code": rejection.code,
            "message": cut(message, MAX_MESSAGE_CHARS),
            "value": cut(value),
        }
        self.sample_chars += sum(_size(entry[k]) for k in ("cursor", "column", "message", "value"))
        self.rejected.append(entry)

    @property
    def error_rate(self) -> float:
        return self.failed / self.read if self.read else 0.0

    def summary_line(self) -> str:
        return (
            f"{self.import_name}: read {self.read}, created {self.created}, updated {self.updated}, "
            f"unchanged {self.unchanged}, skipped {self.skipped}, failed {self.failed}; "
            f"cursor {encode(self.cursor_before)} -> {encode(self.cursor_after)}"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "import_name": self.import_name,
            "run_id": self.run_id,
            "summary": {
                "read": self.read,
                "created": self.created,
                "updated": self.updated,
                "unchanged": self.unchanged,
                "skipped": self.skipped,
                "failed": self.failed,
                "parts": self.parts,
                "batches": self.batches,
                "cursor_before": _plain(self.cursor_before),
                "cursor_after": _plain(self.cursor_after),
                "started_at": self.started_at.isoformat(),
                "duration_seconds": round(time.monotonic() - self._clock, 3),
            },
            "error_counts": dict(self.error_counts),
            "rejected": self.rejected,
            "rejected_truncated": self.failed > len(self.rejected),
            "schema_changes": self.schema_changes,
        }
