"""The columnar reader of PostgreSQL sources: batches as Arrow columns of the server's text (issue 16).

An import that fingerprints its rows (``skip_unchanged``) mostly finds rows it has already written: for
those it needs a fingerprint and the matching key, not a Python object per value. This reader streams the
query with ADBC's PostgreSQL driver (libpq ``COPY … TO STDOUT (FORMAT binary)`` decoded to Arrow in C++,
without the GIL), every column as the server's text, and hands each batch on as an :class:`ArrowBatch`:

* ``arrow``: the batch's columns (Arrow strings), which the fingerprints hash column-wise
  (``fingerprints.RowFingerprints.of_arrow``);
* ``rows``: an :class:`ArrowRows` sequence that turns rows into Python values only when they are asked
  for (the rows to map, the matching key and cursor of the known rows, the cursor's last rows), with
  psycopg's own text loaders for each column's original type, including the import's tolerant ones
  (``sources/values.py``). A value is therefore exactly what the psycopg reader (``dialects/postgres.py``)
  gives: the same text from the server, the same loader (tests/integration/test_arrow_text.py compares
  every value and type of a table holding each PostgreSQL type the import reads).

Why text and not ADBC's own types: Arrow's conversions differ from psycopg's (no ``Unreadable`` marker
for a date past 9999 or ``infinity``, other types for numeric, json, arrays, intervals), and the mapped
values, codes and report must stay exactly what they are. The text is each type's output function's
(``typoutput``), not ``::text``, which differs for bpchar and inet. The session gets the psycopg
connection's DateStyle, IntervalStyle, TimeZone, extra_float_digits and bytea_output, so the text is
what psycopg would have been sent.

``{lastItem}`` and a partition's bounds are inlined as literals (psycopg's own quoting, ``mogrify``): with
a bound parameter the driver runs the query without COPY and returns the whole result as one batch. The
session is read-only (``default_transaction_read_only``) and has the statement timeout
(``[customer_import] statement_timeout_seconds``), which here covers the whole read: COPY is one
statement. A query that sets its own session state, or a source whose encoding is not UTF-8, is read by
the psycopg reader instead (:func:`usable`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Any, overload

import pyarrow as pa

log = logging.getLogger(__name__)

# Text types: ADBC reads them as strings equal to what psycopg is sent; every other column is read as
# the text of its type's output function (``typoutput``), which is what psycopg is sent. Not ``::text``:
# that cast differs for some types (bpchar drops its padding, inet shows the mask of a host address).
_AS_READ = frozenset({25, 1043, 1042})  # text, varchar, bpchar
# Types psycopg loads as the text itself (UTF-8 connection): their Arrow strings are the values.
_TEXT_OIDS = frozenset({25, 1043, 1042, 19})  # text, varchar, bpchar, name
_INT_OIDS = frozenset({20, 21, 23})  # int8, int2, int4: the text of an integer, read by Arrow's cast
# The session settings that decide how the server writes values as text.
_TEXT_SETTINGS = ("DateStyle", "IntervalStyle", "TimeZone", "extra_float_digits", "bytea_output")
# ADBC decodes rows until it holds this many bytes per row of the import's batch, then hands them on (the
# pieces are joined and re-sliced into batches). A bound on how long a batch waits for rows after it: a
# stalled source holds back at most one more batch of rows 16 bytes wide or more, as a FETCH would not.
_HINT_BYTES_PER_ROW = 16


# The server's message in an ADBC error text ("... ERROR:  division by zero\nCONTEXT: ... SQLSTATE: 22012"):
# as psycopg shows it, the message and its CONTEXT lines.
_SERVER_MESSAGE = re.compile(r"\b(?:ERROR|FATAL|PANIC):\s+(.*?)\s*(?:\. SQLSTATE: \w{5})?\s*$", re.S)
_LIBPQ_MESSAGE = re.compile(r"\[libpq\][^:]*:\s*(.*)", re.S)


def as_psycopg_error(error: Exception) -> Exception:
    """An error of the columnar reader (ADBC's, with a SQLSTATE where the server sent one, or Arrow's
    OSError) as the psycopg error the psycopg reader raises for the same failure: the same class (by
    SQLSTATE) and primary message, so a run reports and classifies it the same way
    (``driver_errors``, the retry classes). Without a SQLSTATE it is an ``OperationalError`` (a lost
    connection, as libpq reports it)."""
    import psycopg

    text = str(error)
    sqlstate = getattr(error, "sqlstate", None)
    server = _SERVER_MESSAGE.search(text)
    libpq = _LIBPQ_MESSAGE.search(text)
    message = server.group(1) if server else libpq.group(1).strip() if libpq else text
    kind: type[Exception] = psycopg.OperationalError
    if isinstance(sqlstate, str) and len(sqlstate) == 5:
        try:
            kind = psycopg.errors.lookup(sqlstate)
        except KeyError:
            kind = psycopg.DatabaseError
    return kind(message)


@contextmanager
def _psycopg_errors() -> Iterator[None]:
    from adbc_driver_manager import Error as AdbcError

    try:
        yield
    except (AdbcError, OSError) as error:
        raise as_psycopg_error(error) from error


def available() -> bool:
    """Whether ADBC's PostgreSQL driver and polars are importable (they are dependencies; a stripped
    environment falls back to the psycopg reader)."""
    try:
        import adbc_driver_postgresql.dbapi  # noqa: F401
        import polars  # noqa: F401
    except ImportError:
        return False
    return True


Converter = Callable[[pa.Array], list[Any]]


def _converter(oid: int, loader: Any) -> Converter:
    """A column of server text -> psycopg's values for a column of type ``oid``."""
    if oid in _TEXT_OIDS and type(loader).__name__ == "TextLoader":
        return pa.Array.to_pylist  # type: ignore[no-any-return]
    if oid in _INT_OIDS and type(loader).__name__ in ("IntLoader", "Int8Loader", "Int4Loader", "Int2Loader"):
        return lambda column: column.cast(pa.int64()).to_pylist()
    load = loader.load

    def convert(column: pa.Array) -> list[Any]:
        return [None if v is None else load(v.encode()) for v in column.to_pylist()]

    return convert


