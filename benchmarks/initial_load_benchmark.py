"""Benchmark: the parallel initial load (``source.initial_load``) with 1, 2 and 4 partitions.

    .venv/bin/python benchmarks/initial_load_benchmark.py [--rows 1000000] [--batch-size 10000]
                                                         [--partitions 1,2,4] [--pg postgresql://…/postgres]

The same source as ``import_benchmark.py`` (N generated customers in a throwaway PostgreSQL database:
12 mapped fields, emails, phones, dates, ~1 % bad rows, 2 % repeated emails), loaded into an empty store
(a fresh throwaway database for each figure) by:

* 1 partition: one ``run_import``, as the import task runs a spec without ``initial_load``;
* N partitions: the three steps of the DAG, as its tasks run them: ``initial_load.plan`` (one process),
  ``initial_load.stage_partition`` for each partition in its own process, all at once (as N mapped task
  instances on N worker slots), then ``run_import`` writing the staged batches (the import task).

Airflow's own per-task overhead (a task process starting, ~3-10 s here) is not in these figures; the
deployment test (tests/deploy/test_initial_load.py) runs the same tasks on Celery workers. It prints
wall-clock seconds per step, rows/s and the ratio to one partition, and whether every load left the same
profiles (a checksum of the stored values); it never asserts.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_benchmark as bench  # the same data, databases and spec as the main benchmark

RUN_ID = "initial-load-benchmark"


@dataclass
class Figure:
    partitions: int
    rows: int = 0
    steps: dict[str, float] = field(default_factory=dict)
    checksum: str = ""
    profiles: int = 0

    @property
    def seconds(self) -> float:
        return sum(self.steps.values())


def spec_for(partitions: int) -> Any:
    spec = bench.make_spec(bench.full_query())
    if partitions < 2:
        return spec
    data = spec.model_dump(mode="json")
    data["source"]["initial_load"] = {"partitions": partitions}
    return type(spec).model_validate(data)


def _stage(partitions: int, partition: dict[str, Any], batch_size: int) -> dict[str, Any]:
    """One partition task (in its own process)."""
    from customer_import.initial_load import stage_partition
    from customer_import.sources.dialects.postgres import PostgresSource
    from customer_import.spec.database import ProfileDatabase

    spec = spec_for(partitions)
    bench.quiet_logs(False)
    return stage_partition(
        spec,
        ProfileDatabase.model_validate(bench.DATABASE),
        query=spec.source.query,
        source=PostgresSource(),
        partition=partition,
        run_id=RUN_ID,
        batch_size=batch_size,
        store_conn_id=bench.STORE_CONN_ID,
    )


def fresh_store(dbs: bench.Databases) -> None:
    with psycopg.connect(dbs.admin_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbs.store)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbs.store)))


def checksum(dbs: bench.Databases) -> tuple[str, int]:
    with psycopg.connect(dbs.store_uri) as db:
        row = db.execute(
            "SELECT md5(string_agg(concat_ws('|', email, phone, first_name, last_name, birth_date, gender, city, "
            "country, crm_id, tier, ltv, registration_date), ',' ORDER BY email)), count(*) FROM bench_profiles"
        ).fetchone()
    assert row is not None
    return str(row[0]), int(row[1])


def load(dbs: bench.Databases, partitions: int, batch_size: int) -> Figure:
    from customer_import.cursor import MemoryCursor
    from customer_import.importer import run_import
    from customer_import.initial_load import plan, staged_load
    from customer_import.sources.dialects.postgres import PostgresSource
    from customer_import.spec.database import ProfileDatabase
    from customer_import.store.connection import open_store
    from customer_import.store.writer import ensure_schema

    database = ProfileDatabase.model_validate(bench.DATABASE)
    spec = spec_for(partitions)
    fresh_store(dbs)
    with open_store(bench.STORE_CONN_ID) as (dialect, connection):
        ensure_schema(dialect, connection, database)
    bench.checkpoint(dbs)
    figure = Figure(partitions)
    cursor = MemoryCursor(0)
    upper = None
    arguments: dict[str, Any] = {
        "query": spec.source.query,
        "source": PostgresSource(),
        "run_id": RUN_ID,
        "store_conn_id": bench.STORE_CONN_ID,
    }
    if partitions > 1:
        start = time.perf_counter()
        planned = plan(spec, database, cursor_state=cursor, **arguments)
        figure.steps["plan (NTILE in the source)"] = time.perf_counter() - start
        bench.step(f"{partitions} partitions: {[p['rows'] for p in planned]} rows")
        start = time.perf_counter()
        with ProcessPoolExecutor(max_workers=len(planned), mp_context=get_context("spawn")) as pool:
            staged = list(pool.map(_stage, [partitions] * len(planned), planned, [batch_size] * len(planned)))
        figure.steps[f"stage {len(planned)} partitions at once (read, map, stage)"] = (
            time.perf_counter() - start
        )
        bench.step(f"staged: {[s['read'] for s in staged]} rows")
        upper = staged_load(planned, staged, 0)
    start = time.perf_counter()
    report = run_import(
        spec, database, cursor_state=cursor, batch_size=batch_size, initial_load=upper, **arguments
    )
    label = "write the staged batches (import task)" if partitions > 1 else "one task: read, map, write"
    figure.steps[label] = time.perf_counter() - start
    figure.rows = report.read
    figure.checksum, figure.profiles = checksum(dbs)
    return figure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--partitions", default="1,2,4")
    parser.add_argument("--pg", default=bench.DEFAULT_ADMIN_DSN)
    args = parser.parse_args(argv)
    counts = [int(n) for n in args.partitions.split(",")]
    figures: list[Figure] = []
    with (
        tempfile.TemporaryDirectory(prefix="customer-import-bench-") as home,
        bench.throwaway_databases(args.pg, keep=False) as dbs,
    ):
        bench.configure_airflow(Path(home), dbs)
        bench.quiet_logs(False)
        code = bench.code_under_test()
        bench.step(f"generating {args.rows:,} customers in {dbs.source}")
        bench.generate_source(dbs, args.rows)
        for n in counts:
            bench.step(f"initial load with {n} partition(s)")
            figures.append(load(dbs, n, args.batch_size))
    base = figures[0]
    print(f"\ninitial load of {args.rows:,} rows, batches of {args.batch_size:,}; {os.cpu_count()} cores")
    print(f"code: {code}; {bench.server_description(args.pg)}")
    print(f"{'partitions':>10}  {'seconds':>8}  {'rows/s':>8}  {'vs 1':>5}  profiles  same store  steps")
    for f in figures:
        steps = "; ".join(f"{name} {seconds:.1f}s" for name, seconds in f.steps.items())
        print(
            f"{f.partitions:>10}  {f.seconds:>8.1f}  {f.rows / f.seconds:>8,.0f}  {base.seconds / f.seconds:>4.2f}x"
            f"  {f.profiles:>8,}  {'yes' if f.checksum == base.checksum else 'NO':>10}  {steps}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
