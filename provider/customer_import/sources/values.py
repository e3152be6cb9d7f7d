"""Source values a driver cannot turn into Python values, carried as data instead of failing the fetch.

A driver converts a whole batch at once, so one value it cannot convert fails the batch: a PostgreSQL
date ``'infinity'`` or in year 10000 (Python's dates end in 9999), a time ``24:00``, text in a
``SQL_ASCII`` database that is not UTF-8, a SQLite TEXT value that is not UTF-8. Failing the fetch fails
the run, and the run after it at the same row: one row would block the import for good. Here each such
value becomes an :class:`Unreadable` marker instead; the mapping rejects the row that holds one in a
mapped column, with a code (customer_import.mapping.coerce), and the rest of the batch is imported.

What each driver needs (each tried on a real server, see tests/integration/test_unreadable_values.py):

- PostgreSQL (psycopg 3): tolerant loaders for the date and time types, ``json``/``jsonb`` and, where
  the connection does not decode UTF-8, the text types (:func:`register_postgres_loaders`). A
  ``SQL_ASCII`` database accepts any bytes and the server refuses to send them to a UTF-8 client
  ("invalid byte sequence"): such a session reads them as ``SQL_ASCII`` and decodes UTF-8 here.
- MariaDB/MySQL (mysqlclient): nothing raises, but an invalid date (``2024-02-30``, ``2024-00-15``) is
  read as NULL, an empty value that would erase a stored one: it becomes a marker; the zero date
  ``0000-00-00`` is MySQL's way of saying "no date" and stays empty (:func:`install_mysql_converters`).
- SQLite: TEXT that is not UTF-8 (``CAST(x'fffe' AS TEXT)``) fails ``fetchmany``; the connection's
  ``text_factory`` (:func:`read_sqlite_text`) returns a marker instead.
- ClickHouse (clickhouse-driver): nothing raises; a String that is not UTF-8 arrives as bytes (shown in
  hex, as bytes from every source are) and NaN as a float (the number coercers reject it).
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

# What an unreadable value was meant to be (the mapping chooses its error code from this).
DATE = "date"
DATETIME = "datetime"
TIME = "time"
INTERVAL = "interval"
ENCODING = "text"  # text (or JSON text) that is not valid in the connection's encoding


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A source value the driver could not convert: its text as the source sent it, and why."""

    raw: str  # the value's text; bytes that are not UTF-8 appear as \\xNN escapes
    kind: str  # DATE, DATETIME, TIME, INTERVAL or ENCODING
    reason: str

    def __str__(self) -> str:
        return self.raw


def shown(data: Any) -> str:
    """Bytes from the wire as text a person can read: UTF-8, other bytes as ``\\xNN`` escapes."""
    return bytes(data).decode("utf-8", "backslashreplace")


def utf8_or_marker(data: Any) -> str | Unreadable:
    """Bytes of a text value: decoded as UTF-8, or an ENCODING marker."""
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError as error:
        return Unreadable(
            shown(data), ENCODING, f"not valid UTF-8 text ({error.reason} at byte {error.start})"
        )


def read_sqlite_text(data: bytes) -> str | Unreadable:
    """``sqlite3.Connection.text_factory``: TEXT as str, or a marker where it is not UTF-8 (the default
    factory raises ``OperationalError: Could not decode to UTF-8`` and fails the whole fetch)."""
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError:
        return utf8_or_marker(data)


# --- PostgreSQL (psycopg 3) -------------------------------------------------------------------------------

_PG_KINDS = {
    "date": DATE,
    "timestamp": DATETIME,
    "timestamptz": DATETIME,
    "time": TIME,
    "timetz": TIME,
    "interval": INTERVAL,
    "json": ENCODING,
    "jsonb": ENCODING,
}
_PG_TEXT_TYPES = ("text", "varchar", "bpchar", "name", '"char"')


