"""Properties of :class:`RowMapper` over arbitrary rows (hypothesis).

``tests/unit/test_coerce.py`` already checks each coercer alone (it returns or raises ValueRejected). Here
whole rows of the result's width, mapped by specs that use every field type, are checked at the mapper:

- ``map`` never raises; it returns a Record or a Rejection whose code is one of mapping/errors.py;
- it agrees with the field coercers run one by one: the first failing column (in mapping order) is the
  rejection's column, code and raw value, the other failing columns are listed in its message, an empty
  matching value is ``empty_match_key``, and otherwise the record holds exactly the coerced values;
- a record's values can be stored (no NUL, valid UTF-8) and are a fixed point: mapping them again gives
  the same record;
- hostile batches (values a driver could not read, NUL, megabyte strings, emoji, dates past 9999 and in
  year 0, NaN and infinities) never make ``map_rows`` raise, in 10,000 examples: every row is a record
  or a rejection with a known code, no cursor handed on is a marker, and the run report that samples
  the rejections stays small and serialisable.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import uuid
import zoneinfo
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customer_import.mapping import errors
from customer_import.mapping.coerce import make_coercer
from customer_import.mapping.errors import Rejection, ValueRejected
from customer_import.mapping.mapper import Record, RowMapper
from customer_import.report import RunReport
from customer_import.sources import values as source_values
from customer_import.sources.values import Unreadable
from customer_import.spec.database import FieldDef
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import FieldType
from tests.helpers import make_database, make_spec, property_examples

DATABASE = make_database()
FIELDS = DATABASE.all_fields()
CODES = frozenset(v for k, v in vars(errors).items() if k.isupper() and isinstance(v, str))
INT64 = 2**63
UTC_PLUS_14 = dt.timezone(dt.timedelta(hours=14))

# Every field type: standard fields, and the custom fields of tests/helpers.py's database.
MAPPING: list[dict[str, Any]] = [
    {"field": "email", "column": "email"},
    {"field": "phone", "column": "phone", "phone": {"default_region": "DE"}},
    {"field": "first_name", "column": "first_name"},
    {"field": "postal_code", "column": "zip"},
    {"field": "birth_date", "column": "birthday", "date_format": "%d.%m.%Y"},
    {"field": "gender", "column": "gender"},
    {"field": "registration_date", "column": "registered"},
    {"field": "registration_ip", "column": "registration_ip"},
    {"field": "ip", "column": "last_ip"},
    {"field": "timezone", "column": "tz"},
    {"field": "crm_id", "column": "crm_id"},
    {"field": "tier", "column": "tier"},
    {"field": "interests", "column": "interests"},
    {"field": "ltv", "column": "ltv"},
    {"field": "vip", "column": "vip"},
    {"field": "seen_at", "column": "seen_at", "date_format": "%Y-%m-%d %H:%M"},
    {"field": "extra", "column": "extra"},
]
CURSOR_SOURCE = {
    "conn_id": "src",
    "query": "SELECT * FROM customers WHERE id > {lastItem}",
    "cursor": {"column": "id", "start_value": 0},
}


def _spec(matching: dict[str, Any], mode: str = "upsert", **changes: Any) -> ImportSpec:
    target = {"database": "shop", "mode": mode, "matching": matching}
    return make_spec(**{"target": target, "source": CURSOR_SOURCE, "mapping": MAPPING, **changes})


# name -> (spec, timezone of the run)
CONFIGS: dict[str, tuple[ImportSpec, str]] = {
    "email": (_spec({"by": "email_profile"}), "UTC"),
    "phone-no-region": (
        _spec(
            {"by": "phone_profile"},
            mapping=[{**m, "phone": None} if m["field"] == "phone" else m for m in MAPPING],
        ),
        "Europe/Berlin",
    ),
    "custom": (_spec({"by": "custom", "field": "crm_id"}), "America/New_York"),
    "profile-id": (
        _spec(
            {"by": "profile_id"},
            mode="update_only",
            mapping=[{"field": "profile_id", "column": "pid"}, *MAPPING],
        ),
        "Asia/Tokyo",
    ),
}


def columns_of(spec: ImportSpec) -> tuple[str, ...]:
    """The result's columns: the cursor, the mapped columns and one column the mapping does not use."""
    return ("id", *(m.column for m in spec.mapping), "unused")


