"""The import as Airflow runs it (``airflow dags test``) on the demo's spec shape, against the SQL limit.

    .venv/bin/python benchmarks/dags_test_benchmark.py [--rows 1000000]

import_benchmark.py calls ``run_import`` in its own process; this one runs the real command a data
engineer runs, in a child process with its own Airflow home (SQLite metadata, migrated first): the DAG
factory, the operators, the cursor Variable, the report in XCom. The spec is the demo's
(include/import_specs/demo_crm_customers.yaml: 15 mapped fields, matching by the custom ``crm_id``,
``skip_unchanged``, ``duplicate_keys: last``) reading a PostgreSQL copy of the demo source
(scripts/make_demo_source.py: about 3% of the rows carry a bad value) into a PostgreSQL store, without the
demo's LIMIT. Three runs, each a fresh ``airflow dags test``:

1. zero rows (the cursor Variable past the last id): Airflow's start-up, DAG parsing and an empty import;
2. the import of every row into an empty store (creates);
3. the re-run with nothing changed (the cursor Variable set back to 0).

For each: the wall time of the command, the import's own time (the wall time minus the zero-row run's),
and the peak RSS of the command's process tree sampled every 10 ms; the import's own memory is that peak
minus the zero-row run's (as issue 16 defines it). The SQL limit is import_benchmark.py's, on this shape:
COPY out of the source into a staging table and one ``INSERT … SELECT DISTINCT ON (id) … ON CONFLICT (id)
DO UPDATE … WHERE … IS DISTINCT FROM …`` into a table with the source's columns (unique id, indexes on
email and phone), in one transaction. Prints figures and ratios; never asserts.
"""

from __future__ import annotations

import argparse
import io
import os
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import psycopg
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
import import_benchmark as bench  # throwaway databases, CHECKPOINT

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW = Path(sys.executable).with_name("airflow")
NAME = "bench_dags_test"
COLUMNS = (
    "id bigint PRIMARY KEY, email text, phone text, first_name text, last_name text, birthday text, "
    "gender text, last_ip text, tier text, interests text, ltv double precision, opt_in text, "
    "last_order_at text, city text, country text"
)
NAMES = [c.split()[0] for c in COLUMNS.split(", ")]
DATABASE = ROOT / "include" / "profile_databases" / "customers.yaml"


def make_source(uri: str, rows: int, folder: Path) -> None:
    """The demo generator's rows (SQLite), copied into PostgreSQL with the same column types."""
    demo = folder / "demo.db"
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_demo_source.py"), str(demo), "--rows", str(rows)],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    with sqlite3.connect(demo) as lite, psycopg.connect(uri, autocommit=True) as pg:
        pg.execute(f"CREATE TABLE customers ({COLUMNS})")
        with pg.cursor().copy(f"COPY customers ({', '.join(NAMES)}) FROM STDIN") as copy:
            for row in lite.execute(f"SELECT {', '.join(NAMES)} FROM customers ORDER BY id"):
                copy.write_row(row)
        pg.execute("VACUUM ANALYZE customers")


