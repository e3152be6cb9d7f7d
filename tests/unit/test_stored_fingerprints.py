"""StoredFingerprints: the in-memory set a skip_unchanged run asks instead of the store."""

from __future__ import annotations

import hashlib

from hypothesis import given
from hypothesis import strategies as st

from customer_import.fingerprints import FINGERPRINT_BYTES, StoredFingerprints


def fp(n: int) -> bytes:
    return hashlib.blake2b(str(n).encode(), digest_size=FINGERPRINT_BYTES).digest()


def test_it_knows_exactly_the_stored_fingerprints() -> None:
    stored = StoredFingerprints([b"".join(fp(n) for n in range(1000))], 1000)
    assert len(stored) == 1000
    assert stored.known([fp(5), fp(1000), fp(999), fp(-1), fp(0)]) == [True, False, True, False, True]


def test_values_sharing_a_half_are_told_apart() -> None:
    a = b"\x01" * 8 + b"\x02" * 8
    b = b"\x01" * 8 + b"\x03" * 8  # same first half
    c = b"\x00" * 8 + b"\x02" * 8  # same second half
    stored = StoredFingerprints([a, c], 2)
    assert stored.known([a, b, c, b"\x00" * 16, b"\xff" * 16]) == [True, False, True, False, False]


def test_forgotten_fingerprints_are_no_longer_known() -> None:
    stored = StoredFingerprints(
        [b"".join(fp(n) for n in range(5)), b"".join(fp(n) for n in range(5, 10))], 10
    )
    stored.forget([fp(3), fp(42), b"short"])  # unknown and malformed values are ignored
    assert stored.known([fp(n) for n in range(10)]) == [n != 3 for n in range(10)]


def test_a_fingerprint_two_profiles_hold_is_forgotten_for_both() -> None:
    stored = StoredFingerprints([fp(1) + fp(2) + fp(1)], 3)
    stored.forget([fp(1)])
    assert stored.known([fp(1), fp(2)]) == [False, True]


def test_fingerprints_beyond_the_count_taken_are_left_out() -> None:
    stored = StoredFingerprints([fp(1) + fp(2), fp(3)], 2)  # fp(3) was stored after the count
    assert len(stored) == 2
    assert stored.known([fp(1), fp(2), fp(3)]) == [True, True, False]


def test_an_empty_store_knows_nothing() -> None:
    stored = StoredFingerprints([], 0)
    assert len(stored) == 0
    assert stored.known([fp(1), fp(2)]) == [False, False]
    stored.forget([fp(1)])
    assert stored.known([]) == []


@given(
    st.lists(st.binary(min_size=16, max_size=16), max_size=60),
    st.lists(st.binary(min_size=16, max_size=16), max_size=60),
    st.lists(st.binary(min_size=16, max_size=16), max_size=20),
)
def test_it_answers_like_a_python_set(
    stored_values: list[bytes], asked: list[bytes], forgotten: list[bytes]
) -> None:
    stored = StoredFingerprints([b"".join(stored_values)], len(stored_values))
    stored.forget(forgotten)
    expected = set(stored_values) - set(forgotten)
    assert stored.known(asked + stored_values) == [v in expected for v in asked + stored_values]


def test_row_fingerprints_are_stable_and_cover_values_msgpack_cannot_encode() -> None:
    import datetime as dt
    import decimal

    from customer_import.fingerprints import RowFingerprints
    from tests.helpers import make_database, make_spec

    rows = [
        (1, "a", None, 2.5, dt.datetime(2020, 1, 1)),
        (2**70, "b", decimal.Decimal("1.5"), True, dt.date(2020, 1, 2)),  # beyond 64 bits: repr
    ]
    columns = ("a", "b", "c", "d", "e")
    first = RowFingerprints(make_spec(), make_database(), None).of(columns, rows)
    again = RowFingerprints(make_spec(), make_database(), None).of(columns, list(reversed(rows)))
    assert len(set(first)) == 2 and all(len(p) == FINGERPRINT_BYTES for p in first)
    assert again == list(reversed(first))  # per row, not per batch; the same in another instance
    other = RowFingerprints(make_spec(), make_database(), None).of(("a", "b", "c", "d", "x"), rows)
    assert set(other).isdisjoint(first)  # the column names are part of the key


def test_batch_fingerprints_are_read_by_row_number_from_one_buffer() -> None:
    from customer_import.fingerprints import BatchFingerprints

    prints = BatchFingerprints(101, b"".join(fp(n) for n in range(3)))
    assert len(prints) == 3 and list(prints) == [101, 102, 103]
    assert prints[102] == fp(1) and prints.get(104) is None and prints.get(100) is None
    assert dict(prints) == {101: fp(0), 102: fp(1), 103: fp(2)}
    stored = StoredFingerprints([fp(1) + fp(7)], 2)
    assert stored.known_pairs(prints.pairs()).tolist() == [False, True, False]
    assert stored.known_pairs(prints.pairs([103, 102])).tolist() == [False, True]


def test_batch_fingerprints_find_the_rows_holding_replaced_ones() -> None:
    import numpy as np

    from customer_import.fingerprints import BatchFingerprints

    prints = BatchFingerprints(11, b"".join(fp(n) for n in range(5)))
    rows = np.array([11, 13, 14, 15])
    assert prints.among(rows, [fp(2), fp(4), b"short"]).tolist() == [False, True, False, True]
    assert prints.among(rows, []).tolist() == [False] * 4
    # the same first half with another second half is not a match
    twin = fp(2)[:8] + bytes(8)
    assert prints.among(rows, [twin]).tolist() == [False] * 4