# --- strategies ------------------------------------------------------------------------------------------

CORPUS = yaml.safe_load(
    (Path(__file__).resolve().parents[1] / "corpus" / "messy_rows.yaml").read_text("utf-8")
)
MESSY = st.sampled_from([e["raw"] for e in CORPUS])
# Values a driver could not convert (customer_import.sources.values).
UNREADABLE = st.builds(
    Unreadable,
    st.text(max_size=12),
    st.sampled_from(
        [
            source_values.DATE,
            source_values.DATETIME,
            source_values.TIME,
            source_values.INTERVAL,
            source_values.ENCODING,
        ]
    ),
    st.text(max_size=20),
)
MEGABYTE = "x" * 1_000_000
# Hostile values of issue 15: NUL, broken Unicode, megabyte strings, emoji, far-future and year-0 dates
# (as values and as text), NaN and infinities (as floats, decimals and text).
HOSTILE = st.one_of(
    UNREADABLE,
    st.sampled_from(
        [
            "\x00",
            "Ann\x00",
            "a@b.de\x00",
            "\ud800",
            "Zo\udcebe",
            MEGABYTE,
            " " + MEGABYTE + "@example.com ",
            "[" * 100_000,
            "🙂" * 1000,
            "👩\u200d💻",
            "9999-12-31",
            "9999-12-31T23:59:59-05:00",
            "10000-01-01",
            "10000-01-01T00:00:00",
            "0000-00-00",
            "0000-01-01",
            "0000-00-00 00:00:00",
            "infinity",
            "-infinity",
            "NaN",
            "Infinity",
            "-Infinity",
            "1e999999",
            float("nan"),
            float("inf"),
            float("-inf"),
            Decimal("NaN"),
            Decimal("-Infinity"),
            Decimal("1e999999"),
            dt.date(9999, 12, 31),
            dt.date(1, 1, 1),
            dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC_PLUS_14),
            dt.datetime(1, 1, 1, 0, 0, tzinfo=dt.timezone(dt.timedelta(hours=-14))),
            10**100,
            10**5000,  # more digits than Python writes as text
            Decimal("1e5000"),
        ]
    ),
)
# Values a source driver can hand over, of any type for any column.
ANY_VALUE = st.one_of(
    st.none(),
    st.text(),
    st.text(alphabet=" 0123456789+-.,;:eE/TZ@[]{}\"'%xX"),
    st.integers(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.binary(max_size=24),
    st.binary(max_size=8).map(bytearray),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.sampled_from([dt.UTC, UTC_PLUS_14, zoneinfo.ZoneInfo("Europe/Berlin")])),
    st.times(),
    st.timedeltas(),
    st.booleans(),
    st.decimals(),
    st.uuids(),
    st.ip_addresses(),
    st.lists(st.one_of(st.none(), st.text(max_size=5), st.integers()), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=3),
    MESSY,
    UNREADABLE,
)

ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "posixrules"})
PHONES = st.one_of(
    st.integers(min_value=1_000_000, max_value=9_999_999).map(lambda n: f"+49 30 {n}"),
    st.integers(min_value=10_000_000, max_value=99_999_999).map(lambda n: f"0049 151 {n}"),
    st.sampled_from(["+33 1 23 45 67 89", "+1 650-253-0000", "+81 3-1234-5678", "+44 20 7946 0018"]),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    # No NUL here: a NUL inside JSON is rejected (invalid_json), see tests/corpus/messy_rows.yaml.
    st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=8),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="abc_", max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)


def _date_text(fmt: str) -> Any:
    # strptime's %Y needs four digits.
    return st.datetimes(min_value=dt.datetime(1000, 1, 1), max_value=dt.datetime(9999, 12, 30)).map(
        lambda moment: moment.strftime(fmt)
    )


