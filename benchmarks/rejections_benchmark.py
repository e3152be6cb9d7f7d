"""What keeping every rejected row costs (PRODUCT.md "Rejected rows are kept", decision record 0007).

On one generated PostgreSQL source (``import_benchmark``'s customers; about 1% of its rows are rejected
as generated), three runs, each into an empty PostgreSQL store:

* ``without``: the source as generated;
* ``5% rejected``: 5% more of its rows given an invalid e-mail (the matching key), rejections kept;
* ``5% rejected, not kept``: the same, with the write into ``<database>_rejections`` switched off.

Prints figures; asserts nothing. ``--rows 1000000`` for the issue's figure (default 200,000).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_benchmark as bench


def empty_store(dbs: bench.Databases) -> None:
    with psycopg.connect(dbs.store_uri, autocommit=True) as db:
        db.execute("DROP SCHEMA public CASCADE")
        db.execute("CREATE SCHEMA public")


def measure(
    label: str, dbs: bench.Databases, batch_size: int, keep: bool = True
) -> tuple[str, float, int, int]:
    from customer_import.cursor import MemoryCursor
    from customer_import.importer import run_import
    from customer_import.sources.dialects.postgres import PostgresSource
    from customer_import.spec.database import ProfileDatabase
    from customer_import.store import writer

    empty_store(dbs)
    bench.checkpoint(dbs)
    original = writer.ProfileWriter._keep_rejections
    if not keep:
        writer.ProfileWriter._keep_rejections = lambda *args, **kwargs: None  # type: ignore[method-assign]
    try:
        spec = bench.make_spec(bench.full_query())
        start = time.perf_counter()
        report = run_import(
            spec,
            ProfileDatabase.model_validate(bench.DATABASE),
            query=spec.source.query,
            source=PostgresSource(),
            cursor_state=MemoryCursor(0),
            run_id=f"bench-{label}",
            batch_size=batch_size,
            store_conn_id=bench.STORE_CONN_ID,
        )
        seconds = time.perf_counter() - start
    finally:
        writer.ProfileWriter._keep_rejections = original  # type: ignore[method-assign]
    with psycopg.connect(dbs.store_uri) as db:
        row = db.execute("SELECT count(*) FROM bench_rejections").fetchone()
    return label, seconds, report.failed, int(row[0]) if row else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=10_000)
    parser.add_argument("--pg", default=bench.DEFAULT_ADMIN_DSN)
    parser.add_argument("--repeat", type=int, default=2, help="runs of each kind (the best is shown)")
    args = parser.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="rejections-bench-"))
    with bench.throwaway_databases(args.pg, keep=False) as dbs:
        bench.configure_airflow(home, dbs)
        bench.quiet_logs(False)
        bench.step(f"generating {args.rows:,} source rows")
        bench.generate_source(dbs, args.rows)
        results: list[tuple[str, float, int, int]] = []

        def best(label: str, keep: bool = True) -> None:
            runs = [measure(label, dbs, args.batch_size, keep) for _ in range(args.repeat)]
            results.append(min(runs, key=lambda r: r[1]))
            bench.step(f"{label}: " + ", ".join(f"{r[1]:.1f} s" for r in runs))

        best("without")
        with psycopg.connect(dbs.source_uri, autocommit=True) as db:
            db.execute("UPDATE customers SET email = 'not an email ' || id WHERE id % 20 = 11")
            db.execute("VACUUM ANALYZE customers")
        best("5% rejected")
        best("5% rejected, not kept", keep=False)
    base = results[0][1]
    print(f"\n=== rejected rows kept: {args.rows:,} source rows, batch size {args.batch_size:,} ===")
    print(bench.server_description(args.pg))
    for label, seconds, failed, kept in results:
        print(
            f"  {label:<24} {seconds:7.1f} s  {args.rows / seconds:>9,.0f} rows/s  "
            f"rejected {failed:>7,}  kept in the store {kept:>7,}  {seconds / base - 1:+.1%} vs without"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