def write_spec(folder: Path) -> None:
    spec: dict[str, Any] = yaml.safe_load((ROOT / "include/import_specs/demo_crm_customers.yaml").read_text())
    spec["name"] = NAME
    spec["source"]["conn_id"] = "bench_source"
    spec["source"]["query"] = spec["source"]["query"].replace("LIMIT 30000", "").strip()
    spec["schedule"] = {"plan": "manual"}
    spec["reports"]["max_error_rate"] = 0.5
    folder.mkdir()
    (folder / f"{NAME}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))


class TreeRss:
    """The peak RSS of a process and its descendants, sampled every 10 ms."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak = 0
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self.root.is_running():
            try:
                tree = [self.root, *self.root.children(recursive=True)]
                self.peak = max(self.peak, sum(p.memory_info().rss for p in tree))
            except psutil.Error:
                pass
            time.sleep(0.01)


def airflow(env: dict[str, str], *args: str) -> tuple[float, int, str]:
    """Run ``airflow ARGS``; (seconds, peak RSS of its process tree, output)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [str(AIRFLOW), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    rss = TreeRss(process.pid)
    output, _ = process.communicate()
    seconds = time.perf_counter() - start
    text = output.decode("utf-8", "replace")
    if process.returncode:
        raise SystemExit(f"airflow {' '.join(args)} failed ({process.returncode}):\n{text[-4000:]}")
    return seconds, rss.peak, text


def sql_limit(source_uri: str, store_uri: str) -> float:
    """COPY out/in and one INSERT … ON CONFLICT, as import_benchmark.py's limit, on this shape."""
    payload = NAMES[1:]
    changed = ", ".join(f"{c} = excluded.{c}" for c in payload)
    stored, new = ", ".join(f"t.{c}" for c in payload), ", ".join(f"excluded.{c}" for c in payload)
    differs = f"({stored}) IS DISTINCT FROM ({new})"
    start = time.perf_counter()
    with psycopg.connect(source_uri) as src, psycopg.connect(store_uri) as dst:
        dst.execute(f"CREATE TEMPORARY TABLE stage ({COLUMNS.replace(' PRIMARY KEY', '')})")
        with (
            src.cursor().copy(
                f"COPY (SELECT {', '.join(NAMES)} FROM customers ORDER BY id) TO STDOUT"
            ) as out,
            dst.cursor().copy("COPY stage FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        dst.execute(
            f"INSERT INTO limit_profiles AS t SELECT DISTINCT ON (id) * FROM stage ORDER BY id "
            f"ON CONFLICT (id) DO UPDATE SET {changed} WHERE {differs}"
        )
        dst.commit()
    return time.perf_counter() - start


def import_in_process(folder: Path, dbs: bench.Databases) -> bench.Measurement:
    """The import of every row once more, by ``run_import`` in this process (as the operator calls it)
    under import_benchmark.py's phase timers, into the store emptied of the runs before."""
    from customer_import.config import batch_size
    from customer_import.cursor import MemoryCursor
    from customer_import.spec.database import ProfileDatabase
    from customer_import.spec.import_spec import ImportSpec

    with psycopg.connect(dbs.store_uri, autocommit=True) as db:
        db.execute("TRUNCATE customers_profiles, customers_events, customers_rejections")
        db.execute("VACUUM ANALYZE customers_profiles")
    bench.configure_airflow(folder / "airflow", dbs)  # the migrated home of the runs before
    bench.quiet_logs(verbose=False)
    spec = ImportSpec.model_validate(yaml.safe_load((folder / "specs" / f"{NAME}.yaml").read_text()))
    database = ProfileDatabase.model_validate(yaml.safe_load(DATABASE.read_text()))
    bench.checkpoint(dbs)
    print(f"[{time.strftime('%H:%M:%S')}] run_import {NAME} in this process, with the phase timers")
    label = "run_import in this process (creates)"
    return bench.run_ours(label, spec, database, MemoryCursor(0), batch_size())  # as the dags test runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--pg", default=bench.DEFAULT_ADMIN_DSN)
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also run the unchanged re-run once more under cProfile (top 30)",
    )
    parser.add_argument(
        "--profile-run",
        choices=("rerun", "import"),
        default="rerun",
        help="which run --profile repeats: the unchanged re-run (default) or the import into an empty store",
    )
    parser.add_argument(
        "--stages",
        action="store_true",
        help="then import every row once more in this process (run_import, the store emptied) and print "
        "where the time goes, as import_benchmark.py does",
    )
    args = parser.parse_args(argv)
    profile = ""
    stages: bench.Measurement | None = None
    with (
        tempfile.TemporaryDirectory(prefix="customer-import-dags-test-") as temp,
        bench.throwaway_databases(args.pg, keep=False) as dbs,
    ):
        folder = Path(temp)
        print(f"[{time.strftime('%H:%M:%S')}] generating {args.rows:,} demo customers (PostgreSQL copy)")
        make_source(dbs.source_uri, args.rows, folder)
        write_spec(folder / "specs")
        with psycopg.connect(dbs.store_uri, autocommit=True) as db:
            db.execute(f"CREATE TABLE limit_profiles ({COLUMNS})")
            db.execute("CREATE INDEX ON limit_profiles (email)")
            db.execute("CREATE INDEX ON limit_profiles (phone)")
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(folder / "airflow"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{folder}/airflow.db",
            "AIRFLOW__CUSTOMER_IMPORT__SPECS_FOLDER": str(folder / "specs"),
            "AIRFLOW_CONN_BENCH_SOURCE": dbs.source_uri,
            "AIRFLOW_CONN_PROFILE_STORE_DEFAULT": dbs.store_uri,
        }
        print(f"[{time.strftime('%H:%M:%S')}] airflow db migrate")
        airflow(env, "db", "migrate")
        variable = f"customer_import.{NAME}.last_item"
        runs: dict[str, tuple[float, int]] = {}
        for label, cursor in (
            ("zero rows", str(args.rows + 1)),
            ("import (creates)", "0"),
            ("re-run, unchanged", "0"),
        ):
            airflow(env, "variables", "set", variable, cursor)
            bench.checkpoint(dbs)
            print(f"[{time.strftime('%H:%M:%S')}] airflow dags test {NAME}: {label}")
            seconds, peak, _ = airflow(env, "dags", "test", NAME)
            runs[label] = (seconds, peak)
        if args.profile:
            airflow(env, "variables", "set", variable, "0")
            if args.profile_run == "import":
                with psycopg.connect(dbs.store_uri, autocommit=True) as db:
                    for table in ("customers_profiles", "customers_events", "customers_rejections"):
                        db.execute(f"TRUNCATE {table}")
            out = folder / "rerun.prof"
            subprocess.run(
                [sys.executable, "-m", "cProfile", "-o", str(out), str(AIRFLOW), "dags", "test", NAME],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            text = io.StringIO()
            pstats.Stats(str(out), stream=text).sort_stats("tottime").print_stats(30)
            profile = text.getvalue()
        if args.stages:
            stages = import_in_process(folder, dbs)
        bench.checkpoint(dbs)
        limit = sql_limit(dbs.source_uri, dbs.store_uri)
        with psycopg.connect(dbs.store_uri) as db:
            stored = db.execute("SELECT count(*) FROM customers_profiles").fetchone()
    base_seconds, base_peak = runs["zero rows"]
    print(f"\nrows: {args.rows:,}; profiles stored: {stored[0] if stored else 0:,}; SQL limit: {limit:.1f} s")
    print(f"  {'run':<20} {'wall':>8} {'import':>8} {'x limit':>8} {'peak RSS':>9} {'own RSS':>8}")
    for label, (seconds, peak) in runs.items():
        own = seconds - base_seconds
        ratio = f"{limit / own:8.2f}" if label != "zero rows" and own > 0 else f"{'':8}"
        print(
            f"  {label:<20} {seconds:7.1f}s {own:7.1f}s {ratio} {peak / 2**20:8.0f}M "
            f"{(peak - base_peak) / 2**20:7.0f}M"
        )
    print("(import = wall minus the zero-row run's; own RSS = peak minus the zero-row run's peak)")
    if stages is not None:
        print(f"\nin this process (run_import, the same spec, an emptied store): {stages.seconds:.1f} s")
        bench._details(stages)
        bench.print_phases(stages, limit)
    if profile:
        which = "unchanged re-run" if args.profile_run == "rerun" else "import into an empty store"
        print(f"\ncProfile of the {which} (airflow dags test, whole process), top 30 by own time:")
        print(profile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