class ArrowRows(Sequence[tuple[Any, ...]]):
    """A batch's rows, turned into Python values (psycopg's, normalised as the dialect does) only when
    asked for; ``take`` converts column-wise, which is how the importer asks."""

    def __init__(
        self,
        batch: pa.RecordBatch,
        converters: Sequence[Converter],
        normalise: Callable[[Sequence[Any]], Sequence[Any]],
    ) -> None:
        self._batch = batch
        self._converters = converters
        self._normalise = normalise  # the dialect's normalise_column

    def __len__(self) -> int:
        return int(self._batch.num_rows)

    def take(self, positions: Sequence[int], only: Collection[int] | None = None) -> list[tuple[Any, ...]]:
        """The rows at these positions; with ``only``, the other columns are None (not converted)."""
        if not positions:
            return []
        indices = pa.array(positions, type=pa.int64())
        batch, normalise, count = self._batch, self._normalise, len(positions)
        columns = [
            normalise(convert(batch.column(index).take(indices)))
            if only is None or index in only
            else repeat(None, count)
            for index, convert in enumerate(self._converters)
        ]
        return list(zip(*columns, strict=True))

    def columns(self, positions: Sequence[int], only: Collection[int]) -> dict[int, Sequence[Any]]:
        """The values of these columns (by index) at these positions, as ``take`` would give them."""
        indices = pa.array(positions, type=pa.int64())
        batch, converters, normalise = self._batch, self._converters, self._normalise
        return {index: normalise(converters[index](batch.column(index).take(indices))) for index in only}

    @overload
    def __getitem__(self, index: int) -> tuple[Any, ...]: ...
    @overload
    def __getitem__(self, index: slice) -> list[tuple[Any, ...]]: ...
    def __getitem__(self, index: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(index, slice):
            return self.take(range(len(self))[index])
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self.take([index])[0]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self.take(range(len(self))))


@dataclass(frozen=True)
class ArrowText:
    """How one query's columns are read: the wrapping query and each column's converter."""

    columns: tuple[str, ...]
    type_oids: tuple[int, ...]
    query: str  # the query wrapped to return every column as text (bpchar as it is)
    converters: tuple[Converter, ...]
    conninfo: str  # the psycopg session's connection string with the text settings, read-only and timeout


def usable(connection: Any) -> bool:
    """Whether a psycopg session's values can be read as Arrow text: a UTF-8 connection to a server
    whose encoding is not SQL_ASCII (whose bytes need not be UTF-8)."""
    info = connection.info
    return bool(
        info.encoding in ("utf-8", "utf8")
        and info.parameter_status("server_encoding") not in ("SQL_ASCII", b"SQL_ASCII")
    )


