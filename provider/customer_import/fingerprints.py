"""Source-row fingerprints: how a re-run skips mapping the rows it has already imported unchanged.

With ``prevent_duplication.skip_unchanged``, every profile an import creates, updates or finds unchanged
keeps the fingerprint of the source row it came from (column ``source_fingerprint``). The fingerprint is
the 128-bit XXH3 of the row's values as the driver gave them (msgpack-encoded), seeded with a key derived
(BLAKE2b) from everything else that decides what becomes of a row: this package's version, the spec's target,
mapping, subscriptions, duplicate prevention and time zone, the result's column names, the profile
database definition and the IP-location data (not the query or the schedule: they choose rows, not what
a row becomes). Rows the columnar reader reads (PostgreSQL, ``sources/arrow_text.py``) are fingerprinted
over the server's text of their values instead, with two seeded polars row hashes (``of_arrow``,
docs/decisions/0008). XXH3 rather than a keyed BLAKE2b: one C call a row instead of three, a third of the
time (0.09 s instead of 0.36 s for 300,000 benchmark rows); the key is not a secret, it only keeps
fingerprints of differently configured imports apart, and XXH3-128's collisions are as rare as its width
says for data nobody chose to collide (a source that could would only hide its own change).

So a stored fingerprint equal to a new row's means: an import configured the same way already wrote (or
confirmed) exactly this row into that profile, and nothing has written the profile since, because every
profile write sets the column (to its own row's fingerprint, or to NULL from an import without them).
Such a row is counted ``unchanged`` after reading only its matching key (for ``duplicate_keys``).

Where the fingerprints are looked up: a run reads every stored fingerprint once, before its first batch,
into a sorted array (``StoredFingerprints``: 17 bytes a profile, bounded by ``[customer_import]
fingerprint_cache_mb``), and asks it per batch without a round trip. Whenever a batch of the run itself
replaces a profile's fingerprint, the writer returns the one it replaced and the run forgets it, so a
later row of the same run is compared again with what that batch wrote (``duplicate_keys: last``). A
profile another import writes during the run is treated as if that import wrote it after this run's row
(the row was equal to the profile when the run read the fingerprints). A store with more fingerprints
than the cache holds is asked per batch instead (one indexed lookup per row); that run builds the
index first, since no other run needs it and every profile write would pay for it (docs/decisions/0010).

Not used for imports with subscriptions (a subscription can change without its profile row) nor in
``insert_only`` mode (where a matched row is ``skipped``, not ``unchanged``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import xxhash

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
        self._hashers: dict[tuple[str, ...], Any] = {}
        self._arrow_seeds: dict[tuple[tuple[str, ...], tuple[int, ...]], tuple[int, int]] = {}
        self._encode = msgspec.msgpack.Encoder(enc_hook=repr, decimal_format="string").encode

    def _encoded(self, row: Sequence[Any]) -> bytes:
        try:
            return self._encode(row)
        except (OverflowError, TypeError, ValueError):  # e.g. an integer beyond 64 bits
            return repr(tuple(row)).encode("utf-8", "surrogatepass")

    def _hasher(self, columns: tuple[str, ...]) -> Any:
        """XXH3-128 seeded with the key of this configuration and these column names."""
        if columns not in self._hashers:
            material = self._material + "\n" + "\x1f".join(columns)
            key = hashlib.blake2b(material.encode("utf-8"), digest_size=8).digest()
            self._hashers[columns] = partial(xxhash.xxh3_128_digest, seed=int.from_bytes(key, "big"))
        return self._hashers[columns]

    def _seeds(self, columns: tuple[str, ...], type_oids: tuple[int, ...]) -> tuple[int, int]:
        """Two polars ``hash_rows`` seeds for Arrow text batches with these columns and types,
        keyed like ``_hasher`` and also by polars' version (its row hash is stable only within one)."""
        import polars

        key = (columns, type_oids)
        if key not in self._arrow_seeds:
            material = "\n".join(
                (
                    self._material,
                    "arrow text, polars " + polars.__version__,
                    "\x1f".join(columns),
                    repr(type_oids),
                )
            )
            digest = hashlib.blake2b(material.encode("utf-8"), digest_size=16).digest()
            self._arrow_seeds[key] = (int.from_bytes(digest[:8], "big"), int.from_bytes(digest[8:], "big"))
        return self._arrow_seeds[key]

    def of_arrow(self, columns: tuple[str, ...], type_oids: tuple[int, ...], batch: Any) -> bytes:
        """The fingerprints of an Arrow text batch's rows (``sources/arrow_text.py``), concatenated: two
        seeded 64-bit polars row hashes of the server's text of every value, 128 bits a row, with no
        Python per row. They never equal ``of``'s (another key): an import that switches readers maps
        its rows once more, and then finds them unchanged by the new reader's fingerprints."""
        import polars

        frame = polars.from_arrow(batch)
        assert isinstance(frame, polars.DataFrame)
        first, second = self._seeds(columns, type_oids)
        prints = np.empty((frame.height, 2), dtype=">u8")
        prints[:, 0] = frame.hash_rows(seed=first).to_numpy()
        prints[:, 1] = frame.hash_rows(seed=second).to_numpy()
        return prints.tobytes()

    def of(self, columns: tuple[str, ...], rows: Sequence[Sequence[Any]]) -> list[bytes]:
        """One fingerprint per row of a result with these column names."""
        try:
            encoded = list(map(self._encode, rows))
        except (OverflowError, TypeError, ValueError):
            encoded = list(map(self._encoded, rows))
        return list(map(self._hasher(columns), encoded))


