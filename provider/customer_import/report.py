"""The per-run report: counts, cursor before/after, duration, and the rejected rows with reasons.

It travels in XCom, so it is kept to a size any metadata database takes: counts per code are exact;
rejected rows are kept as a sample of at most ``MAX_SAMPLES_PER_CODE`` per code and ``MAX_REJECTED_ROWS`` in
all (so one frequent code cannot crowd out the others); the report says when rows were left out.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from customer_import.cursor import encode
from customer_import.mapping.errors import Rejection

MAX_REJECTED_ROWS = 1000
MAX_SAMPLES_PER_CODE = 200
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
    schema_changes: list[str] = field(default_factory=list)
    _clock: float = field(default_factory=time.monotonic)

    def reject(self, rejection: Rejection) -> None:
        self.failed += 1
        self.error_counts[rejection.code] += 1
        if (
            len(self.rejected) >= MAX_REJECTED_ROWS
            or self.error_counts[rejection.code] > MAX_SAMPLES_PER_CODE
        ):
            return
        value, message = _plain(rejection.value), rejection.message
        if self.mask_contacts and rejection.column in self.contact_columns and value is not None:
            message, value = message.replace(str(value), mask(value)), mask(value)
        self.rejected.append(
            {
                "row": rejection.row,
                "cursor": _plain(rejection.cursor),
                "column": rejection.column,
                "code": rejection.code,
                "message": message,
                "value": value,
            }
        )

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
