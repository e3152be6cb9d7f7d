"""Run an import DAG with Airflow's dag.test() a few times and print each run's report.

    python scripts/demo.py DAG_ID [--runs 2] [--log FILE]

Airflow's own log lines go to FILE; this prints the summary of every run, the error codes, a few
rejected rows, and the cursor Variable after each run.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def quiet(log: Path) -> Iterator[None]:
    """Send everything written to stdout/stderr (Airflow's task logs) to ``log`` meanwhile."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("a") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)


def report_of(dag_id: str, run_id: str) -> dict[str, Any] | None:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalar(
            select(XComModel.value).where(
                XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.task_id == "import_profiles"
            )
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dag_id")
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--log", type=Path, default=Path("dag-test.log"))
    parser.add_argument(
        "--rewind-to",
        help="after the runs, set the cursor Variable to this value (as an operator would) and run once more",
    )
    args = parser.parse_args()

    from airflow.dag_processing.dagbag import DagBag
    from airflow.models import Variable

    with quiet(args.log):
        bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"import error in {path}:\n{error}", file=sys.stderr)
        return 1
    dag = bag.dags[args.dag_id]
    print(f"DAG {dag.dag_id}: {dag.description}  (Airflow logs: {args.log})")
    failed = False
    key = f"customer_import.{dag.dag_id}.last_item"
    plan = [None] * args.runs + ([args.rewind_to] if args.rewind_to is not None else [])
    for number, rewind in enumerate(plan, start=1):
        if rewind is not None:
            Variable.set(key, rewind)
            print(f"\nrewinding: Variable {key} set to {rewind} by hand; the same rows are read again")
        with quiet(args.log):
            run = dag.test(logical_date=None)
        report = report_of(dag.dag_id, run.run_id)
        print(f"\nrun {number}: {run.run_id} -> {run.state}")
        if report is None:
            print("  no report (see the log)")
            failed = True
            continue
        s = report["summary"]
        print(
            f"  read {s['read']}  created {s['created']}  updated {s['updated']}  unchanged {s['unchanged']}  "
            f"skipped {s['skipped']}  failed {s['failed']}  in {s['duration_seconds']} s"
        )
        print(f"  cursor {s['cursor_before']} -> {s['cursor_after']}")
        if report["error_counts"]:
            codes = ", ".join(f"{code} {n}" for code, n in sorted(report["error_counts"].items()))
            print(f"  rejected by code: {codes}")
            for row in report["rejected"][:3]:
                print(
                    f"    row {row['row']} (id {row['cursor']}) {row['column']}: {row['code']}: {row['message']}"
                )
        print(f"  Variable {key} = {Variable.get(key, default_var=None)}")
        failed = failed or str(run.state) != "success"
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
