"""Turn a source row into a profile record, or into a rejection with a reason. Never raises for data."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import compress, repeat
from operator import is_, itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from customer_import.exceptions import CustomerImportError
from customer_import.mapping.coerce import Coercer, make_coercer, unreadable
from customer_import.mapping.errors import EMPTY_MATCH_KEY, INVALID_STATUS, Rejection, ValueRejected
from customer_import.sources.values import Unreadable
from customer_import.spec.database import FieldDef, ProfileDatabase
from customer_import.spec.import_spec import PHONE_CHANNELS, ImportSpec, Subscription
from customer_import.spec.vocab import FieldType, MatchBy, SubscriptionStatus

if TYPE_CHECKING:
    from customer_import.geo.locator import GeoLocator


class MissingColumnsError(CustomerImportError):
    """The query's result lacks columns that the mapping or the cursor names."""


@dataclass(frozen=True, slots=True)
class SubscriptionValue:
    """One subscription of a row, normalised: its contact (push: token), provider and status."""

    resource: str
    channel: str
    contact: str
    status: str
    provider: str | None = None


class Record(NamedTuple):
    """A mapped row: built once per row, so a tuple (cheaper to create than a frozen dataclass)."""

    row_no: int
    cursor: Any
    key: Any
    values: dict[str, Any]
    subscriptions: tuple[SubscriptionValue, ...] = ()
    key2: str | None = None  # push: the provider


class Known(NamedTuple):
    """A row whose source fingerprint a stored profile already holds: only its key is read (for
    ``duplicate_keys``); it is counted unchanged without mapping (customer_import.fingerprints)."""

    row_no: int
    cursor: Any
    key: Any
    key2: str | None = None


_known = functools.partial(tuple.__new__, Known)  # Known(*fields) without NamedTuple's Python __new__
_is_none = functools.partial(is_, None)
_STATUSES = {status.value: status.value for status in SubscriptionStatus}
_UNREADABLE = Unreadable
_TEXT = FieldDef(type=FieldType.STRING)


def _contact_type(channel: str) -> FieldType:
    if channel == "email":
        return FieldType.EMAIL
    return FieldType.PHONE if channel in PHONE_CHANNELS else FieldType.STRING


@dataclass(frozen=True, slots=True)
class _SubscriptionReader:
    spec: Subscription
    contact: int
    coerce: Callable[[Any], Any]
    status: int | None  # the status column's index (None: the fixed status)
    provider: int | None


@dataclass(frozen=True, slots=True)
class _Column:
    field: str
    column: str
    index: int
    coerce: Callable[[Any], Any]


def _message(column: str | None, error: ValueRejected, raw: Any) -> str:
    """A rejection's message; one about a value the source driver could not read names its column."""
    if type(raw) is _UNREADABLE and column:
        return f"column {column!r}: {error.message}"
    return error.message