def _padded(strategy: Any) -> Any:
    space = st.sampled_from(["", " ", "\t", "\u00a0", "\n "])
    return st.tuples(space, strategy, space).map(lambda t: f"{t[0]}{t[1]}{t[2]}")


# Values each field accepts most of the time, so that whole rows also become records.
PLAUSIBLE: dict[FieldType, Any] = {
    FieldType.EMAIL: st.one_of(
        st.emails(), _padded(st.sampled_from(["Ann.Lee@Example.COM", "user@bücher.de"]))
    ),
    FieldType.PHONE: _padded(PHONES),
    FieldType.STRING: st.text(max_size=30),
    FieldType.DATE: st.one_of(st.dates(), _date_text("%d.%m.%Y")),
    FieldType.DATETIME: st.one_of(
        st.datetimes(
            min_value=dt.datetime(2, 1, 1), max_value=dt.datetime(9998, 12, 31), timezones=st.just(dt.UTC)
        ),
        _date_text("%Y-%m-%d %H:%M"),
    ),
    FieldType.BOOL: st.one_of(st.booleans(), st.sampled_from(["yes", "No", " TRUE ", "off", "1", "0", 1, 0])),
    FieldType.INT: st.one_of(
        st.integers(-INT64, INT64 - 1),
        st.integers(-INT64, INT64 - 1).map(str),
        st.sampled_from(["1e3", " 7 ", "2.0"]),
    ),
    FieldType.FLOAT: st.one_of(
        st.floats(allow_nan=False, allow_infinity=False),
        st.floats(allow_nan=False, allow_infinity=False).map(repr),
    ),
    FieldType.IP: st.one_of(
        st.ip_addresses().map(str),
        st.ip_addresses(v=6).map(lambda a: a.exploded.upper()),
        st.ip_addresses(),
    ),
    FieldType.TAGS: st.one_of(
        st.lists(st.text(max_size=8), max_size=5),
        st.lists(st.text(alphabet="abcxyzäß🎉 ", max_size=6), max_size=5).map(", ".join),
    ),
    FieldType.JSON: st.one_of(JSON_VALUES, JSON_VALUES.map(json.dumps)),
    FieldType.TIMEZONE: st.sampled_from(ZONES),
}
ENUM_VALUES = {
    "gender": st.sampled_from(["male", "Female", " MALE "]),
    "tier": st.sampled_from(["gold", "SILVER", " Bronze"]),
}


def _plausible(field: str) -> Any:
    if field == "profile_id":
        return st.one_of(st.integers(1, INT64 - 1), st.integers(1, INT64 - 1).map(str))
    if field in ENUM_VALUES:
        return ENUM_VALUES[field]
    return PLAUSIBLE[FIELDS[field].type]


def any_rows(spec: ImportSpec) -> Any:
    """Rows of the result's width; each cell anything, a plausible value of its field, or a messy value."""
    cells = [st.one_of(ANY_VALUE, _plausible(m.field)) for m in spec.mapping]
    return st.tuples(ANY_VALUE, *cells, ANY_VALUE)


def mostly_good_rows(spec: ImportSpec) -> Any:
    """Rows whose cells are plausible or empty (the matching value is never empty): mostly records."""
    match = spec.match_field
    cells = [
        _plausible(m.field) if m.field == match else st.one_of(st.none(), _plausible(m.field))
        for m in spec.mapping
    ]
    return st.tuples(st.integers(), *cells, ANY_VALUE)


# --- the model: the coercers one by one ------------------------------------------------------------------


def expected_outcome(
    spec: ImportSpec, timezone: str, row: tuple[Any, ...]
) -> tuple[dict[str, Any], list[Any]]:
    """Each mapped field's coerced value, and the (column, index, ValueRejected) of each failing column."""
    fields = {**FIELDS, "profile_id": FieldDef(type=FieldType.INT)}
    values: dict[str, Any] = {}
    problems: list[tuple[str, int, ValueRejected]] = []
    for index, item in enumerate(spec.mapping, start=1):
        try:
            values[item.field] = make_coercer(fields[item.field], item, timezone)(row[index])
        except ValueRejected as rejected:
            problems.append((item.column, index, rejected))
    return values, problems


