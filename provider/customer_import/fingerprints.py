"""Source-row fingerprints: how a re-run skips mapping the rows it has already imported unchanged.

With ``prevent_duplication.skip_unchanged``, every profile an import creates, updates or finds unchanged
keeps the fingerprint of the source row it came from (column ``source_fingerprint``). The fingerprint is
a keyed 128-bit BLAKE2b of the row's values as the driver gave them (msgpack-encoded); the key is derived
from everything else that decides what becomes of a row: this package's version, the spec's target,
mapping, subscriptions, duplicate prevention and time zone, the result's column names, the profile
database definition and the IP-location data (not the query or the schedule: they choose rows, not what
a row becomes).

So a stored fingerprint equal to a new row's means: an import configured the same way already wrote (or
confirmed) exactly this row into that profile, and nothing has written the profile since, because every
profile write sets the column (to its own row's fingerprint, or to NULL from an import without them).
Such a row is counted ``unchanged`` after reading only its matching key (for ``duplicate_keys``).

Not used for imports with subscriptions (a subscription can change without its profile row) nor in
``insert_only`` mode (where a matched row is ``skipped``, not ``unchanged``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from customer_import.spec.database import ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import ImportMode

if TYPE_CHECKING:
    from customer_import.geo.locator import GeoLocator

FINGERPRINT_COLUMN = "source_fingerprint"
FINGERPRINT_BYTES = 16


def fingerprints_apply(spec: ImportSpec) -> bool:
    """Whether an import fingerprints its rows (see the module's docstring for why only these)."""
    return (
        spec.prevent_duplication.skip_unchanged
        and spec.target.mode is not ImportMode.INSERT_ONLY
        and not spec.subscriptions
    )


def _package_version() -> str:
    try:
        return importlib.metadata.version("airflow-provider-customer-import")
    except importlib.metadata.PackageNotFoundError:  # pragma: no cover - running from a bare source tree
        return "unknown"


class RowFingerprints:
    """Fingerprints of one import's source rows (deterministic across processes and runs)."""

    def __init__(self, spec: ImportSpec, database: ProfileDatabase, locator: GeoLocator | None) -> None:
        self._material = "\n".join(
            (
                _package_version(),
                spec.model_dump_json(include={"target", "mapping", "subscriptions", "prevent_duplication"}),
                spec.schedule.timezone,
                database.model_dump_json(),
                locator.source.description if locator is not None else "",  # file and build, or library
            )
        )
        self._keys: dict[tuple[str, ...], bytes] = {}
        self._encode = msgspec.msgpack.Encoder(enc_hook=repr, decimal_format="string").encode

    def _encoded(self, row: Sequence[Any]) -> bytes:
        try:
            return self._encode(row)
        except (OverflowError, TypeError, ValueError):  # e.g. an integer beyond 64 bits
            return repr(tuple(row)).encode("utf-8", "surrogatepass")

    def _key(self, columns: tuple[str, ...]) -> bytes:
        if columns not in self._keys:
            material = self._material + "\n" + "\x1f".join(columns)
            self._keys[columns] = hashlib.blake2b(material.encode("utf-8"), digest_size=32).digest()
        return self._keys[columns]

    def of(self, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[bytes]:
        """One fingerprint per row of a result with these column names."""
        blake2b, key, size = hashlib.blake2b, self._key(columns), FINGERPRINT_BYTES
        return [blake2b(self._encoded(row), digest_size=size, key=key).digest() for row in rows]
