"""Turn a source row into a profile record, or into a rejection with a reason. Never raises for data."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from customer_import.exceptions import CustomerImportError
from customer_import.mapping.coerce import Coercer, make_coercer
from customer_import.mapping.errors import EMPTY_MATCH_KEY, Rejection, ValueRejected
from customer_import.spec.database import FieldDef, ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import FieldType

if TYPE_CHECKING:
    from customer_import.geo.locator import GeoLocator


class MissingColumnsError(CustomerImportError):
    """The query's result lacks columns that the mapping or the cursor names."""


@dataclass(frozen=True, slots=True)
class Record:
    row_no: int
    cursor: Any
    key: Any
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Column:
    field: str
    column: str
    index: int
    coerce: Callable[[Any], Any]


def _find(columns: Sequence[str], name: str) -> int | None:
    """A result column by name: exact first, then case-insensitively (Oracle upper-cases names)."""
    if name in columns:
        return columns.index(name)
    lowered = [c.lower() for c in columns]
    return lowered.index(name.lower()) if name.lower() in lowered else None


class RowMapper:
    """Maps rows of one result shape (``columns``) for one spec; built once per part.

    With ``locator`` (``target.ip_location``), a record's unmapped geo fields are filled from the location
    of its ip (else registration_ip); an address without a location leaves them out of the record.
    """

    def __init__(
        self,
        spec: ImportSpec,
        database: ProfileDatabase,
        columns: Sequence[str],
        timezone: str | None = None,
        locator: GeoLocator | None = None,
    ) -> None:
        fields = {**database.all_fields(), "profile_id": FieldDef(type=FieldType.INT)}
        tz = timezone or spec.schedule.timezone
        missing = []
        self._columns: list[_Column] = []
        for item in spec.mapping:
            index = _find(columns, item.column)
            if index is None:
                missing.append(item.column)
                continue
            self._columns.append(
                _Column(item.field, item.column, index, make_coercer(fields[item.field], item, tz))
            )
        self._cursor_index: int | None = None
        if spec.source.cursor is not None:
            self._cursor_index = _find(columns, spec.source.cursor.column)
            if self._cursor_index is None:
                missing.append(spec.source.cursor.column)
        if missing:
            raise MissingColumnsError(
                f"import {spec.name!r}: the query result has no column(s) {', '.join(sorted(set(missing)))}; "
                f"it has: {', '.join(columns)}"
            )
        self._match_field = spec.match_field
        self._match_column = next(c.column for c in self._columns if c.field == self._match_field)
        self._locator = locator
        self._geo: list[tuple[str, Coercer]] = []
        if locator is not None:
            from customer_import.geo.locator import fields_to_fill

            self._geo = [
                (name, make_coercer(fields[name], None, tz))
                for name in fields_to_fill(spec, database, locator.fields)
            ]

    def cursor_value(self, row: Sequence[Any]) -> Any:
        return None if self._cursor_index is None else row[self._cursor_index]

    def map(self, row: Sequence[Any], row_no: int) -> Record | Rejection:
        cursor = self.cursor_value(row)
        values: dict[str, Any] = {}
        problems: list[tuple[_Column, ValueRejected, Any]] = []
        for column in self._columns:
            raw = row[column.index]
            try:
                values[column.field] = column.coerce(raw)
            except ValueRejected as exc:
                problems.append((column, exc, raw))
        if problems:
            bad, first, raw_value = problems[0]
            message = first.message
            if len(problems) > 1:
                message += " (also: " + ", ".join(f"{c.column}: {e.code}" for c, e, _ in problems[1:]) + ")"
            return Rejection(row_no, cursor, bad.column, first.code, message, raw_value)
        key = (
            values.pop("profile_id", None) if self._match_field == "profile_id" else values[self._match_field]
        )
        if key is None:
            return Rejection(
                row_no,
                cursor,
                self._match_column,
                EMPTY_MATCH_KEY,
                f"the matching value ({self._match_field}) is empty; the row cannot be matched",
                row[_find_index(self._columns, self._match_field)],
            )
        if self._geo:
            self._locate(values)
        return Record(row_no, cursor, key, values)

    def _locate(self, values: dict[str, Any]) -> None:
        """Fill the geo fields from the location of the record's ip, else its registration_ip."""
        assert self._locator is not None
        ip = values.get("ip") or values.get("registration_ip")
        location = self._locator.lookup(ip) if ip else None
        if location is None:
            return
        for name, coerce in self._geo:
            try:
                values[name] = coerce(getattr(location, name))
            except ValueRejected:  # a value the field cannot hold (too long, unknown zone) is left out
                values[name] = None


def _find_index(columns: list[_Column], field: str) -> int:
    return next(c.index for c in columns if c.field == field)
