"""Known rejections: a re-run rejects again, without mapping it, a source row an earlier run rejected.

With source fingerprints (``customer_import.fingerprints``), a row equal to the one an earlier run
rejected for its values is rejected again for the same reason: the fingerprint's key covers everything
that decides what becomes of a row (this package's version, the spec's target, mapping and duplicate
prevention, the result's columns, the database definition, the IP-location data), so mapping it again
can only give the same column, code, message and value. Mapping it is what a re-run of mostly unchanged
rows spent its time on: the rejected rows were the only rows it mapped (each a full ``email-validator``
or ``phonenumbers`` call, the vectorised paths having failed them), every run.

So each rejection the store keeps (``<database>_rejections``) also keeps the row's fingerprint and, as
JSON, what the run's report showed of it (``sample``: the cursor, value and message as the report's
sample has them, after ``mask_contacts``, and whether contacts were masked). A run reads them when it
starts (``ProfileWriter.start_run``), before the rejections of older runs are deleted, and a row whose
fingerprint is among them becomes a :class:`KnownRejection` with its new row number: the same report
sample, the same stored row, the same counts, without mapping.

Only value rejections are known this way: ``duplicate_key`` depends on the other rows of the part and
``ambiguous_match`` on the store; neither is kept with a fingerprint. A rejection kept under another
``mask_contacts`` setting is not used (its value was masked, or not). Rows that are not known are mapped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from customer_import.mapping.errors import AMBIGUOUS_MATCH, DUPLICATE_KEY, Rejection

# Rejections a row's own values decide (the others depend on other rows, or on the store).
NOT_BY_VALUE = frozenset({DUPLICATE_KEY, AMBIGUOUS_MATCH})
# At most this many are held (about 0.5 KB each); a run with more maps the rest.
MOST = 100_000


@dataclass(frozen=True, slots=True, kw_only=True)
class KnownRejection(Rejection):
    """A rejection repeated from the store: ``cursor``, ``value`` and ``message`` are the report sample's
    forms (JSON values, contacts already masked); ``texts`` what the store keeps of it (cursor, column,
    message, value) and ``sample`` the JSON it keeps for the next run."""

    texts: tuple[str | None, str | None, str, str | None] = (None, None, "", None)
    sample: str = ""


def sample_json(masked: bool, cursor: Any, value: Any, message: str) -> str:
    """What a kept rejection needs to be shown again as the report showed it (JSON values)."""
    return json.dumps({"masked": masked, "cursor": cursor, "value": value, "message": message})


@dataclass(frozen=True, slots=True)
class _Entry:
    column: str | None
    code: str
    texts: tuple[str | None, str | None, str, str | None]
    sample: str
    cursor: Any
    value: Any
    message: str


@dataclass
class KnownRejections:
    """The value rejections the store keeps for an import, by source-row fingerprint."""

    entries: dict[bytes, _Entry] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[tuple[Any, ...]], masked: bool) -> KnownRejections:
        """From the store's rows (fingerprint, column, code, cursor, message, value texts, sample JSON),
        newest first; those kept under another ``mask_contacts`` are left out."""
        entries: dict[bytes, _Entry] = {}
        for fingerprint, column, code, cursor, message, value, sample in rows:
            key = bytes(fingerprint)
            if key in entries or code in NOT_BY_VALUE or not sample:
                continue
            try:
                shown = json.loads(sample)
            except ValueError:
                continue
            if not isinstance(shown, dict) or shown.get("masked") is not masked:
                continue
            entries[key] = _Entry(
                column,
                code,
                (cursor, column, message or "", value),
                sample,
                shown.get("cursor"),
                shown.get("value"),
                str(shown.get("message", "")),
            )
            if len(entries) >= MOST:
                break
        return cls(entries)

    def __len__(self) -> int:
        return len(self.entries)

    def find(self, prints: Mapping[int, bytes], row_numbers: Any) -> tuple[Any, list[KnownRejection]]:
        """Of these rows (a numpy array of row numbers), which are known rejections (a numpy bool array),
        and their rejections, in row order."""
        hits = np.zeros(len(row_numbers), dtype=np.bool_)
        found: list[KnownRejection] = []
        if not self.entries:
            return hits, found
        get = self.entries.get
        for index, row_no in enumerate(row_numbers.tolist()):
            entry = get(prints[row_no])
            if entry is None:
                continue
            hits[index] = True
            found.append(
                KnownRejection(
                    row_no,
                    entry.cursor,
                    entry.column,
                    entry.code,
                    entry.message,
                    entry.value,
                    texts=entry.texts,
                    sample=entry.sample,
                )
            )
        return hits, found
