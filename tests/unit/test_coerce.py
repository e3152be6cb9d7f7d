"""Value coercion: per field type, good values with their normalised output, bad values with their code."""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customer_import.mapping import errors
from customer_import.mapping.coerce import make_coercer
from customer_import.mapping.errors import ValueRejected
from customer_import.spec.database import FieldDef
from customer_import.spec.import_spec import MappingItem, PhoneOptions
from customer_import.spec.vocab import FieldType

BERLIN = "Europe/Berlin"


def coercer(
    field_type: str,
    *,
    values: list[str] | None = None,
    max_length: int | None = None,
    date_format: str | None = None,
    region: str | None = None,
    tz: str = BERLIN,
) -> Callable[[Any], Any]:
    field_def = FieldDef(type=FieldType(field_type), unique=False, values=values, max_length=max_length)
    item = None
    if date_format is not None or region is not None:
        phone = PhoneOptions(default_region=region) if region is not None else None
        item = MappingItem(field="f", column="c", date_format=date_format, phone=phone)
    return make_coercer(field_def, item, tz)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


TIERS = {"values": ["bronze", "Silver", "GOLD"]}
DMY = {"date_format": "%d.%m.%Y"}
DMY_HM = {"date_format": "%d.%m.%Y %H:%M"}
DE = {"region": "DE"}