def check_against_model(
    spec: ImportSpec, timezone: str, row: tuple[Any, ...], row_no: int, result: Any
) -> None:
    assert isinstance(result, Record | Rejection), result
    assert result.cursor is row[0]
    values, problems = expected_outcome(spec, timezone, row)
    if problems:
        column, index, first = problems[0]
        assert isinstance(result, Rejection)
        assert (result.row, result.column, result.code) == (row_no, column, first.code)
        assert result.value is row[index]
        # a value the driver could not read: the message names its column
        expected = f"column {column!r}: {first.message}" if type(row[index]) is Unreadable else first.message
        assert result.message.startswith(expected)
        tail = result.message[len(expected) :]
        if len(problems) == 1:
            assert tail == ""
        else:
            positions = [tail.find(f"{c}: {e.code}") for c, _, e in problems[1:]]
            assert -1 not in positions and positions == sorted(positions), (tail, problems)
        return
    match = spec.match_field
    key = values.pop("profile_id") if match == "profile_id" else values[match]
    if key is None:
        assert isinstance(result, Rejection)
        assert (result.row, result.code, result.column) == (
            row_no,
            errors.EMPTY_MATCH_KEY,
            spec.mapped(match).column,
        )
        return
    assert result == Record(row_no=row_no, cursor=row[0], key=key, values=values)


def strings_in(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings_in(k), *strings_in(v))]
    if isinstance(value, list):
        return [s for v in value for s in strings_in(v)]
    return []


# --- properties -----------------------------------------------------------------------------------------

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_specs_map_every_field_type() -> None:
    for spec, _ in CONFIGS.values():
        assert {FIELDS[m.field].type for m in spec.mapping if m.field in FIELDS} == set(FieldType)


@pytest.mark.parametrize("config", list(CONFIGS))
@SETTINGS
@given(data=st.data())
def test_map_never_raises_and_agrees_with_the_coercers(config: str, data: st.DataObject) -> None:
    spec, timezone = CONFIGS[config]
    mapper = RowMapper(spec, DATABASE, columns_of(spec), timezone=timezone)
    row = data.draw(any_rows(spec), label="row")
    row_no = data.draw(st.integers(min_value=1, max_value=10**9), label="row_no")
    result = mapper.map(row, row_no)
    assert isinstance(result, Record | Rejection)
    if isinstance(result, Rejection):
        assert result.code in CODES
        assert isinstance(result.message, str) and result.message
        assert result.column in {m.column for m in spec.mapping}
    check_against_model(spec, timezone, row, row_no, result)
    # A list row (some drivers) maps the same.
    assert repr(mapper.map(list(row), row_no)) == repr(result)


@pytest.mark.parametrize("config", list(CONFIGS))
@SETTINGS
@given(data=st.data())
def test_records_are_storable_and_a_fixed_point(config: str, data: st.DataObject) -> None:
    spec, timezone = CONFIGS[config]
    columns = columns_of(spec)
    mapper = RowMapper(spec, DATABASE, columns, timezone=timezone)
    row = data.draw(mostly_good_rows(spec), label="row")
    result = mapper.map(row, 1)
    check_against_model(spec, timezone, row, 1, result)
    if not isinstance(result, Record):
        return
    for text in strings_in(result.values):
        assert "\x00" not in text
        text.encode("utf-8")  # no lone surrogates
    # The normalised values mapped again: the same record. JSON text is how a source holds a JSON string.
    again = {**result.values, "profile_id": result.key}
    if isinstance(again.get("extra"), str):
        again["extra"] = json.dumps(again["extra"])
    second = (row[0], *(again[m.field] for m in spec.mapping), None)
    assert mapper.map(second, 2) == Record(row_no=2, cursor=row[0], key=result.key, values=result.values)


