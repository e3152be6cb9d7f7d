"""Probe: what an unchanged re-run costs when batches stay Arrow columns end to end (issue 16's design).

    .venv/bin/pip install -c constraints.txt -e ".[probe]"   # ADBC and polars: not used by the import
    .venv/bin/python benchmarks/columnar_rerun_probe.py [--rows 1000000] [--batch-size 10000]

This is a measurement of a design that is not built into the import yet, not a second implementation: it
runs the steps an Arrow unchanged path would run, on the benchmark's data (import_benchmark.py: same
generator, same query, same SQL limit measured in the same run), and prints each step's seconds and the
ratio to the limit. The steps, per batch of ``--batch-size`` rows:

* read: ADBC's PostgreSQL driver (libpq, ``COPY … TO STDOUT (FORMAT binary)`` decoded to Arrow in C++,
  the GIL released), every column as the server's text (``TextColumns``); ``{lastItem}`` inlined as a
  literal, because a bound parameter makes the driver run the query without COPY and return the whole
  result as one batch;
* fingerprint: polars ``hash_rows`` over the batch, twice with two seeds (128 bits a row, no Python per
  row), looked up with one vectorised binary search in the stored fingerprints (here: the first pass's);
* key: the matching key (email) normalised column-wise with Arrow (``mapping/columnar.py``'s rule:
  the address shape by RE2, the domain once per distinct domain), for the ``duplicate_keys`` check, which
  is a count of distinct keys per batch;
* rows not known: taken out of the batch, turned into exactly the values psycopg gives (its own loaders
  for each column's type) and mapped by today's mapper. ``--check-values`` compares every row read this
  way with psycopg's, value and type.

For comparison it also times reading the same rows through psycopg (the import's reader today) and prints
the import's own re-run from import_benchmark.py's last figures, if given (``--ours-seconds``). It never
asserts; see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_benchmark as bench  # the data, the query and the SQL limit

QUERY = f"SELECT {bench.COLUMN_LIST} FROM customers WHERE id > {{last}} ORDER BY id"
SEEDS = (0x5EED_0001, 0x5EED_0002)


class TextColumns:
    """The faithful way to read Arrow batches: every column as the server's text (``::text`` in a wrapper
    query that names the columns by position), and psycopg's own text loaders for each column's original
    type, with the import's tolerant ones (``sources/values.py``), for the rows that must be mapped: their
    values are then exactly what the import's psycopg reader gives, by construction."""

    def __init__(self, connection: psycopg.Connection[Any], query: str) -> None:
        from psycopg.pq import Format

        from customer_import.sources.dialects.postgres import PostgresSource
        from customer_import.sources.values import register_postgres_loaders

        register_postgres_loaders(connection)
        cursor = connection.execute(f"SELECT * FROM ({query}) AS q LIMIT 0")
        described = cursor.description or []
        self.names = tuple(column.name for column in described)
        self.loaders = [
            connection.adapters.get_loader(column.type_code, Format.TEXT)(column.type_code, connection)
            for column in described
        ]
        positional = ", ".join(f"c{i}" for i in range(len(described)))
        as_text = ", ".join(f"c{i}::text" for i in range(len(described)))
        self.query = f"SELECT {as_text} FROM ({query}) AS q({positional})"
        self.normalise_rows = PostgresSource().normalise_rows

    def rows(self, batch: pa.RecordBatch) -> list[tuple[Any, ...]]:
        """A batch's rows as the import's psycopg reader gives them."""
        columns = []
        for column, loader in zip(batch.columns, self.loaders, strict=True):
            load = loader.load
            columns.append([None if v is None else load(v.encode()) for v in column.to_pylist()])
        return self.normalise_rows(list(zip(*columns, strict=True)))


def arrow_batches(uri: str, query: str, batch_size: int) -> Any:
    """The query's rows as Arrow record batches of at most ``batch_size`` rows, streamed."""
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(uri) as connection, connection.cursor() as cursor:
        cursor.adbc_statement.set_options(**{"adbc.postgresql.batch_size_hint_bytes": str(4 * bench.MB)})
        cursor.execute(query)
        for batch in cursor.fetch_record_batch():
            for start in range(0, batch.num_rows, batch_size):
                yield batch.slice(start, batch_size)