GOOD: list[tuple[str, dict[str, Any], Any, Any]] = [
    # int
    ("int", {}, 42, 42),
    ("int", {}, "42", 42),
    ("int", {}, " 42 ", 42),
    ("int", {}, "-7", -7),
    ("int", {}, "+7", 7),
    ("int", {}, "1e3", 1000),
    ("int", {}, "2.0", 2),
    ("int", {}, 1.0, 1),
    ("int", {}, Decimal("12.000"), 12),
    ("int", {}, b"5", 5),
    ("int", {}, 2**63 - 1, 2**63 - 1),
    ("int", {}, str(-(2**63)), -(2**63)),
    # float
    ("float", {}, 1.5, 1.5),
    ("float", {}, 3, 3.0),
    ("float", {}, "2.25", 2.25),
    ("float", {}, " -1e-3 ", -0.001),
    ("float", {}, Decimal("0.1"), 0.1),
    # string
    ("string", {}, "  hello  ", "hello"),
    ("string", {}, 12, "12"),
    ("string", {}, 1.5, "1.5"),
    ("string", {}, Decimal("1.50"), "1.50"),
    ("string", {}, "Grüße".encode(), "Grüße"),
    ("string", {}, uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
    ("string", {}, date(2024, 2, 29), "2024-02-29"),
    ("string", {"max_length": 5}, " abcde ", "abcde"),
    # date
    ("date", {}, "2024-02-29", date(2024, 2, 29)),
    ("date", {}, "2024-02-29T23:59:00", date(2024, 2, 29)),
    ("date", {}, "2026-01-01T23:30:00+00:00", date(2026, 1, 2)),  # aware: its date in Europe/Berlin
    ("date", {}, date(2020, 1, 2), date(2020, 1, 2)),
    ("date", {}, datetime(2020, 1, 2, 23, 59), date(2020, 1, 2)),
    ("date", {}, utc(2026, 6, 30, 22, 30), date(2026, 7, 1)),
    ("date", DMY, "29.02.2024", date(2024, 2, 29)),
    ("date", DMY, " 01.12.1990 ", date(1990, 12, 1)),
    ("date", {"date_format": "%m/%d/%Y"}, "12/31/1999", date(1999, 12, 31)),
    # datetime: naive values are wall-clock times in Europe/Berlin
    ("datetime", {}, "2026-01-15 10:00", utc(2026, 1, 15, 9, 0)),
    ("datetime", {}, "2026-07-15T10:00:00", utc(2026, 7, 15, 8, 0)),
    ("datetime", {}, "2026-07-15T10:00:00Z", utc(2026, 7, 15, 10, 0)),
    ("datetime", {}, "2026-07-15T10:00:00-04:00", utc(2026, 7, 15, 14, 0)),
    ("datetime", {}, "2026-01-15", utc(2026, 1, 14, 23, 0)),  # bare date: midnight in the zone
    ("datetime", {}, date(2026, 7, 15), utc(2026, 7, 14, 22, 0)),
    ("datetime", {}, datetime(2026, 1, 15, 10, 0), utc(2026, 1, 15, 9, 0)),
    ("datetime", {}, datetime(2026, 1, 15, 10, 0, tzinfo=timezone(timedelta(hours=3))), utc(2026, 1, 15, 7)),
    ("datetime", DMY_HM, "15.01.2026 10:00", utc(2026, 1, 15, 9, 0)),
    ("datetime", DMY, "29.02.2028", utc(2028, 2, 28, 23, 0)),
    ("datetime", {"date_format": "%Y-%m-%d %H:%M %z"}, "2026-01-15 10:00 +0000", utc(2026, 1, 15, 10)),
    ("datetime", {"tz": "UTC"}, "2026-01-15 10:00", utc(2026, 1, 15, 10, 0)),
    # DST, Europe/Berlin: 02:30 on 2026-03-29 does not exist: shifted forward (03:30 CEST = 01:30 UTC),
    # 02:30 on 2026-10-25 happens twice: the first occurrence (02:30 CEST = 00:30 UTC).
    ("datetime", {}, "2026-03-29 02:30", utc(2026, 3, 29, 1, 30)),
    ("datetime", {}, "2026-10-25 02:30", utc(2026, 10, 25, 0, 30)),
    ("datetime", {}, datetime(2026, 10, 25, 2, 30, fold=1), utc(2026, 10, 25, 1, 30)),  # explicit fold kept
    # bool
    *[("bool", {}, raw, True) for raw in ("true", " TRUE ", "Yes", "y", "t", "1", "on", 1, True, 1.0)],
    *[("bool", {}, raw, False) for raw in ("false", "No", "N", "f", "0", "OFF", 0, False, Decimal(0))],
    # enum: the declared spelling
    ("enum", TIERS, "bronze", "bronze"),
    ("enum", TIERS, " BRONZE ", "bronze"),
    ("enum", TIERS, "silver", "Silver"),
    ("enum", TIERS, "Gold", "GOLD"),
    # ip
    ("ip", {}, "192.168.0.1", "192.168.0.1"),
    ("ip", {}, " 10.0.0.1 ", "10.0.0.1"),
    ("ip", {}, "2001:0DB8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
    ("ip", {}, "::1", "::1"),
    ("ip", {}, "::ffff:1.2.3.4", ipaddress.IPv6Address("::ffff:1.2.3.4").compressed),
    ("ip", {}, ipaddress.ip_address("fe80::1"), "fe80::1"),
    ("ip", {}, ipaddress.ip_interface("10.1.2.3/24"), "10.1.2.3"),
    # tags
    ("tags", {}, "vip, newsletter ; vip,,", ["vip", "newsletter"]),
    ("tags", {}, ["b", " a ", "b", "", None, 3], ["b", "a", "3"]),
    ("tags", {}, ("x",), ["x"]),
    ("tags", {}, '["a", "b", "a"]', ["a", "b"]),
    ("tags", {}, " ; , ", None),
    ("tags", {}, [], None),
    # json
    ("json", {}, '{"a": [1, 2.5, null, true]}', {"a": [1, 2.5, None, True]}),
    ("json", {}, "[]", []),
    ("json", {}, '"text"', "text"),
    ("json", {}, {"a": 1}, {"a": 1}),
    ("json", {}, {1: (1, 2)}, {"1": [1, 2]}),
    ("json", {}, 7, 7),
    ("json", {}, 1.5, 1.5),
    ("json", {}, False, False),
    ("json", {}, Decimal("2"), 2),
    ("json", {}, Decimal("2.5"), 2.5),
    # email: trimmed, lower-cased, Unicode domains as IDNA
    ("email", {}, "  someone@example.com ", "someone@example.com"),
    ("email", {}, "Some.One@Example.COM", "some.one@example.com"),
    ("email", {}, "user@münchen.de", "user@xn--mnchen-3ya.de"),
    ("email", {}, "USER@MÜNCHEN.DE", "user@xn--mnchen-3ya.de"),
    ("email", {}, "jörg@example.de", "jörg@example.de"),  # non-ASCII local part: no ASCII form
    ("email", {}, "a+tag@sub.example.org", "a+tag@sub.example.org"),
    # phone: E.164
    ("phone", {}, "+49 30 1234567", "+49301234567"),
    ("phone", {}, "0049 30 1234567", "+49301234567"),
    ("phone", {}, "+1 (650) 253-0000", "+16502530000"),
    ("phone", {}, 49301234567, "+49301234567"),  # an integer without a region is international
    ("phone", DE, "030 1234567", "+49301234567"),
    ("phone", DE, "+49 30 1234567", "+49301234567"),
    ("phone", DE, "0049 30 1234567", "+49301234567"),
    ("phone", DE, "0151 23456789", "+4915123456789"),
    ("phone", DE, 301234567, "+49301234567"),
    ("phone", {"region": "US"}, "650-253-0000", "+16502530000"),
    # timezone: the canonical IANA name
    ("timezone", {}, "Europe/Berlin", "Europe/Berlin"),
    ("timezone", {}, " america/new_york ", "America/New_York"),
    ("timezone", {}, "UTC", "UTC"),
    ("timezone", {}, ZoneInfo("Asia/Tokyo"), "Asia/Tokyo"),
]

BAD: list[tuple[str, dict[str, Any], Any, str]] = [
    # int
    ("int", {}, "1.5", errors.TYPE_MISMATCH),
    ("int", {}, 1.5, errors.TYPE_MISMATCH),
    ("int", {}, Decimal("1.5"), errors.TYPE_MISMATCH),
    ("int", {}, "abc", errors.TYPE_MISMATCH),
    ("int", {}, True, errors.TYPE_MISMATCH),
    ("int", {}, 2**63, errors.TYPE_MISMATCH),
    ("int", {}, str(-(2**63) - 1), errors.TYPE_MISMATCH),
    ("int", {}, "1e999999", errors.TYPE_MISMATCH),
    ("int", {}, float("nan"), errors.TYPE_MISMATCH),
    ("int", {}, float("inf"), errors.TYPE_MISMATCH),
    ("int", {}, 1e19, errors.TYPE_MISMATCH),
    ("int", {}, "NaN", errors.TYPE_MISMATCH),
    ("int", {}, [1], errors.TYPE_MISMATCH),
    ("int", {}, b"\xff", errors.TYPE_MISMATCH),
    # float
    ("float", {}, "nan", errors.TYPE_MISMATCH),
    ("float", {}, "inf", errors.TYPE_MISMATCH),
    ("float", {}, float("-inf"), errors.TYPE_MISMATCH),
    ("float", {}, "1e999", errors.TYPE_MISMATCH),
    ("float", {}, 10**400, errors.TYPE_MISMATCH),
    ("float", {}, "1,5", errors.TYPE_MISMATCH),
    ("float", {}, False, errors.TYPE_MISMATCH),
    ("float", {}, "x", errors.TYPE_MISMATCH),
    # string
    ("string", {"max_length": 5}, "abcdef", errors.TOO_LONG),
    ("string", {}, b"\xff\xfe", errors.TYPE_MISMATCH),
    ("string", {}, True, errors.TYPE_MISMATCH),
    ("string", {}, ["a"], errors.TYPE_MISMATCH),
    ("string", {}, "a\x00b", errors.TYPE_MISMATCH),
    # date
    ("date", {}, "2023-02-29", errors.INVALID_DATE),
    ("date", {}, "2024-13-01", errors.INVALID_DATE),
    ("date", {}, "yesterday", errors.INVALID_DATE),
    ("date", DMY, "29.02.2023", errors.INVALID_DATE),
    ("date", DMY, "31.04.2024", errors.INVALID_DATE),
    ("date", DMY, "2024-04-01", errors.INVALID_DATE),
    ("date", {}, 20240101, errors.TYPE_MISMATCH),
    # datetime
    ("datetime", {}, "2026-02-30 10:00", errors.INVALID_DATETIME),
    ("datetime", {}, "2026-01-15 25:00", errors.INVALID_DATETIME),
    ("datetime", {}, "soon", errors.INVALID_DATETIME),
    ("datetime", DMY_HM, "2026-01-15 10:00", errors.INVALID_DATETIME),
    ("datetime", {}, "0001-01-01 00:30", errors.INVALID_DATETIME),  # before the first UTC instant
    ("datetime", {}, 1767225600, errors.TYPE_MISMATCH),
    # bool
    ("bool", {}, "maybe", errors.TYPE_MISMATCH),
    ("bool", {}, 2, errors.TYPE_MISMATCH),
    ("bool", {}, "2", errors.TYPE_MISMATCH),
    ("bool", {}, 0.5, errors.TYPE_MISMATCH),
    ("bool", {}, Decimal("NaN"), errors.TYPE_MISMATCH),
    # enum
    ("enum", TIERS, "platinum", errors.INVALID_ENUM),
    ("enum", TIERS, "gol", errors.INVALID_ENUM),
    ("enum", TIERS, 1, errors.INVALID_ENUM),
    ("enum", TIERS, 1.5, errors.TYPE_MISMATCH),
    # ip
    ("ip", {}, "256.1.1.1", errors.INVALID_IP),
    ("ip", {}, "1.2.3", errors.INVALID_IP),
    ("ip", {}, "01.2.3.4", errors.INVALID_IP),
    ("ip", {}, "10.0.0.0/8", errors.INVALID_IP),
    ("ip", {}, "2001:db8:::1", errors.INVALID_IP),
    ("ip", {}, "localhost", errors.INVALID_IP),
    ("ip", {}, 3232235777, errors.INVALID_IP),
    # tags
    ("tags", {}, "[not json", errors.TYPE_MISMATCH),
    ("tags", {}, [["nested"]], errors.TYPE_MISMATCH),
    ("tags", {}, {"a": 1}, errors.TYPE_MISMATCH),
    ("tags", {}, 5, errors.TYPE_MISMATCH),
    # json
    ("json", {}, "{a: 1}", errors.INVALID_JSON),
    ("json", {}, "plain text", errors.INVALID_JSON),
    ("json", {}, "NaN", errors.INVALID_JSON),
    ("json", {}, "[1e400]", errors.INVALID_JSON),
    ("json", {}, float("nan"), errors.INVALID_JSON),
    ("json", {}, {"a": float("inf")}, errors.INVALID_JSON),
    ("json", {}, {"a": object()}, errors.INVALID_JSON),
    ("json", {}, Decimal("Infinity"), errors.INVALID_JSON),
    ("json", {}, {1, 2}, errors.INVALID_JSON),
    # email
    ("email", {}, "no-at-sign", errors.INVALID_EMAIL),
    ("email", {}, "a b@example.com", errors.INVALID_EMAIL),
    ("email", {}, "a@@example.com", errors.INVALID_EMAIL),
    ("email", {}, "a@localhost", errors.INVALID_EMAIL),
    ("email", {}, "a@example", errors.INVALID_EMAIL),
    ("email", {}, "@example.com", errors.INVALID_EMAIL),
    ("email", {}, "a..b@example.com", errors.INVALID_EMAIL),
    ("email", {}, 42, errors.TYPE_MISMATCH),
    # phone
    ("phone", {}, "030 1234567", errors.INVALID_PHONE),  # national without a default region
    ("phone", {}, "not a phone", errors.INVALID_PHONE),
    ("phone", {}, "+49 1", errors.INVALID_PHONE),
    ("phone", {}, "+1 555 0000 000", errors.INVALID_PHONE),
    ("phone", DE, "12", errors.INVALID_PHONE),
    ("phone", DE, "+999 1234567", errors.INVALID_PHONE),
    ("phone", {}, 4.9e10, errors.TYPE_MISMATCH),
    ("phone", {}, True, errors.TYPE_MISMATCH),
    # timezone
    ("timezone", {}, "Europe/Bielefeld", errors.INVALID_TIMEZONE),
    ("timezone", {}, "+02:00", errors.INVALID_TIMEZONE),
    ("timezone", {}, "../etc/passwd", errors.INVALID_TIMEZONE),
    ("timezone", {}, "localtime", errors.INVALID_TIMEZONE),
    ("timezone", {}, 2, errors.TYPE_MISMATCH),
]


@pytest.mark.parametrize(("field_type", "options", "raw", "expected"), GOOD)
def test_good_values_are_normalised(
    field_type: str, options: dict[str, Any], raw: Any, expected: Any
) -> None:
    result = coercer(field_type, **options)(raw)
    assert result == expected
    assert type(result) is type(expected)
    if isinstance(result, datetime):
        assert result.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("field_type", "options", "raw", "code"), BAD)
def test_bad_values_are_rejected_with_their_code(
    field_type: str, options: dict[str, Any], raw: Any, code: str
) -> None:
    with pytest.raises(ValueRejected) as caught:
        coercer(field_type, **options)(raw)
    assert caught.value.code == code
    assert caught.value.message


@pytest.mark.parametrize("field_type", [t.value for t in FieldType])
@pytest.mark.parametrize("raw", [None, "", "   ", "\t\n", b"", b"  "])
def test_empty_values_become_none(field_type: str, raw: Any) -> None:
    options: dict[str, Any] = TIERS if field_type == "enum" else {}
    assert coercer(field_type, **options)(raw) is None


@pytest.mark.parametrize(
    ("field_type", "options", "raw", "fragment"),
    [
        ("date", DMY, "31.04.2024", "'31.04.2024' is not a date in format %d.%m.%Y"),
        ("date", {}, "2023-02-29", "YYYY-MM-DD"),
        ("datetime", DMY_HM, "x", "format %d.%m.%Y %H:%M"),
        ("enum", TIERS, "platinum", "bronze, Silver, GOLD"),
        ("email", {}, "a b@example.com", "SPACE"),
        ("int", {}, "1.5", "not a whole number"),
        ("string", {"max_length": 3}, "abcd", "at most 3"),
        ("int", {}, "9" * 500, "..."),  # long values are shortened in messages
    ],
)
def test_messages_say_what_was_wrong(
    field_type: str, options: dict[str, Any], raw: Any, fragment: str
) -> None:
    with pytest.raises(ValueRejected) as caught:
        coercer(field_type, **options)(raw)
    assert fragment in caught.value.message
    assert len(caught.value.message) < 300


@pytest.mark.parametrize(
    ("wall_clock", "comment"),
    [("2026-03-29 02:30", "non-existent"), ("2026-03-29 03:30", "just after the gap")],
)
def test_spring_forward_gap_shifts_forward_like_pendulum(wall_clock: str, comment: str) -> None:
    naive = datetime.fromisoformat(wall_clock)
    expected = pendulum.datetime(naive.year, naive.month, naive.day, naive.hour, naive.minute, tz=BERLIN)
    assert coercer("datetime")(wall_clock) == expected.in_timezone("UTC")


def test_ambiguous_time_takes_the_first_occurrence() -> None:
    result = coercer("datetime")("2026-10-25 02:30")
    assert result.astimezone(ZoneInfo(BERLIN)).utcoffset() == timedelta(hours=2)  # still CEST
    assert result == utc(2026, 10, 25, 0, 30)


@pytest.mark.parametrize(
    ("field_type", "options", "raw", "ok"),
    [
        ("date", {}, "2024-02-29", True),
        ("date", {}, "2000-02-29", True),  # divisible by 400
        ("date", {}, "1900-02-29", False),  # divisible by 100
        ("date", {}, "2023-02-29", False),
        ("date", DMY, "29.02.2024", True),
        ("date", DMY, "29.02.2100", False),
        ("datetime", {}, "2024-02-29 12:00", True),
        ("datetime", {}, "2023-02-29 12:00", False),
    ],
)
def test_29_february(field_type: str, options: dict[str, Any], raw: str, ok: bool) -> None:
    coerce = coercer(field_type, **options)
    if ok:
        assert coerce(raw) is not None
    else:
        with pytest.raises(ValueRejected):
            coerce(raw)


def test_phone_results_are_cached_and_still_reject_every_time() -> None:
    coerce = coercer("phone", region="DE")
    assert coerce("030 1234567") == coerce("030 1234567") == "+49301234567"
    for _ in range(2):
        with pytest.raises(ValueRejected):
            coerce("12")


# --- property: a coercer returns or raises ValueRejected, never anything else -------------------------

CONFIGS: list[tuple[str, dict[str, Any]]] = [
    *[(t.value, TIERS if t is FieldType.ENUM else {}) for t in FieldType],
    ("string", {"max_length": 10}),
    ("date", DMY),
    ("datetime", DMY_HM),
    ("datetime", {"date_format": "%Y-%m-%dT%H:%M:%S%z", "tz": "America/New_York"}),
    ("phone", DE),
]

RAW_VALUES = st.one_of(
    st.none(),
    st.text(),
    st.text(alphabet="0123456789+-.eE:/T Z,;[]\"'@"),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.booleans(),
    st.decimals(),
    st.binary(max_size=20),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=14)), ZoneInfo(BERLIN)])),
    st.dates(),
    st.lists(st.one_of(st.none(), st.text(max_size=5), st.integers()), max_size=5),
)