class BatchFingerprints(Mapping[int, bytes]):
    """One batch's fingerprints by row number (``first_row`` on), held as one buffer of 16-byte values:
    no Python object per row until one is asked for."""

    def __init__(self, first_row: int, data: bytes) -> None:
        self.first_row = first_row
        self.data = data
        self._count = len(data) // FINGERPRINT_BYTES

    def __getitem__(self, row_no: int) -> bytes:
        index = row_no - self.first_row
        if not 0 <= index < self._count:
            raise KeyError(row_no)
        return self.data[index * FINGERPRINT_BYTES : (index + 1) * FINGERPRINT_BYTES]

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.first_row, self.first_row + self._count))

    def __len__(self) -> int:
        return self._count

    def among(self, row_numbers: Any, prints: Iterable[bytes]) -> Any:
        """Per row number (a numpy array): whether its fingerprint is one of ``prints`` (a numpy bool
        array; ``prints`` are few, the rows a whole batch)."""
        wanted = {p for p in prints if len(p) == FINGERPRINT_BYTES}
        if not wanted:
            return np.zeros(len(row_numbers), dtype=np.bool_)
        mine = self.pairs(row_numbers)
        highs = _pairs(b"".join(wanted))[:, 0]
        found = np.flatnonzero(np.isin(mine[:, 0], highs))  # candidates by the first half, then exactly
        out = np.zeros(len(row_numbers), dtype=np.bool_)
        for index in found.tolist():
            out[index] = self[int(row_numbers[index])] in wanted
        return out

    def pairs(self, row_numbers: Any = None) -> Any:
        """The fingerprints (of these row numbers, a numpy array) as an (n, 2) array of native uint64."""
        pairs = _pairs(self.data)
        return pairs if row_numbers is None else pairs[np.asarray(row_numbers) - self.first_row]


def _pairs(data: bytes) -> Any:
    """Concatenated fingerprints as an (n, 2) array of the two big-endian halves, in native uint64."""
    return np.frombuffer(data, dtype=">u8").reshape(-1, 2).astype(np.uint64)


class StoredFingerprints:
    """The fingerprints stored profiles held when the run started, sorted in one array of 16-byte values,
    with a flag per value for the ones the run has since replaced.

    The values are sorted in place as bytes, then read as pairs of big-endian 64-bit integers (the same
    order): a binary search on the first halves finds a fingerprint, the second half confirms it (a value
    whose first half another value shares may be missed: its row is then only mapped; about one in a
    million at six million profiles). A batch's
    fingerprints are searched in sorted order (neighbouring searches share the array's cache lines: 2x
    faster on 3 million). Memory: 17 bytes a profile, with no larger temporary while it is built.
    """

    BYTES_EACH = FINGERPRINT_BYTES + 1  # the value and its flag

    def __init__(self, chunks: Iterable[bytes], count: int) -> None:
        """``chunks``: concatenated fingerprints (whole multiples of FINGERPRINT_BYTES), at most ``count``
        of them used (one stored after the count was taken is left out: its row is only mapped)."""
        values = np.empty(count, dtype=f"S{FINGERPRINT_BYTES}")
        filled = 0
        for chunk in chunks:
            part = np.frombuffer(chunk, dtype=values.dtype)[: count - filled]
            values[filled : filled + len(part)] = part
            filled += len(part)
        values = values[:filled]
        values.sort()  # as bytes: the order of the big-endian halves below
        halves = values.view(">u8").reshape(-1, 2)
        halves.byteswap(inplace=True)  # the same numbers, now in the machine's own byte order
        native = halves.view(halves.dtype.newbyteorder())
        self._high = native[:, 0]  # strided views: searching them needs no copy
        self._low = native[:, 1]
        self._alive = np.ones(filled, dtype=np.bool_)

    def __len__(self) -> int:
        return len(self._alive)

    def _find(self, asked: Any) -> tuple[Any, Any]:
        """(index of each fingerprint's first equal value or of its neighbour, whether it is equal);
        ``asked``: the fingerprints as ``_pairs`` gives them."""
        order = np.argsort(asked[:, 0])
        index = np.empty(len(asked), dtype=np.intp)
        index[order] = np.searchsorted(self._high, asked[order, 0])
        np.minimum(index, len(self._high) - 1, out=index)
        equal = (self._high[index] == asked[:, 0]) & (self._low[index] == asked[:, 1])
        return index, equal

    def known(self, prints: Sequence[bytes]) -> list[bool]:
        """Per fingerprint: held by a stored profile (and not replaced by this run since)."""
        return list(self.known_pairs(_pairs(b"".join(prints))).tolist())

    def known_pairs(self, asked: Any) -> Any:
        """``known`` for fingerprints as ``BatchFingerprints.pairs`` gives them: a numpy bool array."""
        if not len(self._alive) or not len(asked):
            return np.zeros(len(asked), dtype=np.bool_)
        index, equal = self._find(asked)
        return equal & self._alive[index]

    def forget(self, prints: Iterable[bytes]) -> None:
        """These fingerprints were replaced on their profiles: rows carrying them must be compared again.
        (Two profiles holding one fingerprint share its first entry: forgetting one forgets both, which
        only costs a comparison.)"""
        replaced = [p for p in prints if len(p) == FINGERPRINT_BYTES]
        if replaced and len(self._alive):
            index, equal = self._find(_pairs(b"".join(replaced)))
            self._alive[index[equal]] = False