def fingerprints(batch: pa.RecordBatch) -> np.ndarray:
    """128 bits a row: two seeded 64-bit row hashes (polars), as an (n, 2) uint64 array."""
    import polars as pl

    frame = pl.from_arrow(batch)
    assert isinstance(frame, pl.DataFrame)
    return np.column_stack([frame.hash_rows(seed=seed).to_numpy() for seed in SEEDS])


class Stored:
    """Sorted stored fingerprints, searched for a whole batch at once."""

    def __init__(self, prints: np.ndarray) -> None:
        order = np.lexsort((prints[:, 1], prints[:, 0]))
        self.high, self.low = prints[order, 0].copy(), prints[order, 1].copy()

    def known(self, prints: np.ndarray) -> np.ndarray:
        index = np.minimum(np.searchsorted(self.high, prints[:, 0]), len(self.high) - 1)
        return (self.high[index] == prints[:, 0]) & (self.low[index] == prints[:, 1])


def email_keys(column: pa.Array) -> pa.Array:
    """The known rows' keys: the columnar mapper's Arrow email rule (null: left to the row mapper)."""
    from customer_import.mapping.columnar import arrow_emails

    return arrow_emails(column)


def probe(
    uri: str, text: TextColumns, batch_size: int, stored: Stored | None, mapper: Any = None
) -> tuple[dict[str, float], np.ndarray, int]:
    """One pass; returns seconds per step, all fingerprints and the number of rows not known."""
    seconds: dict[str, float] = defaultdict(float)
    collected: list[np.ndarray] = []
    unknown = 0
    start = time.perf_counter()
    batches = arrow_batches(uri, text.query, batch_size)
    while True:
        t0 = time.perf_counter()
        batch = next(batches, None)
        seconds["read (waiting for the next Arrow batch)"] += time.perf_counter() - t0
        if batch is None:
            break
        t0 = time.perf_counter()
        prints = fingerprints(batch)
        collected.append(prints)
        t1 = time.perf_counter()
        seconds["fingerprint (polars hash_rows, 2 seeds)"] += t1 - t0
        if stored is None:
            continue
        known = stored.known(prints)
        t2 = time.perf_counter()
        seconds["look up stored fingerprints (vectorised)"] += t2 - t1
        keys = email_keys(batch.column(text.names.index("email")).filter(pa.array(known)))
        duplicates = len(keys) - pc.count_distinct(keys).as_py()
        t3 = time.perf_counter()
        seconds["known rows' keys (Arrow) + duplicate check"] += t3 - t2
        rows = text.rows(batch.filter(pa.array(~known)))
        t4 = time.perf_counter()
        seconds["rows not known -> psycopg's values (its loaders)"] += t4 - t3
        if rows:
            numbers = range(unknown + 1, unknown + 1 + len(rows))
            mapper.submit(text.names, rows, numbers)()
        unknown += len(rows)
        seconds["map the rows not known (today's mapper)"] += time.perf_counter() - t4
        del duplicates  # computed as the run would; not needed here
    seconds["total"] = time.perf_counter() - start
    return dict(seconds), np.concatenate(collected), unknown


def stored_rows(rows: int) -> np.ndarray:
    """Which rows' fingerprints a first run stores: not the ~1% rejected rows (id % 300 in 7, 107, 207)
    nor the ~2% that a later row repeats (``duplicate_keys: last`` skips them: the generator's row i with
    i % 50 == 3 repeats row i - 37's key), as import_benchmark.py's data has them."""
    ids = np.arange(1, rows + 1)
    rejected = np.isin(ids % 300, (7, 107, 207))
    repeated = ((ids + 37) % 50 == 3) & (ids + 37 <= rows)
    return ~(rejected | repeated)