@pytest.mark.parametrize(("field_type", "options"), CONFIGS)
@settings(max_examples=150, deadline=None)
@given(raw=RAW_VALUES)
def test_coercers_only_ever_raise_value_rejected(field_type: str, options: dict[str, Any], raw: Any) -> None:
    coerce = coercer(field_type, **options)
    rejected: ValueRejected | None = None
    try:
        coerce(raw)
    except ValueRejected as error:
        rejected = error
    if rejected is not None:
        assert rejected.code in vars(errors).values()
        assert rejected.message


def _ip_by_the_library(value: str) -> str | None:
    """What the IP coercer answered before its IPv4 fast path: the ipaddress module's parse."""
    address, _, zone = value.partition("%")
    if zone and ":" not in address:
        return None
    try:
        return ipaddress.ip_address(address).compressed
    except ValueError:
        return None


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.text(alphabet="0123456789.", max_size=16),
        st.text(alphabet="0125.:%a \n\u0661", max_size=12),  # a newline; an Arabic-Indic digit
        st.from_regex(r"[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}", fullmatch=True),
    )
)
def test_the_ipv4_fast_path_agrees_with_the_library(value: str) -> None:
    convert = make_coercer(FieldDef(type=FieldType.IP), None, "UTC")
    try:
        answer: str | None = convert(value)
    except ValueRejected:
        answer = None
    assert answer == _ip_by_the_library(value.strip())
