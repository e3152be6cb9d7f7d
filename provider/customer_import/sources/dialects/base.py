"""What every source dialect knows; one module per DBMS beside this one, with the same shape.

A dialect turns ``{lastItem}`` into its driver's parameter marker, opens a read-only session where the
DBMS has one, streams rows with ``fetchmany`` (never the whole result at once), normalises driver types
to plain Python values, and tells a transient failure (retry) from a fatal one (fail now).
"""

from __future__ import annotations

import datetime as dt
import decimal
import ipaddress
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import chain
from typing import Any, ClassVar

from customer_import import driver_errors
from customer_import.driver_errors import ErrorCodes
from customer_import.sources.values import Unreadable
from customer_import.spec.import_spec import LAST_ITEM

PARAM_NAME = "last_item"


class SourceDialect:
    """Base: subclasses set names, marker and session handling; they share type normalisation."""

    name: ClassVar[str]
    conn_types: ClassVar[tuple[str, ...]]
    sqlglot_dialect: ClassVar[str]
    marker: ClassVar[str]  # the driver's marker for the named parameter ``last_item``
    escape_percent: ClassVar[bool] = False  # pyformat drivers read a literal % as the start of a marker
    read_only: ClassVar[str]  # how the session is made read-only (for docs and logs)
    # The DBMS's error codes, fatal or transient (customer_import.driver_errors); errors are classified
    # by their code, and only an error without any code by its kind and then ``fatal_markers``.
    error_codes: ClassVar[ErrorCodes]
    # Substrings of a driver error *that carries no code* which retrying cannot fix (e.g. libpq's login
    # errors, which have no SQLSTATE).
    fatal_markers: ClassVar[tuple[str, ...]] = ()
    # Whether the next batch may be fetched in a helper thread while the last one is mapped and written
    # (the driver's cursor must accept calls from another thread than the one that opened it).
    fetch_ahead: ClassVar[bool] = True

    def render(self, query: str) -> tuple[str, bool]:
        """The query text for the driver, and whether it takes the ``last_item`` parameter."""
        if LAST_ITEM not in query:
            return query, False
        text = query.replace("%", "%%") if self.escape_percent else query
        return text.replace(LAST_ITEM, self.marker), True

    @contextmanager
    def read_only_cursor(self, conn_id: str, batch_size: int) -> Iterator[Any]:
        """A DB-API-like cursor (execute, description, fetchmany) in a read-only session, with the
        statement timeout ``[customer_import] statement_timeout_seconds`` where the DBMS has one."""
        raise NotImplementedError
        yield  # pragma: no cover

    def has_columnar_reader(self) -> bool:
        """Whether ``columnar`` can read this dialect's queries (its libraries are installed)."""
        return False

    def columnar(self, cursor: Any, text: str, params: dict[str, Any] | None) -> Any:
        """The columnar read of this query (``sources/arrow_text.ArrowText``) on the session of
        ``cursor``, or None where this dialect or session has none: the rows are then fetched."""
        return None

    @staticmethod
    def statement_timeout() -> int:
        """``[customer_import] statement_timeout_seconds`` (0: none), read when a session opens."""
        from customer_import.config import statement_timeout_seconds

        return statement_timeout_seconds()

    def is_fatal(self, error: BaseException) -> bool:
        """Whether ``error`` cannot be fixed by retrying (otherwise Airflow retries the task)."""
        return driver_errors.is_fatal(error, self.error_codes, self.fatal_markers)

    def describe_error(self, error: BaseException) -> str:
        """``Type [code]: message`` of a driver error, for the SourceError message."""
        return driver_errors.describe(error, self.error_codes)

    # Exact types whose values ``normalise`` returns unchanged: a batch column holding only these is kept
    # as the driver gave it (one type check per value in C instead of a Python call per value).
    plain_types: ClassVar[frozenset[type]] = frozenset(
        {type(None), str, int, float, bool, dt.datetime, dt.date}
    )

    def normalise_rows(self, rows: Sequence[Sequence[Any]]) -> list[tuple[Any, ...]]:
        """A fetched batch as tuples of plain values, normalising only the columns that need it."""
        if not rows:
            return []
        if set(map(type, chain.from_iterable(rows))) <= self.plain_types:  # the usual batch: as fetched
            if set(map(type, rows)) == {tuple}:
                return rows if isinstance(rows, list) else list(rows)  # type: ignore[arg-type]
            return [tuple(row) for row in rows]
        columns = [self.normalise_column(column) for column in zip(*rows, strict=True)]
        return list(zip(*columns, strict=True))

    def normalise_column(self, values: Sequence[Any]) -> Sequence[Any]:
        """One column of a batch as plain values (itself when it holds only plain ones)."""
        if set(map(type, values)) <= self.plain_types:
            return values
        return tuple(map(self.normalise, values))

    def normalise(self, value: Any) -> Any:
        """A driver value as a plain Python value (what mapping and the cursor expect)."""
        if value is None or isinstance(value, str | int | float | bool | dt.datetime | dt.date):
            return value
        if isinstance(value, decimal.Decimal):
            # Not beyond 4,000 digits: int(Decimal("1E+999999")) takes 45 s, and Python cannot write
            # such an integer as text; the coercers read that Decimal (and reject it as too large).
            if value.is_finite() and value == value.to_integral_value() and value.adjusted() < 4000:
                return int(value)
            return value
        if isinstance(value, memoryview | bytearray):
            value = bytes(value)
        if isinstance(value, bytes):
            try:
                return value.decode("utf-8")
            except UnicodeDecodeError:
                return value.hex()
        if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
            return str(value)
        if isinstance(value, dt.time):
            return value.isoformat()
        if isinstance(value, dt.timedelta):
            return str(value)
        if isinstance(value, list | tuple):
            return [self.normalise(v) for v in value]
        if isinstance(value, set | frozenset):
            return sorted(str(self.normalise(v)) for v in value)
        if isinstance(value, dict):
            return {str(k): self.normalise(v) for k, v in value.items()}
        if isinstance(value, Unreadable):  # a value the driver could not convert: the mapping rejects it
            return value
        return str(value)