def psycopg_read(uri: str, batch_size: int, text: TextColumns | None = None) -> tuple[float, int, int]:
    """Read the rows as the import does today (seconds); with ``text``, compare every row with the Arrow
    text batches turned into values by psycopg's loaders: (seconds, rows compared, rows that differ)."""
    from customer_import.sources.dialects.postgres import PostgresSource
    from customer_import.sources.values import register_postgres_loaders

    normalise, compared, differ = PostgresSource().normalise_rows, 0, 0
    arrow = arrow_batches(uri, text.query, batch_size) if text is not None else None
    start = time.perf_counter()
    with psycopg.connect(uri) as connection:
        connection.read_only = True
        register_postgres_loaders(connection)
        with connection.cursor(name="probe") as cursor:
            cursor.itersize = batch_size
            cursor.execute(QUERY.format(last=0))
            while True:
                if arrow is None or text is None:
                    if not cursor.fetchmany(batch_size):
                        break
                    continue
                batch = next(arrow, None)
                if batch is None:
                    break
                ours = text.rows(batch)
                theirs = normalise(cursor.fetchmany(len(ours)))
                compared += len(ours)
                differ += sum(
                    a != b or list(map(type, a)) != list(map(type, b))
                    for a, b in zip(ours, theirs, strict=True)
                )
    return time.perf_counter() - start, compared, differ


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--pg", default=bench.DEFAULT_ADMIN_DSN)
    parser.add_argument("--ours-seconds", type=float, help="the import's re-run (import_benchmark.py)")
    parser.add_argument(
        "--check-values",
        action="store_true",
        help="also compare every row's values (and types) with psycopg's, as the import reads them today",
    )
    args = parser.parse_args(argv)
    with bench.throwaway_databases(args.pg, keep=False) as dbs:
        print(f"[{time.strftime('%H:%M:%S')}] generating {args.rows:,} customers")
        bench.generate_source(dbs, args.rows)
        with psycopg.connect(dbs.store_uri, autocommit=True) as db:
            db.execute(bench.CREATE_LIMIT_TABLE)
        half = args.rows // 2
        bench.run_sql_limit("pre-load", dbs, half, f"id <= {half}")
        with psycopg.connect(dbs.source_uri, autocommit=True) as db:
            db.execute(bench.CHANGE_SOURCE.format(half=half))
            db.execute("VACUUM ANALYZE customers")
        with psycopg.connect(dbs.store_uri, autocommit=True) as db:
            db.execute(f"VACUUM ANALYZE {bench.LIMIT_TABLE}")
        bench.checkpoint(dbs)
        limit = bench.run_sql_limit("SQL limit", dbs, args.rows)
        print(f"SQL limit (COPY out/in + INSERT … ON CONFLICT), {args.rows:,} rows: {limit.seconds:.1f} s")
        read_psycopg, _, _ = psycopg_read(dbs.source_uri, args.batch_size)
        describe = psycopg.connect(dbs.source_uri)
        text = TextColumns(describe, QUERY.format(last=0))
        if args.check_values:
            _, compared, differ = psycopg_read(dbs.source_uri, args.batch_size, text)
            print(f"values: {compared:,} rows read both ways, {differ:,} differ (value or type)")
        _, first, _ = probe(dbs.source_uri, text, args.batch_size, None)
        stored = Stored(first[stored_rows(args.rows)])  # the fingerprints a first run stored
        from customer_import.mapping.batches import batch_mapper
        from customer_import.spec.database import ProfileDatabase

        mapper = batch_mapper(
            bench.make_spec(bench.full_query()), ProfileDatabase.model_validate(bench.DATABASE), None, 0
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        steps, _, unknown = probe(dbs.source_uri, text, args.batch_size, stored, mapper)
        describe.close()
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    total = steps.pop("total")
    print(f"\nreading the rows only: psycopg (today's reader) {read_psycopg:.1f} s")
    print(
        f"columnar unchanged pass: {total:.1f} s = {limit.seconds / total:.2f}x the SQL limit "
        f"(target 2.0x); rows left to map: {unknown:,}; peak RSS grew {(rss_after - rss_before) / 1024:.0f} MB"
    )
    print(f"  {'step':<52} {'seconds':>8} {'x limit':>8}")
    for name, value in steps.items():
        print(f"  {name:<52} {value:8.2f} {value / limit.seconds:8.2f}")
    other = total - sum(steps.values())
    print(f"  {'other (loop, slicing)':<52} {other:8.2f} {other / limit.seconds:8.2f}")
    if args.ours_seconds:
        print(
            f"the import's re-run today (given): {args.ours_seconds:.1f} s = "
            f"{limit.seconds / args.ours_seconds:.2f}x the limit"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
