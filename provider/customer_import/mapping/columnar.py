"""Map a whole batch column by column, with the row mapper's exact output.

:class:`ColumnarMapper` maps a batch one mapped column at a time instead of one row at a time. Each column
goes through the fastest path that is *provably* the row path's answer, or leaves a value *undecided*:

* text, enums, dates and the other types with hashable values: the row coercer itself, once per
  *distinct* value of a batch (and, while a column repeats its values, once per run); tags given as
  text the same way, each row then getting its own copy of the list;
* integers, floats, datetimes: a type check of the whole column in C, then the value as it is (what the
  coercer returns for it) or one conversion per value without the coercer's per-value dispatch;
* emails: the row coercer's fast rule (an unquoted ASCII local part; ``email-validator`` once per distinct
  domain) in one loop, or with Arrow's vectorised regular expressions (RE2);
* phones: :class:`~customer_import.mapping.phones.FastPhoneParser` in one loop, or with Arrow's kernels
  (separators dropped and country codes read column-wise, each (region, length) pattern of the library's
  metadata matched once per column: phone_columns.py).

Arrow's kernels release the GIL; beside a thread that runs Python (the task process fetches the next batch
in one) each kernel then waits to get it back, so the Arrow paths are used only where no other thread
runs: in mapping worker processes (``vectorised``).

A row with an undecided value, a rejected value or an empty matching key is mapped again by
:meth:`RowMapper.map`, so rejections (codes, messages, "also:" lists) and every rare shape come from the
one implementation; the columnar paths only ever answer for values whose answer they know. The equivalence
is tested on the corpus and on generated rows (tests/unit/test_columnar_mapper.py), and checked on the
benchmark's million rows (benchmarks/import_benchmark.py --check-mapper).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from itertools import repeat
from typing import Any
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from customer_import.mapping.coerce import _DOT_ATOM, INT64_MAX, INT64_MIN
from customer_import.mapping.errors import Rejection, ValueRejected
from customer_import.mapping.mapper import Record, RowMapper
from customer_import.sources.values import Unreadable
from customer_import.spec.database import FieldDef, ProfileDatabase
from customer_import.spec.import_spec import ImportSpec
from customer_import.spec.vocab import FieldType

__all__ = ["ColumnarMapper"]

Mapped = list[Record | Rejection]
# One column's answer: the value for each row (anything for an undecided row) and the undecided rows.
_Column = Callable[[Sequence[Any], set[int]], list[Any]]

_record = functools.partial(tuple.__new__, Record)  # Record(*fields) without NamedTuple's Python __new__
_UNDECIDED = object()  # a distinct value the row coercer rejected: its rows are mapped row by row
_MEMO_LIMIT = 65536  # distinct accepted values a low-cardinality column remembers across batches
_NONE = type(None)
_UTC_ZONES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})
# Python's str.strip() removes these ASCII characters (and others outside ASCII); the email rule accepts
# only these around the address, so the Arrow match sees what the row coercer's strip() would leave.
_ASCII_SPACE = r"[ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f]*"
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL = rf"^{_ASCII_SPACE}(?P<local>{_ATOM}(?:\.{_ATOM})*)@(?P<domain>[A-Za-z0-9.-]+){_ASCII_SPACE}$"
_MAX_LOCAL, _MAX_EMAIL = 64, 254  # the row coercer's limits (coerce._build_email)


@functools.lru_cache(maxsize=16384)
def _email_domain(domain: str) -> str | None:
    """The normalised domain, or None when the domain alone makes an address invalid (as the row coercer)."""
    try:
        return validate_email(f"a@{domain}", check_deliverability=False).ascii_domain.lower()
    except EmailNotValidError:
        return None


def _types(values: Sequence[Any]) -> set[type]:
    return set(map(type, values))


def _each(coerce: Callable[[Any], Any]) -> _Column:
    """The row coercer per value (the general path)."""

    def column(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        out: list[Any] = []
        append = out.append
        for index, value in enumerate(values):
            try:
                append(coerce(value))
            except ValueRejected:
                append(None)
                undecided.add(index)
        return out

    return column


class _Distinct:
    """The row coercer once per distinct value, for columns of one hashable type whose equal values are the
    same value (str, int, date, naive datetime; not float, where -0.0 == 0.0, nor Decimal, where 1.0 ==
    1.00). Columns with few distinct values remember them across batches."""

    _KEYED = frozenset({str, int, date, _NONE})

    def __init__(self, coerce: Callable[[Any], Any]) -> None:
        self._coerce = coerce
        self._each = _each(coerce)
        self._memo: dict[Any, Any] = {}

    def __call__(self, values: Sequence[Any], undecided: set[int]) -> list[Any]:
        types = _types(values)
        if not types <= self._KEYED and not (
            types <= {datetime, _NONE} and all(v is None or v.tzinfo is None for v in values)
        ):
            return self._each(values, undecided)
        distinct = dict.fromkeys(values)
        memo = self._memo
        # Remembered across batches while that pays: few distinct values, or a quarter of them seen before.
        if 2 * len(distinct) > len(values) and 4 * sum(map(memo.__contains__, distinct)) < len(distinct):
            memo = {} if memo else self._memo
        if len(memo) + len(distinct) > _MEMO_LIMIT:
            memo.clear()
        coerce = self._coerce
        for value in distinct:
            if value not in memo:
                try:
                    memo[value] = coerce(value)
                except ValueRejected:
                    memo[value] = _UNDECIDED
        out = list(map(memo.__getitem__, values))
        if any(memo[value] is _UNDECIDED for value in distinct):
            undecided.update(i for i, value in enumerate(out) if value is _UNDECIDED)
        return out


def _tags_column(coerce: Callable[[Any], Any]) -> _Column:
    """Tags: the coercer once per distinct text (``_Distinct``), each row then given its own copy of the
    list (records never share one); lists from the source go through the coercer per value."""
    distinct = _Distinct(coerce)

    def column(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        return [
            tags if tags is None or tags is _UNDECIDED else list(tags) for tags in distinct(values, undecided)
        ]

    return column


def _int_column(coerce: Callable[[Any], Any]) -> _Column:
    """Python ints in the 64-bit range are their own value (coerce returns ``int(value)``)."""
    each = _each(coerce)

    def column(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        types = _types(values)
        if types == {int} and min(values) >= INT64_MIN and max(values) <= INT64_MAX:
            return list(values)
        if types == {int, _NONE}:
            present = [v for v in values if v is not None]
            if min(present) >= INT64_MIN and max(present) <= INT64_MAX:
                return list(values)
        return each(values, undecided)

    return column


def _float_column(coerce: Callable[[Any], Any]) -> _Column:
    """Finite Python floats are their own value (coerce returns ``float(value)``)."""
    each = _each(coerce)

    def column(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        types = _types(values)
        if types <= {float, _NONE}:
            present = [v for v in values if v is not None] if _NONE in types else values
            if all(map(math.isfinite, present)):
                return list(values)
        return each(values, undecided)

    return column


def _datetime_column(coerce: Callable[[Any], Any], timezone: str, iso_text: bool) -> _Column:
    """Datetimes become aware UTC datetimes: an aware one by ``astimezone(UTC)``, as the coercer; a naive one,
    when the spec's zone is UTC, by attaching UTC (the coercer's localise-then-convert gives the same).
    ``iso_text`` (no ``date_format``): a column of text is read in one loop as the coercer reads each value
    (stripped, ``fromisoformat``, a naive time in the spec's zone, fold=0, to UTC), without its per-value
    layers and cache (source timestamps are mostly distinct); what it cannot read, the coercer rejects."""
    each = _each(coerce)
    utc = timezone in _UTC_ZONES
    zone = ZoneInfo(timezone)
    parse = datetime.fromisoformat

    def texts(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        out: list[Any] = []
        append = out.append
        for index, value in enumerate(values):
            text = None if value is None else value.strip()
            if not text:
                append(None)
                continue
            try:
                moment = parse(text)
                append((moment.replace(tzinfo=zone) if moment.tzinfo is None else moment).astimezone(UTC))
            except (ValueError, OverflowError):
                append(None)
                undecided.add(index)
        return out

    def column(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        types = _types(values)
        if iso_text and types <= {str, _NONE}:
            return texts(values, undecided)
        if not types <= {datetime, _NONE}:
            return each(values, undecided)
        try:
            if utc:
                return [
                    None
                    if v is None
                    else v.replace(tzinfo=UTC, fold=0)
                    if v.tzinfo is None
                    else v.astimezone(UTC)
                    for v in values
                ]
            if all(v is None or v.tzinfo is not None for v in values):
                return [None if v is None else v.astimezone(UTC) for v in values]
        except (ValueError, OverflowError):  # out of range: the coercer's rejection
            pass
        return each(values, undecided)

    return column


def arrow_emails(texts: Any) -> Any:
    """The row coercer's fast email rule over an Arrow string array, with Arrow's kernels: each
    normalised address, or null where the rule cannot decide (the row coercer decides those)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = pc.extract_regex(texts, _EMAIL)
    local, domain = parts.field("local"), parts.field("domain")
    local_length = pc.utf8_length(local)
    fits = pc.and_(
        pc.less_equal(local_length, _MAX_LOCAL),
        pc.less_equal(pc.add(pc.add(local_length, 1), pc.utf8_length(domain)), _MAX_EMAIL),
    )
    domains = pc.unique(domain).drop_null()
    normalised = pa.array([_email_domain(d) for d in domains.to_pylist()], type=pa.string())
    normal_domain = pc.take(normalised, pc.index_in(domain, value_set=domains))
    joined = pc.binary_join_element_wise(pc.ascii_lower(local), normal_domain, "@")
    return pc.if_else(fits, joined, pa.scalar(None, pa.string()))


def _email_column(coerce: Callable[[Any], Any], vectorised: bool) -> _Column:
    """The row coercer's fast rule (vectorised with Arrow, or in one loop); other shapes: the coercer."""
    each = _each(coerce)
    match = _DOT_ATOM.match

    def loop(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        if not _types(values) <= {str, _NONE}:
            return each(values, undecided)
        out: list[Any] = []
        append = out.append
        for index, value in enumerate(values):
            if value is None:
                append(None)
                continue
            text = value.strip()
            local, at, domain = text.rpartition("@")
            if at and len(local) <= _MAX_LOCAL and len(text) <= _MAX_EMAIL and match(local):
                normalised = _email_domain(domain)
                if normalised is not None:
                    append(f"{local.lower()}@{normalised}")
                    continue
            try:  # blank text, rare shapes and every invalid address: the row coercer decides
                append(coerce(value))
            except ValueRejected:
                append(None)
                undecided.add(index)
        return out

    def column(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        import numpy as np
        import pyarrow as pa
        import pyarrow.compute as pc

        if not _types(values) <= {str, _NONE}:
            return each(values, undecided)
        try:
            texts = pa.array(values, type=pa.string())
        except UnicodeEncodeError:  # text that is not UTF-8 (unpaired surrogates)
            return each(values, undecided)
        result = arrow_emails(texts)
        out: list[Any] = result.to_pylist()
        missing = np.flatnonzero(pc.and_(result.is_null(), texts.is_valid()).to_numpy(zero_copy_only=False))
        for index in missing.tolist():
            try:  # blank text, rare shapes and every invalid address: the row coercer decides
                out[index] = coerce(values[index])
            except ValueRejected:
                undecided.add(index)
        return out

    return column if vectorised else loop


def _phone_column(coerce: Callable[[Any], Any], default_region: str | None, vectorised: bool) -> _Column:
    from customer_import.mapping.phone_columns import ColumnPhoneParser

    each = _each(coerce)
    parser = ColumnPhoneParser(default_region, vectorised)

    def column(values: Sequence[Any], undecided: set[int]) -> list[Any]:
        if not _types(values) <= {str, _NONE}:
            return each(values, undecided)
        try:
            answers = parser.e164(values)
        except UnicodeEncodeError:  # Arrow: text that is not UTF-8 (unpaired surrogates)
            return each(values, undecided)
        out: list[Any] = answers
        for index, answer in enumerate(answers):
            if answer is None and values[index] is not None:
                try:  # blank text, other shapes and every invalid number: the row coercer decides
                    out[index] = coerce(values[index])
                except ValueRejected:
                    undecided.add(index)
        return out

    return column


def _column_path(
    field_def: FieldDef, coerce: Callable[[Any], Any], item: Any, timezone: str, vectorised: bool
) -> _Column:
    kind = field_def.type
    if kind is FieldType.EMAIL:
        return _email_column(coerce, vectorised)
    if kind is FieldType.PHONE:
        region = item.phone.default_region if item is not None and item.phone is not None else None
        return _phone_column(coerce, region, vectorised)
    if kind is FieldType.INT:
        return _int_column(coerce)
    if kind is FieldType.FLOAT:
        return _float_column(coerce)
    if kind is FieldType.DATETIME:
        return _datetime_column(coerce, timezone, iso_text=item is None or item.date_format is None)
    if kind is FieldType.TAGS:
        return _tags_column(coerce)
    if kind is FieldType.JSON:
        return _each(coerce)  # dicts and lists: a fresh value per row, never shared between records
    return _Distinct(coerce)


class ColumnarMapper:
    """Maps batches of one result shape column-wise; the same Records and Rejections as ``row_mapper``.

    ``vectorised``: emails and phones through Arrow's kernels. They release the GIL for each of the few
    dozen kernels a batch takes, and a thread that gives the GIL up waits for it again as long as another
    thread runs Python (up to the 5 ms switch interval per kernel): in the task process, where a helper
    thread fetches the next batch, that costs more than it saves (measured: phones 1.3 -> 6.8 µs a row
    beside a busy thread), so there they run in one Python loop each; a mapping worker process
    (``mapping_workers``) has no other thread and vectorises.
    """

    def __init__(
        self, spec: ImportSpec, database: ProfileDatabase, row_mapper: RowMapper, vectorised: bool = False
    ) -> None:
        self._rows = row_mapper
        fields = {**database.all_fields(), "profile_id": FieldDef(type=FieldType.INT)}
        items = {item.field: item for item in spec.mapping}
        timezone = row_mapper.timezone
        plan = row_mapper._plan
        self._fields = tuple(field for field, _, _ in plan)
        self._indexes = tuple(index for _, index, _ in plan)
        self._paths = tuple(
            _column_path(fields[field], coerce, items.get(field), timezone, vectorised)
            for field, _, coerce in plan
        )
        # Only imports whose key is one mapped field go column-wise; the others map row by row.
        self.supported = row_mapper._key_from_values and row_mapper._key2_index is None
        self._match_field = row_mapper._match_field
        if self.supported and self._match_field in self._fields:
            # Known rows (customer_import.fingerprints) read only their key: column-wise too.
            row_mapper.key_column = self._paths[self._fields.index(self._match_field)]

    def map_rows(self, rows: Sequence[Sequence[Any]], row_numbers: Sequence[int]) -> Mapped:
        mapper = self._rows
        cursor_index = mapper._cursor_index
        if not self.supported or not rows:
            return mapper.map_rows(rows, row_numbers)
        columns = list(zip(*rows, strict=True))
        if cursor_index is not None and Unreadable in _types(columns[cursor_index]):
            return mapper.map_rows(rows, row_numbers)
        undecided: set[int] = set()
        mapped = [
            path(columns[index], undecided) for path, index in zip(self._paths, self._indexes, strict=True)
        ]
        cursors = columns[cursor_index] if cursor_index is not None else (None,) * len(rows)
        fields, field = self._fields, self._match_field
        if field != "profile_id" and not mapper._subscriptions and not mapper._geo:
            # Records built in C (map over zip): no Python bytecode per row.
            keys = mapped[fields.index(field)]
            records = map(dict, map(zip, repeat(fields), zip(*mapped, strict=True)))
            out: Mapped = list(
                map(_record, zip(row_numbers, cursors, keys, records, repeat(()), repeat(None)))
            )
            redo = set(undecided)
            if None in keys:  # empty_match_key, with the row mapper's message
                redo.update(index for index, key in enumerate(keys) if key is None)
            for index in redo:
                out[index] = mapper.map(rows[index], row_numbers[index])
            return out
        return self._assemble(rows, row_numbers, cursors, mapped, undecided)

    def _assemble(
        self,
        rows: Sequence[Sequence[Any]],
        row_numbers: Sequence[int],
        cursors: Sequence[Any],
        mapped: list[list[Any]],
        undecided: set[int],
    ) -> Mapped:
        """Records one by one: the key taken out of the values (profile_id), subscriptions, geo fields."""
        mapper = self._rows
        fields, field = self._fields, self._match_field
        pop = field == "profile_id"
        subscriptions, geo = bool(mapper._subscriptions), bool(mapper._geo)
        out: Mapped = []
        append = out.append
        for index, (row_no, cursor, values) in enumerate(
            zip(row_numbers, cursors, zip(*mapped, strict=True), strict=True)
        ):
            if index in undecided:
                append(mapper.map(rows[index], row_no))
                continue
            record = dict(zip(fields, values, strict=True))
            key = record.pop(field, None) if pop else record[field]
            if key is None:  # empty_match_key, with the row mapper's message
                append(mapper.map(rows[index], row_no))
                continue
            read: tuple[Any, ...] = ()
            if subscriptions:
                found = mapper._read_subscriptions(rows[index], row_no, cursor)
                if isinstance(found, Rejection):
                    append(found)
                    continue
                read = found
            if geo:
                mapper._locate(record)
            append(Record(row_no, cursor, key, record, read, None))
        return out
