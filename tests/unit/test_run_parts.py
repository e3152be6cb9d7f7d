"""Pure pieces of a run: the mapper, duplicate keys within a part, the cursor value, the report."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer_import.cursor import advance, decode, encode
from customer_import.importer import DuplicateKeyFilter
from customer_import.mapping.errors import Rejection
from customer_import.mapping.mapper import MissingColumnsError, Record, RowMapper
from customer_import.report import RunReport, mask
from customer_import.spec.vocab import DuplicateKeys
from tests.helpers import make_database, make_spec

COLUMNS = ("email", "first_name", "crm_id")


def test_mapper_maps_a_good_row_and_normalises_the_key() -> None:
    mapper = RowMapper(make_spec(), make_database(), COLUMNS)
    record = mapper.map((" Ann@Example.COM ", "  Ann ", "7"), 1)
    assert record == Record(
        1, None, "ann@example.com", {"email": "ann@example.com", "first_name": "Ann", "crm_id": 7}
    )


def test_mapper_rejects_a_row_with_the_first_bad_column_and_mentions_the_others() -> None:
    mapper = RowMapper(make_spec(), make_database(), COLUMNS)
    rejection = mapper.map(("not-an-email", "Ann", "1.5"), 3)
    assert isinstance(rejection, Rejection)
    assert (rejection.row, rejection.column, rejection.code, rejection.value) == (
        3,
        "email",
        "invalid_email",
        "not-an-email",
    )
    assert "(also: crm_id: type_mismatch)" in rejection.message


def test_mapper_rejects_an_empty_matching_value() -> None:
    mapper = RowMapper(make_spec(), make_database(), COLUMNS)
    rejection = mapper.map(("   ", "Ann", 1), 2)
    assert isinstance(rejection, Rejection)
    assert rejection.code == "empty_match_key"


def test_mapper_finds_columns_case_insensitively_and_reports_missing_ones() -> None:
    RowMapper(make_spec(), make_database(), ("EMAIL", "FIRST_NAME", "CRM_ID"))
    with pytest.raises(MissingColumnsError, match="no column"):
        RowMapper(make_spec(), make_database(), ("email",))


def records(*keys: str) -> list[Record]:
    return [Record(n, n, key, {"email": key}) for n, key in enumerate(keys, start=1)]


@pytest.mark.parametrize(
    ("policy", "kept", "skipped", "rejected"),
    [
        (DuplicateKeys.LAST, [2, 3], [1], []),
        (DuplicateKeys.FIRST, [1, 3], [2], []),
        (DuplicateKeys.REJECT, [3], [], [1, 2]),
    ],
)
def test_duplicate_keys_within_a_batch(
    policy: DuplicateKeys, kept: list[int], skipped: list[int], rejected: list[int]
) -> None:
    out = DuplicateKeyFilter(policy).apply(records("a", "a", "b"))
    assert [[r.row_no for r in part] for part in out] == [kept, skipped, rejected]


def test_duplicate_keys_across_batches_of_a_part() -> None:
    first = DuplicateKeyFilter(DuplicateKeys.FIRST)
    first.apply(records("a"))
    assert [len(part) for part in first.apply(records("a", "b"))] == [1, 1, 0]
    reject = DuplicateKeyFilter(DuplicateKeys.REJECT)
    reject.apply(records("a"))
    assert [len(part) for part in reject.apply(records("a"))] == [0, 0, 1]
    last = DuplicateKeyFilter(DuplicateKeys.LAST)
    last.apply(records("a"))
    assert [len(part) for part in last.apply(records("a"))] == [1, 0, 0]


def _reference(
    policy: DuplicateKeys, batches: list[list[str]]
) -> list[tuple[list[int], list[int], list[int]]]:
    """The documented rules, one key group at a time (the filter's original, slower shape)."""
    seen: set[str] = set()
    out = []
    row = 0
    for keys in batches:
        numbered = list(enumerate(keys, start=row + 1))
        row += len(keys)
        kept: list[int] = []
        skipped: list[int] = []
        rejected: list[int] = []
        for key in dict.fromkeys(keys):
            group = [n for n, k in numbered if k == key]
            if policy is not DuplicateKeys.LAST and key in seen:
                (rejected if policy is DuplicateKeys.REJECT else skipped).extend(group)
            elif len(group) == 1:
                kept += group
            elif policy is DuplicateKeys.LAST:
                kept.append(group[-1])
                skipped += group[:-1]
            elif policy is DuplicateKeys.FIRST:
                kept.append(group[0])
                skipped += group[1:]
            else:
                rejected += group
            if policy is not DuplicateKeys.LAST:
                seen.add(key)
        out.append((sorted(kept), sorted(skipped), sorted(rejected)))
    return out


@given(
    st.sampled_from(list(DuplicateKeys)),
    st.lists(st.lists(st.sampled_from("abcdef"), max_size=8), max_size=4),
)
def test_duplicate_keys_follow_the_documented_rules(policy: DuplicateKeys, batches: list[list[str]]) -> None:
    duplicates = DuplicateKeyFilter(policy)
    got = []
    row = 0
    for keys in batches:
        batch = [Record(n, None, k, {}) for n, k in enumerate(keys, start=row + 1)]
        row += len(keys)
        kept, skipped, rejected = duplicates.apply(batch)
        got.append(tuple(sorted(r.row_no for r in part) for part in (kept, skipped, rejected)))
        assert [r.row_no for r in kept] == sorted(r.row_no for r in kept)  # kept stay in source order
    assert got == _reference(policy, batches)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (5000, "5000"),
        ("A-17", "A-17"),
        (dt.datetime(2026, 11, 28, 3, 0, tzinfo=dt.UTC), "2026-11-28T03:00:00+00:00"),
        (dt.date(2026, 11, 28), "2026-11-28"),
        (1.5, "1.5"),
    ],
)
def test_cursor_values_round_trip_through_the_variable_text(value: object, text: str) -> None:
    assert encode(value) == text
    assert decode(text, like=value) == value


