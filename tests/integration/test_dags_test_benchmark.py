"""benchmarks/dags_test_benchmark.py runs end to end on a few hundred demo rows (its figures are not
checked: a benchmark prints, it never asserts a duration): three real ``airflow dags test`` runs, then
``--stages``' in-process import with every mapped field's column path timed."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO
from tests.integration.benchmark_runs import run_benchmark

ROWS = 300


def test_stages_time_every_mapped_field_of_the_demo_spec() -> None:
    out = run_benchmark("dags_test_benchmark.py", "--rows", str(ROWS), "--stages")
    stored = re.search(r"profiles stored: ([\d,]+)", out)
    assert stored is not None, out
    # Wall and import seconds (the import is the wall minus the zero-row run's: at 300 rows it may be < 0).
    assert re.search(r"^  import \(creates\) +[\d.]+s +-?[\d.]+s ", out, re.MULTILINE), out
    assert re.search(r"^  re-run, unchanged +[\d.]+s ", out, re.MULTILINE), out
    # The in-process import wrote into the emptied store what `airflow dags test` wrote before it.
    again = re.search(r"in this process .*\n +read (\d+), created (\d+)", out)
    assert again is not None, out
    assert int(again[1]) == ROWS and int(again[2]) == int(stored[1].replace(",", "")) > 0
    spec = yaml.safe_load((REPO / "include/import_specs/demo_crm_customers.yaml").read_text())
    timed = set(re.findall(r"\(inside map \+ validate\) field (\w+): its column path", out))
    assert timed == {item["field"] for item in spec["mapping"]}, out
    assert "not timed" not in out
    assert re.search(r"write thread: WITH r AS MATERIALIZED", out), out
