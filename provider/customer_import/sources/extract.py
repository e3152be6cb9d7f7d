"""Batched extraction: run the query once (one part) with ``{lastItem}`` bound, and stream its rows.

Connecting and running the query happen in the caller's thread. Where the dialect allows it
(``fetch_ahead``), each next batch is fetched in one helper thread while the caller maps and writes the
batch before: the source server produces rows while this process works (the driver waits for the
network without holding the GIL). The cursor is only ever used by one thread at a time, and closed after
the helper has finished: so a run ending early (a failed write, a task timeout) first waits for the one
fetch in flight, as it would have waited in that fetch without the helper.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from customer_import.exceptions import CustomerImportError, QueryError, SourceError
from customer_import.sources.dialects import PARAM_NAME, SourceDialect
from customer_import.sources.query import check_query

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Batch:
    columns: tuple[str, ...]
    rows: Sequence[tuple[Any, ...]]  # a list, or rows made when asked for (``arrow_text.ArrowRows``)

    def row_list(self) -> list[tuple[Any, ...]]:
        """Every row as a list: the fetched list itself, or an ``ArrowRows`` made whole."""
        return self.rows if isinstance(self.rows, list) else list(self.rows)


@dataclass(frozen=True)
class ArrowBatch(Batch):
    """A batch of the columnar reader (``sources/arrow_text.py``): its columns as the server's text."""

    arrow: Any  # pyarrow.RecordBatch
    type_oids: tuple[int, ...]


@contextmanager
def _source_errors(dialect: SourceDialect, conn_id: str, doing: str) -> Iterator[None]:
    """Turn a driver error into a SourceError that says where it happened and whether to retry (by the
    driver's error code: see customer_import.driver_errors)."""
    try:
        yield
    except CustomerImportError:
        raise
    except Exception as exc:
        fatal = dialect.is_fatal(exc)
        kind = "fails" if fatal else "is unavailable (Airflow retries the task)"
        raise SourceError(
            f"source connection {conn_id!r} ({dialect.name}) {kind} while {doing}: {dialect.describe_error(exc)}",
            fatal=fatal,
        ) from exc


ExitFunction = Callable[[type[BaseException] | None, BaseException | None, TracebackType | None], bool | None]


def _closing_session(
    dialect: SourceDialect, conn_id: str, session: AbstractContextManager[Any]
) -> ExitFunction:
    """The session's exit, for an ExitStack: after an error (a killed connection, a failed fetch) closing the
    session may fail too; then the first error is the one that counts, and this one is only logged. A
    failure to close after a good read is a SourceError like any other."""

    def close(
        kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> bool:
        try:
            return bool(session.__exit__(kind, error, traceback))
        except Exception as close_error:
            if error is None:
                with _source_errors(dialect, conn_id, "closing the session"):
                    raise
            log.warning("closing source connection %r after an error failed too: %s", conn_id, close_error)
            return False

    return close


def extract_part(
    dialect: SourceDialect,
    conn_id: str,
    query: str,
    last_item: Any,
    batch_size: int,
    bound: Mapping[str, Any] | None = None,
    columnar: bool = False,
) -> Generator[Batch, None, None]:
    """Yield the rows of one query execution in batches of at most ``batch_size`` (``fetchmany``).
    ``bound``: more named parameters, each written in ``query`` as its bare name (a partition's bounds).
    ``columnar``: where the dialect has a columnar reader (``SourceDialect.columnar``), read with it and
    yield ``ArrowBatch`` es."""
    problems = check_query(query, dialect.sqlglot_dialect)
    if problems:
        raise QueryError(f"the query is refused for a {dialect.name} source: {'; '.join(problems)}")
    text, takes_param = dialect.render(query)
    for name in bound or {}:
        text = text.replace(name, dialect.marker.replace(PARAM_NAME, name))
    with ExitStack() as stack:
        session = dialect.read_only_cursor(conn_id, batch_size)
        with _source_errors(dialect, conn_id, "connecting"):
            cursor = session.__enter__()
        stack.push(_closing_session(dialect, conn_id, session))
        params = {PARAM_NAME: last_item, **(bound or {})} if takes_param else None
        if columnar:
            with _source_errors(dialect, conn_id, "running the query"):
                arrow_read = dialect.columnar(cursor, text, params)
            if arrow_read is not None:
                yield from _columnar_part(dialect, conn_id, arrow_read, batch_size, stack)
                return
        with _source_errors(dialect, conn_id, "running the query"):
            if params is not None:
                cursor.execute(text, params)
            else:
                cursor.execute(text)
            columns = tuple(str(d[0]) for d in cursor.description or ())

        def fetch() -> Batch | None:
            with _source_errors(dialect, conn_id, "reading rows"):
                rows = cursor.fetchmany(batch_size)
            return Batch(columns, dialect.normalise_rows(rows)) if rows else None

        yield from _fetched(fetch, dialect.fetch_ahead)


def _fetched(fetch: Callable[[], Batch | None], ahead: bool) -> Iterator[Batch]:
    """The batches ``fetch`` returns until None; with ``ahead``, each next one fetched in a helper thread
    while the caller works on the one before."""
    if not ahead:
        while batch := fetch():
            yield batch
        return
    # Leaving the with-block (end, error, or the caller closing this generator) waits for the helper.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="customer-import-fetch") as helper:
        future = helper.submit(fetch)
        while batch := future.result():  # a source error of this batch is raised here, in order
            future = helper.submit(fetch)
            yield batch


def _columnar_part(
    dialect: SourceDialect, conn_id: str, read: Any, batch_size: int, stack: ExitStack
) -> Iterator[Batch]:
    """One part through the columnar reader: its own session (closed before the psycopg one)."""
    from customer_import.sources import arrow_text

    session = arrow_text.record_batches(read, batch_size)
    with _source_errors(dialect, conn_id, "running the query"):
        next_batch = session.__enter__()
    stack.push(_closing_session(dialect, conn_id, session))

    def fetch() -> Batch | None:
        with _source_errors(dialect, conn_id, "reading rows"):
            arrow = next_batch()
        if arrow is None:
            return None
        rows = arrow_text.ArrowRows(arrow, read.converters, dialect.normalise_column)
        return ArrowBatch(read.columns, rows, arrow, read.type_oids)

    yield from _fetched(fetch, dialect.fetch_ahead)