@pytest.mark.parametrize(
    "raw",
    [
        Decimal("NaN"),
        Decimal("sNaN"),
        float("nan"),
        memoryview(b"\xff"),
        bytearray(b" x "),
        uuid.UUID(int=7),
        ipaddress.ip_interface("10.1.2.3/8"),
        dt.time(12, 30),
        dt.timedelta(days=1),
        object(),
        type,
        [[["deep"]]],
        {"a": {1, 2}},
        "\ud800",
        "x" * 100_000,
    ],
)
def test_odd_driver_values_in_every_column_never_raise(raw: Any) -> None:
    for spec, timezone in CONFIGS.values():
        columns = columns_of(spec)
        mapper = RowMapper(spec, DATABASE, columns, timezone=timezone)
        row = (1, *[raw] * (len(columns) - 1))
        result = mapper.map(row, 1)
        assert isinstance(result, Rejection), result  # none of these is a usable matching value
        assert result.code in CODES


HOSTILE_SETTINGS = settings(
    max_examples=property_examples(10_000),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MAPPERS = {
    name: RowMapper(spec, DATABASE, columns_of(spec), timezone=timezone)
    for name, (spec, timezone) in CONFIGS.items()
}


# A good value of each field (the mapping's formats above): a row of these maps to a record.
GOOD: dict[str, Any] = {
    "pid": 7,
    "email": "ann@example.com",
    "phone": "+49 30 1234567",
    "first_name": "Zoë",
    "zip": "01067",
    "birthday": "01.02.1990",
    "gender": "female",
    "registered": dt.date(2020, 1, 31),
    "registration_ip": "10.0.0.1",
    "last_ip": "2001:db8::1",
    "tz": "Europe/Berlin",
    "crm_id": 42,
    "tier": "gold",
    "interests": "a, b",
    "ltv": 1.5,
    "vip": "yes",
    "seen_at": "2026-01-01 10:00",
    "extra": '{"a": 1}',
}
# The pool the hostile cells come from: cheap to draw (hypothesis's cost grows with every strategy a
# row combines, and 10,000 examples must stay within a minute), yet every kind of hostile value.
POOL = st.one_of(HOSTILE, UNREADABLE, MESSY)


def hostile_rows(spec: ImportSpec) -> Any:
    """A good row (the cursor first, an unused column last) with up to five cells replaced by hostile
    values (the cursor too)."""
    columns = columns_of(spec)
    base = [1, *(GOOD[m.column] for m in spec.mapping), None]

    def build(changes: list[tuple[int, Any]]) -> tuple[Any, ...]:
        row = list(base)
        for index, value in changes:
            row[index] = value
        return tuple(row)

    change = st.tuples(st.integers(0, len(columns) - 1), POOL)
    return st.lists(change, max_size=5).map(build)


def test_the_good_row_of_every_config_is_a_record() -> None:
    for config, (spec, _) in CONFIGS.items():
        base = (1, *(GOOD[m.column] for m in spec.mapping), None)  # what hostile_rows starts from
        assert isinstance(MAPPERS[config].map(base, 1), Record), config


@HOSTILE_SETTINGS
@given(data=st.data())
def test_hostile_batches_never_crash_the_mapper(data: st.DataObject) -> None:
    config = data.draw(st.sampled_from(sorted(CONFIGS)), label="config")
    spec, _ = CONFIGS[config]
    mapper = MAPPERS[config]
    rows = data.draw(st.lists(hostile_rows(spec), min_size=1, max_size=3), label="rows")
    results = mapper.map_rows(rows, range(1, len(rows) + 1))
    assert len(results) == len(rows)
    report = RunReport(import_name="hostile", run_id="r")
    for row, result in zip(rows, results, strict=True):
        assert isinstance(result, Record | Rejection)
        assert type(result.cursor) is not Unreadable  # the cursor only ever sees values it can order
        if isinstance(result, Rejection):
            assert result.code in CODES
            assert result.message
            report.reject(result)
            continue
        assert result.cursor is row[0]
        for text in strings_in(result.values):
            assert "\x00" not in text
            text.encode("utf-8")
    # the rejections' sample stays small and is strict JSON (no NaN), whatever the values
    encoded = json.dumps(report.to_dict(), allow_nan=False, ensure_ascii=False)
    assert len(encoded) < 1_000 + 1_500 * len(report.rejected)