def describe(connection: Any, text: str, timeout_seconds: int) -> ArrowText:
    """Describe a query (already with its literals) on a psycopg 3 session that has the import's loaders
    registered (``register_postgres_loaders``), and prepare its columnar read."""
    from psycopg.conninfo import make_conninfo
    from psycopg.pq import Format

    body = text.rstrip().rstrip(";")
    with closing(connection.cursor()) as cursor:
        cursor.execute(f"SELECT * FROM ({body}\n) AS q LIMIT 0")
        described = list(cursor.description or [])
        cursor.execute("SELECT " + ", ".join(f"current_setting('{name}')" for name in _TEXT_SETTINGS))
        settings = cursor.fetchone() or ()
        oids = sorted({int(c.type_code) for c in described})
        cursor.execute("SELECT oid::int8, typoutput::regproc::text FROM pg_type WHERE oid = ANY(%s)", (oids,))
        output = dict(cursor.fetchall())
    from psycopg._oids import INVALID_OID

    adapters = connection.adapters
    # As psycopg's transformer: the type's text loader, or the one of unknown types (the text itself).
    loaders = [
        (adapters.get_loader(c.type_code, Format.TEXT) or adapters.get_loader(INVALID_OID, Format.TEXT))(
            c.type_code, connection
        )
        for c in described
    ]
    positional = ", ".join(f"c{i}" for i in range(len(described)))
    selected = ", ".join(
        f"c{i}" if c.type_code in _AS_READ else f"{output[c.type_code]}(c{i})::text AS c{i}"
        for i, c in enumerate(described)
    )
    set_here = [*zip(_TEXT_SETTINGS, settings, strict=True), ("default_transaction_read_only", "on")]
    if timeout_seconds:
        set_here.append(("statement_timeout", str(timeout_seconds * 1000)))
    escaped = " ".join(_setting(name, value) for name, value in set_here)
    info = connection.info
    given = info.get_parameters().get("options")
    conninfo = make_conninfo(
        info.dsn,
        password=info.password or None,
        options=f"{given} {escaped}" if given else escaped,
    )
    return ArrowText(
        columns=tuple(c.name for c in described),
        type_oids=tuple(int(c.type_code) for c in described),
        query=f"SELECT {selected} FROM ({body}\n) AS q({positional})",
        converters=tuple(
            _converter(c.type_code, loader) for c, loader in zip(described, loaders, strict=True)
        ),
        conninfo=conninfo,
    )


def _setting(name: str, value: str) -> str:
    """``-c name=value`` for libpq's ``options`` (a space or backslash in the value escaped)."""
    return "-c " + f"{name}={value}".replace("\\", "\\\\").replace(" ", "\\ ")


@contextmanager
def record_batches(read: ArrowText, batch_size: int) -> Iterator[Callable[[], pa.RecordBatch | None]]:
    """Run the wrapped query on its own ADBC session; yield a function returning the next batch of at
    most ``batch_size`` rows (exactly ``batch_size`` but the last), None at the end. The function may be
    called from another thread than this one (one call at a time)."""
    import adbc_driver_postgresql.dbapi as adbc

    with _psycopg_errors():
        connection = adbc.connect(read.conninfo)
    with connection, closing(connection.cursor()) as cursor:
        hint = max(batch_size * _HINT_BYTES_PER_ROW, 1024)
        cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(hint)})
        with _psycopg_errors():
            cursor.execute(read.query)
        # ADBC's own reader (what fetch_record_batch() wraps): its errors carry the server's SQLSTATE.
        results = getattr(cursor, "_results", None)
        reader = results.reader if results is not None else cursor.fetch_record_batch()
        held: list[pa.RecordBatch] = []
        rows_held = 0
        ended = False

        def next_batch() -> pa.RecordBatch | None:
            nonlocal rows_held, ended
            while not ended and rows_held < batch_size:
                try:
                    with _psycopg_errors():
                        more = reader.read_next_batch()
                except StopIteration:
                    ended = True
                    break
                if more.num_rows:
                    held.append(more)
                    rows_held += more.num_rows
            if not rows_held:
                return None
            whole = held[0] if len(held) == 1 else pa.concat_batches(held)
            batch, rest = whole.slice(0, batch_size), whole.slice(batch_size)
            held[:] = [rest] if rest.num_rows else []
            rows_held = rest.num_rows
            return batch

        try:
            yield next_batch
        finally:
            reader.close()