def register_postgres_loaders(connection: Any) -> None:
    """Make a psycopg 3 connection's fetches return :class:`Unreadable` for values psycopg cannot load.

    Call it before the first query (it may run ``SET client_encoding``, which starts the transaction).
    Costs about 0.3 us per date/time value (a Python call around psycopg's C loader); text decoded as
    UTF-8 by psycopg itself, the usual case, keeps psycopg's own loader.
    """
    if not hasattr(connection, "adapters"):  # not psycopg 3
        return
    from psycopg import postgres, pq
    from psycopg._oids import INVALID_OID

    info = connection.info
    if info.parameter_status("server_encoding") in ("SQL_ASCII", b"SQL_ASCII") and info.encoding != "ascii":
        # The server would refuse to send non-UTF-8 bytes to a UTF-8 client and fail the fetch; as
        # SQL_ASCII they arrive as bytes and are decoded here, value by value.
        connection.execute("SET client_encoding TO 'SQL_ASCII'")
    adapters = connection.adapters
    for name, kind in _PG_KINDS.items():
        oid = postgres.types[name].oid
        for fmt in (pq.Format.TEXT, pq.Format.BINARY):
            base = adapters.get_loader(oid, fmt)
            if base is not None:
                adapters.register_loader(oid, _tolerant(base, kind))
    encoding = info.encoding
    if encoding in ("utf-8", "utf8"):
        return
    text_oids = [INVALID_OID, *(postgres.types[name].oid for name in _PG_TEXT_TYPES)]
    for oid in text_oids:
        for fmt in (pq.Format.TEXT, pq.Format.BINARY):
            if oid == INVALID_OID and fmt == pq.Format.BINARY:
                continue  # psycopg reads unknown types in binary as bytea: nothing to decode
            if encoding == "ascii":  # SQL_ASCII: psycopg returns bytes; the text is (meant to be) UTF-8
                adapters.register_loader(oid, _utf8_loader(fmt))
            elif (base := adapters.get_loader(oid, fmt)) is not None:
                adapters.register_loader(oid, _tolerant(base, ENCODING))


@functools.cache
def _tolerant(base: type[Any], kind: str) -> type[Any]:
    """A loader class that loads with ``base`` (psycopg's own, in C) and returns a marker where it fails."""
    import psycopg
    from psycopg.adapt import Loader

    class TolerantLoader(Loader):
        format = base.format

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = base(oid, context).load

        def load(self, data: Any) -> Any:
            try:
                return self._load(data)
            except UnicodeDecodeError as error:
                return Unreadable(
                    shown(data), ENCODING, f"not valid text in the connection's encoding: {error}"
                )
            except (psycopg.DataError, ValueError, OverflowError) as error:
                text = (
                    shown(data) if self.format == psycopg.pq.Format.TEXT else f"(binary) {bytes(data).hex()}"
                )
                return Unreadable(text, kind, str(error))

    TolerantLoader.__name__ = TolerantLoader.__qualname__ = f"Tolerant{base.__name__}"
    return TolerantLoader


@functools.cache
def _utf8_loader(fmt: Any) -> type[Any]:
    from psycopg.adapt import Loader

    class Utf8TextLoader(Loader):
        format = fmt

        def load(self, data: Any) -> str | Unreadable:
            return utf8_or_marker(data)

    return Utf8TextLoader


# --- MariaDB / MySQL (mysqlclient) ------------------------------------------------------------------------


def _mysql_zero(text: str) -> bool:
    return text.startswith("0000-00-00")


def _mysql_date(text: str) -> Any:
    try:
        return dt.date(int(text[:4]), int(text[5:7]), int(text[8:10]))
    except ValueError as error:
        if _mysql_zero(text):
            return None
        return Unreadable(text, DATE, f"not a calendar date ({error})")


def _mysql_datetime(text: str) -> Any:
    if len(text) < 11:
        return _mysql_date(text)
    try:
        micros = text[20:]
        return dt.datetime(
            int(text[:4]),
            int(text[5:7]),
            int(text[8:10]),
            int(text[11:13] or 0),
            int(text[14:16] or 0),
            int(text[17:19] or 0),
            int(micros.ljust(6, "0")) if micros else 0,
        )
    except ValueError as error:
        if _mysql_zero(text):
            return None
        return Unreadable(text, DATETIME, f"not a calendar date and time ({error})")


def install_mysql_converters(connection: Any) -> None:
    """DATE, DATETIME and TIMESTAMP of a mysqlclient connection: an invalid date becomes a marker instead
    of NULL (mysqlclient's own converters read every date they cannot parse as NULL)."""
    from MySQLdb.constants import FIELD_TYPE

    converter = getattr(connection, "converter", None)
    if not isinstance(converter, dict):
        return
    converter[FIELD_TYPE.DATE] = _mysql_date
    converter[FIELD_TYPE.DATETIME] = _mysql_datetime
    converter[FIELD_TYPE.TIMESTAMP] = _mysql_datetime