def test_a_hand_edited_cursor_is_read_with_the_type_of_start_value() -> None:
    assert decode("  100 ", like=0) == 100
    assert decode("100", like="0") == "100"
    assert decode("2026-01-01 10:00", like=dt.datetime(2000, 1, 1)) == dt.datetime(2026, 1, 1, 10, 0)
    with pytest.raises(ValueError, match="is not a int like start_value 0"):
        decode("abc", like=0)


def test_cursor_advances_to_the_largest_value_of_the_batch() -> None:
    assert advance(10, [11, None, 15, 12]) == 15
    assert advance(10, [None]) == 10
    with pytest.raises(TypeError, match="mixes types"):
        advance(0, [1, "a"])


def test_report_counts_every_rejection_but_keeps_a_sample_of_each_code() -> None:
    report = RunReport("imp", "run", mask_contacts=True, contact_columns=frozenset({"mail"}))
    for n in range(1500):
        report.reject(Rejection(n, n, "mail", "invalid_email", f"'x{n}@' is bad", f"x{n}@"))
    for n in range(7):
        report.reject(Rejection(2000 + n, n, "ip", "invalid_ip", "bad ip", "300.1.1.1"))
    for code in ("c1", "c2", "c3", "c4", "c5"):
        for n in range(300):
            report.reject(Rejection(n, n, "x", code, "bad", n))
    out = report.to_dict()
    assert out["error_counts"] == {
        "invalid_email": 1500,
        "invalid_ip": 7,
        **dict.fromkeys(("c1", "c2", "c3", "c4", "c5"), 300),
    }
    sample = [r["code"] for r in out["rejected"]]
    assert sample.count("invalid_email") == 200  # capped per code ...
    assert sample.count("invalid_ip") == 7  # ... so a rare code is always shown
    assert len(sample) == 1000  # and in all
    assert out["rejected_truncated"] is True
    assert out["rejected"][0]["value"] == "x***@" and "x0@" not in out["rejected"][0]["message"]


def test_mask_keeps_a_hint_of_the_contact() -> None:
    assert mask("jane.doe@example.com") == "j***@example.com"
    assert mask("+4930123456") == "+49******56"
