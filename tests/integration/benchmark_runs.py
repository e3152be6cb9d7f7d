"""Running a benchmark script as its user would, for the tests that check it runs end to end."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import PG_DSN, REPO


def run_benchmark(script: str, *args: str) -> str:
    """``benchmarks/<script> ARGS`` in a child process on the suite's PostgreSQL server; its output, once
    it has exited with 0. The benchmark configures its own Airflow (a temporary home): none of the
    suite's settings reach it."""
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=REPO,
        env={
            **{k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")},
            "CUSTOMER_IMPORT_BENCH_PG": PG_DSN,
        },
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout
