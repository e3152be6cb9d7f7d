"""Source values the driver cannot convert (customer_import.sources.values.Unreadable), without servers:

- every field type rejects a marker with the code of its kind, and the message names the column;
- a marker in the cursor column rejects its row with no cursor (so the cursor never has to order it),
  also for rows whose fingerprint is known;
- every dialect's normalisation keeps markers (they are not turned into text that could be imported);
- SQLite text that is not UTF-8, and MySQL's invalid dates, become markers (the converters alone);
- markers survive the trip to a mapping worker process and into a row fingerprint.

The real drivers and servers: tests/integration/test_unreadable_values.py.
"""

from __future__ import annotations

import datetime as dt
import pickle
import sqlite3
from typing import Any

import pytest

from customer_import.fingerprints import RowFingerprints
from customer_import.mapping import errors
from customer_import.mapping.batches import InlineBatchMapper, map_rows
from customer_import.mapping.coerce import make_coercer
from customer_import.mapping.errors import Rejection, ValueRejected
from customer_import.mapping.mapper import Known, Record, RowMapper
from customer_import.sources import values
from customer_import.sources.dialects import SOURCE_DIALECTS
from customer_import.sources.values import Unreadable, install_mysql_converters, read_sqlite_text
from customer_import.spec.database import FieldDef
from customer_import.spec.import_spec import MappingItem
from customer_import.spec.vocab import FieldType
from tests.helpers import make_database, make_spec

INFINITY = Unreadable("infinity", values.DATE, "date too large (after year 10K): 'infinity'")
YEAR_10000 = Unreadable("10000-01-01 00:00:00", values.DATETIME, "timestamp too large (after year 10K)")
BAD_TEXT = Unreadable("\\xff\\xfe", values.ENCODING, "not valid UTF-8 text")
MIDNIGHT_24 = Unreadable("24:00:00", values.TIME, "hour must be in 0..23")
MARKERS = [INFINITY, YEAR_10000, BAD_TEXT, MIDNIGHT_24]
CODE_OF = {
    values.DATE: errors.INVALID_DATE,
    values.DATETIME: errors.INVALID_DATETIME,
    values.ENCODING: errors.INVALID_ENCODING,
    values.TIME: errors.UNREADABLE_VALUE,
}
DATABASE = make_database()


@pytest.mark.parametrize("field_type", list(FieldType))
@pytest.mark.parametrize("marker", MARKERS, ids=lambda m: m.kind)
def test_every_field_type_rejects_a_marker_with_the_code_of_its_kind(
    field_type: FieldType, marker: Unreadable
) -> None:
    values_ = ["bronze", "gold"] if field_type is FieldType.ENUM else None
    coerce = make_coercer(FieldDef(type=field_type, values=values_), None, "UTC")
    with pytest.raises(ValueRejected) as caught:
        coerce(marker)
    assert caught.value.code == CODE_OF[marker.kind]
    assert marker.raw in caught.value.message
    assert "cannot be read" in caught.value.message


def test_a_marker_message_stays_short_however_long_the_value() -> None:
    huge = Unreadable("x" * 1_000_000, values.ENCODING, "y" * 1_000_000)
    coerce = make_coercer(FieldDef(type=FieldType.STRING), None, "UTC")
    with pytest.raises(ValueRejected) as caught:
        coerce(huge)
    assert len(caught.value.message) < 400


CURSOR_SOURCE = {
    "conn_id": "src",
    "query": "SELECT * FROM customers WHERE id > {lastItem} ORDER BY id",
    "cursor": {"column": "id", "start_value": 0},
}
COLUMNS = ("id", "email", "first_name", "birthday", "seen_at")
SPEC = make_spec(
    source=CURSOR_SOURCE,
    mapping=[
        {"field": "email", "column": "email"},
        {"field": "first_name", "column": "first_name"},
        {"field": "birth_date", "column": "birthday"},
        {"field": "seen_at", "column": "seen_at"},
    ],
)


def mapper(spec: Any = SPEC) -> RowMapper:
    return RowMapper(spec, DATABASE, COLUMNS, timezone="UTC")


def test_a_marker_in_a_mapped_column_rejects_the_row_naming_the_column_and_its_cursor() -> None:
    rows = [
        (1, "a@example.com", "Ann", dt.date(1990, 1, 1), None),
        (2, "b@example.com", "Bo", INFINITY, None),
        (3, "c@example.com", BAD_TEXT, None, YEAR_10000),
    ]
    first, second, third = mapper().map_rows(rows, [1, 2, 3])
    assert isinstance(first, Record)
    assert isinstance(second, Rejection)
    assert (second.column, second.code, second.cursor, second.value) == (
        "birthday",
        errors.INVALID_DATE,
        2,
        INFINITY,
    )
    assert second.message.startswith("column 'birthday': the source value 'infinity' cannot be read")
    assert isinstance(third, Rejection)
    assert (third.column, third.code, third.cursor) == ("first_name", errors.INVALID_ENCODING, 3)
    assert "seen_at: invalid_datetime" in third.message  # the other bad column is listed


def test_a_marker_in_the_matching_column_is_rejected_with_its_code() -> None:
    result = mapper().map((4, BAD_TEXT, "Ann", None, None), 4)
    assert isinstance(result, Rejection)
    assert (result.column, result.code) == ("email", errors.INVALID_ENCODING)
    assert "column 'email'" in result.message


def test_a_marker_in_the_cursor_column_rejects_the_row_without_a_cursor() -> None:
    spec = make_spec(
        source={**CURSOR_SOURCE, "cursor": {"column": "seen_at", "start_value": "2000-01-01T00:00:00+00:00"}},
        mapping=[{"field": "email", "column": "email"}],  # the cursor column is not mapped
    )
    rows = [
        (1, "a@example.com", None, None, dt.datetime(2026, 1, 1, tzinfo=dt.UTC)),
        (2, "b@example.com", None, None, YEAR_10000),
        (3, "c@example.com", None, None, INFINITY),
    ]
    results = mapper(spec).map_rows(rows, [1, 2, 3])
    assert isinstance(results[0], Record) and results[0].cursor == rows[0][4]
    for result, marker in zip(results[1:], (YEAR_10000, INFINITY), strict=True):
        assert isinstance(result, Rejection)
        assert result.cursor is None  # nothing for the cursor to order or store
        assert (result.column, result.value) == ("seen_at", marker)
        assert result.code == CODE_OF[marker.kind]
        assert result.message.startswith("cursor column 'seen_at': ")
    # what the importer hands to cursor.advance: the cursor values of the batch's rows
    from customer_import.cursor import advance

    assert advance(None, [r.cursor for r in results]) == rows[0][4]
    # the batch mappers (inline and worker process) go through map_rows
    assert map_rows(mapper(spec), rows, [1, 2, 3]) == results
    inline = InlineBatchMapper(spec, DATABASE)
    assert inline.submit(COLUMNS, rows, [1, 2, 3])() == results


def test_rows_known_by_fingerprint_with_a_marker_cursor_are_mapped_instead() -> None:
    spec = make_spec(
        source={**CURSOR_SOURCE, "cursor": {"column": "seen_at", "start_value": "x"}},
        mapping=[{"field": "email", "column": "email"}],
    )
    rows = [(1, "a@example.com", None, None, "2026"), (2, "b@example.com", None, None, INFINITY)]
    assert mapper(spec).known_rows(rows, [1, 2]) == [Known(1, "2026", "a@example.com"), None]
    assert mapper(spec).known(rows[1], 2) is None
    assert mapper(spec).known(rows[0], 1) == Known(1, "2026", "a@example.com")


def test_a_marker_contact_or_status_of_a_subscription_rejects_the_row() -> None:
    spec = make_spec(
        source=CURSOR_SOURCE,
        mapping=[{"field": "email", "column": "email"}],
        subscriptions=[
            {"resource": "news", "channel": "email", "column": "email", "status_column": "first_name"}
        ],
    )
    database = make_database(resources={"news": {"channels": ["email"]}})
    subscribed = RowMapper(spec, database, COLUMNS, timezone="UTC")
    result = subscribed.map((1, "a@example.com", BAD_TEXT, None, None), 1)
    assert isinstance(result, Rejection)
    assert (result.column, result.code) == ("first_name", errors.INVALID_ENCODING)


@pytest.mark.parametrize("dialect", SOURCE_DIALECTS, ids=lambda d: d.name)
def test_every_dialect_keeps_markers_through_normalisation(dialect: Any) -> None:
    source = dialect()
    assert source.normalise(INFINITY) is INFINITY
    rows = [(1, "a", INFINITY), (2, BAD_TEXT, dt.date(2020, 1, 1))]
    assert source.normalise_rows(rows) == rows


def test_markers_survive_pickling_and_fingerprinting() -> None:
    assert pickle.loads(pickle.dumps(BAD_TEXT)) == BAD_TEXT  # a mapping worker process receives them
    prints = RowFingerprints(SPEC, DATABASE, None)
    first = prints.of(COLUMNS, [(1, "a@example.com", BAD_TEXT, None, None)])
    assert first == prints.of(COLUMNS, [(1, "a@example.com", BAD_TEXT, None, None)])
    assert first != prints.of(COLUMNS, [(1, "a@example.com", INFINITY, None, None)])


def test_sqlite_text_that_is_not_utf8_becomes_a_marker_instead_of_failing_the_fetch() -> None:
    connection = sqlite3.connect(":memory:")
    query = "SELECT 'Zoë', CAST(x'fffe41' AS TEXT), 'ok'"
    with pytest.raises(sqlite3.OperationalError, match="Could not decode to UTF-8"):
        connection.execute(query).fetchall()  # what the driver does on its own
    connection.text_factory = read_sqlite_text
    assert connection.execute(query).fetchall() == [
        (
            "Zoë",
            Unreadable("\\xff\\xfeA", values.ENCODING, "not valid UTF-8 text (invalid start byte at byte 0)"),
            "ok",
        )
    ]


class _FakeMySqlConnection:
    def __init__(self) -> None:
        from MySQLdb.converters import conversions

        self.converter = dict(conversions)


@pytest.mark.parametrize(
    ("field_type", "text", "expected"),
    [
        ("DATE", "2024-02-29", dt.date(2024, 2, 29)),
        ("DATE", "0000-00-00", None),  # MySQL's "no date": empty, as mysqlclient reads it
        ("DATE", "2024-02-30", values.DATE),
        ("DATE", "2024-00-15", values.DATE),
        ("DATETIME", "2024-02-29 10:11:12", dt.datetime(2024, 2, 29, 10, 11, 12)),
        ("DATETIME", "2024-02-29 10:11:12.5", dt.datetime(2024, 2, 29, 10, 11, 12, 500000)),
        ("DATETIME", "2024-02-29 10:11:12.000123", dt.datetime(2024, 2, 29, 10, 11, 12, 123)),
        ("DATETIME", "0000-00-00 00:00:00", None),
        ("DATETIME", "2024-02-31 10:00:00", values.DATETIME),
        ("TIMESTAMP", "2024-13-01 00:00:00", values.DATETIME),
        ("DATETIME", "2024-02-29", dt.date(2024, 2, 29)),
    ],
)
def test_mysql_invalid_dates_become_markers_and_zero_dates_stay_empty(
    field_type: str, text: str, expected: Any
) -> None:
    from MySQLdb.constants import FIELD_TYPE
    from MySQLdb.converters import conversions

    connection = _FakeMySqlConnection()
    install_mysql_converters(connection)
    convert = connection.converter[getattr(FIELD_TYPE, field_type)]
    result = convert(text)
    if isinstance(expected, str):
        assert isinstance(result, Unreadable)
        assert (result.raw, result.kind) == (text, expected)
        assert conversions[getattr(FIELD_TYPE, field_type)](text) is None  # mysqlclient's own: NULL
    else:
        assert result == expected
    assert conversions[FIELD_TYPE.DATE] is not connection.converter[FIELD_TYPE.DATE]  # only this connection


def test_a_marker_is_shown_as_its_raw_text() -> None:
    assert str(BAD_TEXT) == "\\xff\\xfe"
    assert values.shown(b"ok \xff") == "ok \\xff"
    item = MappingItem(field="first_name", column="c")
    assert make_coercer(FieldDef(type=FieldType.STRING), item, "UTC")(" ok ") == "ok"