def find_column(columns: Sequence[str], name: str) -> int | None:
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
        self.timezone = tz  # the zone of naive source dates and times
        missing = []
        self._columns: list[_Column] = []
        for item in spec.mapping:
            index = find_column(columns, item.column)
            if index is None:
                missing.append(item.column)
                continue
            self._columns.append(
                _Column(item.field, item.column, index, make_coercer(fields[item.field], item, tz))
            )
        self._cursor_index: int | None = None
        self._cursor_column = ""
        if spec.source.cursor is not None:
            self._cursor_index = find_column(columns, spec.source.cursor.column)
            if self._cursor_index is None:
                missing.append(spec.source.cursor.column)
            else:
                self._cursor_column = columns[self._cursor_index]
        phone_item = spec.mapped("phone")
        self._subscriptions: list[_SubscriptionReader] = []
        for subscription in spec.subscriptions:
            names = [
                c
                for c in (subscription.column, subscription.status_column, subscription.provider_column)
                if c
            ]
            absent = [c for c in names if find_column(columns, c) is None]
            if absent:
                missing += absent
                continue
            kind = _contact_type(str(subscription.channel))
            self._subscriptions.append(
                _SubscriptionReader(
                    subscription,
                    find_column(columns, subscription.column) or 0,
                    make_coercer(FieldDef(type=kind), phone_item if kind is FieldType.PHONE else None, tz),
                    find_column(columns, subscription.status_column) if subscription.status_column else None,
                    find_column(columns, subscription.provider_column)
                    if subscription.provider_column
                    else None,
                )
            )
        # The matching key: a mapped field, or (email/phone/push by subscription) a column of its own.
        self._match_field = spec.match_field
        self._match_column = spec.key_column() or ""
        self._key_index: int | None = None
        self._key2_index: int | None = None
        self._key_from_values = spec.mapped(self._match_field) is not None
        key_column = next((c for c in self._columns if c.field == self._match_field), None)
        self._key_value_index = key_column.index if key_column is not None else -1
        self._key_value_coerce = key_column.coerce if key_column is not None else None
        if not self._key_from_values:
            self._key_index = find_column(columns, self._match_column)
            if self._key_index is None:
                missing.append(self._match_column)
            kind = {"email": FieldType.EMAIL, "phone": FieldType.PHONE}.get(
                self._match_field, FieldType.STRING
            )
            self._key_coerce = make_coercer(FieldDef(type=kind), phone_item, tz)
        if spec.target.matching.by is MatchBy.PUSH_SUBSCRIPTION:
            assert spec.target.matching.provider_column is not None
            self._key2_index = find_column(columns, spec.target.matching.provider_column)
            if self._key2_index is None:
                missing.append(spec.target.matching.provider_column)
            self._text = make_coercer(_TEXT, None, tz)
        if missing:
            raise MissingColumnsError(
                f"import {spec.name!r}: the query result has no column(s) {', '.join(sorted(set(missing)))}; "
                f"it has: {', '.join(columns)}"
            )
        self._plan = tuple((c.field, c.index, c.coerce) for c in self._columns)
        # Set by a ColumnarMapper built on this mapper: the key field's column-wise path, for known_rows.
        self.key_column: Callable[[Sequence[Any], set[int]], list[Any]] | None = None
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

    def map_rows(self, rows: Sequence[Sequence[Any]], row_numbers: Sequence[int]) -> list[Record | Rejection]:
        """``map`` for each row of a batch. A row whose cursor value the source driver could not read is
        rejected (its place in the cursor order is unknown), and its cursor is None: so the import's
        cursor only ever moves over values it can compare and store."""
        index = self._cursor_index
        # One type check per row in C: a marker only comes from a value the driver failed to convert.
        if index is not None and rows and _UNREADABLE in set(map(type, map(itemgetter(index), rows))):
            return [
                self._unreadable_cursor(row, row_no)
                if type(row[index]) is _UNREADABLE
                else self.map(row, row_no)
                for row_no, row in zip(row_numbers, rows, strict=True)
            ]
        return [self.map(row, row_no) for row_no, row in zip(row_numbers, rows, strict=True)]

    def _unreadable_cursor(self, row: Sequence[Any], row_no: int) -> Rejection:
        assert self._cursor_index is not None
        raw = row[self._cursor_index]
        error = unreadable(raw)
        return Rejection(
            row_no,
            None,
            self._cursor_column,
            error.code,
            f"cursor column {self._cursor_column!r}: {error.message}; the cursor does not move over this row",
            raw,
        )

    def map(self, row: Sequence[Any], row_no: int) -> Record | Rejection:
        """One row as a Record or a Rejection (batches go through :meth:`map_rows`, which also checks the
        cursor column)."""
        cursor = self.cursor_value(row)
        values: dict[str, Any] = {}
        try:
            for field, index, coerce in self._plan:
                values[field] = coerce(row[index])
        except ValueRejected:
            return self._rejected_values(row, row_no, cursor)
        subscriptions: tuple[SubscriptionValue, ...] = ()
        if self._subscriptions:
            read = self._read_subscriptions(row, row_no, cursor)
            if isinstance(read, Rejection):
                return read
            subscriptions = read
        key, key2, raw_key = self._read_key(row, values)
        if isinstance(key, Rejection):
            return Rejection(row_no, cursor, key.column, key.code, key.message, key.value)
        if key is None or (self._key2_index is not None and key2 is None):
            return Rejection(
                row_no,
                cursor,
                self._match_column,
                EMPTY_MATCH_KEY,
                f"the matching value ({self._match_field}) is empty; the row cannot be matched",
                raw_key,
            )
        if self._geo:
            self._locate(values)
        return Record(row_no, cursor, key, values, subscriptions, key2)

    @property
    def known_columns(self) -> frozenset[int]:
        """The columns ``known`` and ``known_rows`` read: the key's, the second key's, the cursor's."""
        key = self._key_value_index if self._key_from_values else self._key_index
        return frozenset(i for i in (key, self._key2_index, self._cursor_index) if i is not None and i >= 0)

    def known(self, row: Sequence[Any], row_no: int) -> Known | None:
        """The row as Known (its key read, nothing else mapped); None when its key or cursor cannot be read."""
        if self._cursor_index is not None and type(row[self._cursor_index]) is _UNREADABLE:
            return None  # mapped instead, and so rejected
        values: dict[str, Any] = {}
        if self._key_from_values:
            assert self._key_value_coerce is not None
            try:
                values[self._match_field] = self._key_value_coerce(row[self._key_value_index])
            except ValueRejected:
                return None
        key, key2, _ = self._read_key(row, values)
        if isinstance(key, Rejection) or key is None or (self._key2_index is not None and key2 is None):
            return None
        return Known(row_no, self.cursor_value(row), key, key2)

    def known_rows(self, rows: Sequence[Sequence[Any]], row_numbers: Sequence[int]) -> list[Known | None]:
        """``known`` for many rows (column-wise where the key is one mapped field: ``known_from_columns``)."""
        if rows and self._key_from_values and self._key2_index is None:
            columns = {index: list(map(itemgetter(index), rows)) for index in self.known_columns}
            found = self.known_from_columns(columns, row_numbers)
            if found is not None:
                return found
        return [self.known(row, row_no) for row, row_no in zip(rows, row_numbers, strict=True)]

    def known_from_columns(
        self, columns: Mapping[int, Sequence[Any]], row_numbers: Sequence[int]
    ) -> list[Known | None] | None:
        """``known_rows`` from the ``known_columns`` alone (values by column index); None where whole rows
        are needed (a key that is not one mapped field, a second key, an unreadable cursor value)."""
        if not (self._key_from_values and self._key2_index is None):
            return None
        cursor_index = self._cursor_index
        cursors = columns[cursor_index] if cursor_index is not None else None
        if cursors is not None and _UNREADABLE in set(map(type, cursors)):
            return None
        assert self._key_value_coerce is not None
        values = columns[self._key_value_index]
        each_cursor = repeat(None) if cursors is None else cursors
        if self.key_column is not None:  # the key read column-wise (mapping/columnar.py)
            undecided: set[int] = set()
            # Known(row_no, cursor, key, None) built and empty keys found in C (map, zip, compress), not
            # in a Python loop per row: this runs for every unchanged row of a re-run.
            keys = self.key_column(values, undecided)
            known: list[Known | None] = list(map(_known, zip(row_numbers, each_cursor, keys, repeat(None))))
            undecided.update(compress(range(len(keys)), map(_is_none, keys)))
            for position in undecided:
                known[position] = None
            return known
        coerce = self._key_value_coerce
        out: list[Known | None] = []
        append = out.append
        for row_no, value, cursor in zip(row_numbers, values, each_cursor, strict=False):
            try:
                key = coerce(value)
            except ValueRejected:
                append(None)
                continue
            append(None if key is None else Known(row_no, cursor, key))
        return out

    def _rejected_values(self, row: Sequence[Any], row_no: int, cursor: Any) -> Rejection:
        """The rejection of a row with bad values: the first problem, and the codes of the others."""
        # (column, code, message, value): no exception is kept. Its traceback (and its context's) holds
        # this frame, whose list would hold the exception: a cycle only the collector frees, and the import
        # runs with it mostly idle (importer._heap_frozen), so each bad row's frames and values piled up.
        problems: list[tuple[_Column, str, str, Any]] = []
        for column in self._columns:
            raw = row[column.index]
            try:
                column.coerce(raw)
            except ValueRejected as exc:
                problems.append((column, exc.code, _message(column.column, exc, raw), raw))
        bad, code, message, raw_value = problems[0]
        if len(problems) > 1:
            message += " (also: " + ", ".join(f"{c.column}: {e}" for c, e, _, _ in problems[1:]) + ")"
        return Rejection(row_no, cursor, bad.column, code, message, raw_value)

    def _read_key(self, row: Sequence[Any], values: dict[str, Any]) -> tuple[Any, str | None, Any]:
        """(key, key2, raw key); a key that cannot be read is returned as a Rejection in first place."""
        if self._key_from_values:
            field = self._match_field
            key = values.pop(field, None) if field == "profile_id" else values[field]
            raw = row[self._key_value_index]
        else:
            assert self._key_index is not None
            raw = row[self._key_index]
            try:
                key = self._key_coerce(raw)
            except ValueRejected as exc:
                message = _message(self._match_column, exc, raw)
                return Rejection(0, None, self._match_column, exc.code, message, raw), None, raw
        key2 = None
        if self._key2_index is not None:
            raw2 = row[self._key2_index]
            try:
                key2 = self._text(raw2)
            except ValueRejected as exc:
                message = _message(self._match_column, exc, raw2)
                return Rejection(0, None, self._match_column, exc.code, message, raw), None, raw
        return key, key2, raw

    def _read_subscriptions(
        self, row: Sequence[Any], row_no: int, cursor: Any
    ) -> tuple[SubscriptionValue, ...] | Rejection:
        """The row's subscriptions; an empty contact subscribes nothing, a bad one rejects the row."""
        out = []
        for reader in self._subscriptions:
            spec = reader.spec
            raw = row[reader.contact]
            try:
                contact = reader.coerce(raw)
            except ValueRejected as exc:
                return Rejection(row_no, cursor, spec.column, exc.code, _message(spec.column, exc, raw), raw)
            if contact is None:
                continue
            status = spec.status.value if spec.status is not None else None
            if reader.status is not None:
                raw_status = row[reader.status]
                if type(raw_status) is _UNREADABLE:
                    error, column = unreadable(raw_status), spec.status_column
                    message = _message(column, error, raw_status)
                    return Rejection(row_no, cursor, column, error.code, message, raw_status)
                status = _STATUSES.get(str(raw_status).strip().lower()) if raw_status is not None else None
                if status is None:
                    allowed = ", ".join(_STATUSES)
                    return Rejection(
                        row_no,
                        cursor,
                        spec.status_column,
                        INVALID_STATUS,
                        f"{raw_status!r} is not a subscription status ({allowed})",
                        raw_status,
                    )
            provider = None
            if reader.provider is not None:
                raw_provider = row[reader.provider]
                if type(raw_provider) is _UNREADABLE:
                    error, column = unreadable(raw_provider), spec.provider_column
                    message = _message(column, error, raw_provider)
                    return Rejection(row_no, cursor, column, error.code, message, raw_provider)
                provider = str(raw_provider).strip() if raw_provider is not None else ""
                if not provider:
                    continue  # a push token without its provider cannot be used
            assert status is not None
            out.append(SubscriptionValue(spec.resource, str(spec.channel), str(contact), status, provider))
        return tuple(out)

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
