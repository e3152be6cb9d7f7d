"""Airflow DAG file: every import spec in include/import_specs/ becomes one DAG.

(Airflow's safe mode parses files that mention both "airflow" and "dag"; this docstring does.)
See customer_import.factory for how a spec becomes a DAG.
"""

from pathlib import Path

from customer_import.factory import build_dags

build_dags(globals(), project_dir=Path(__file__).resolve().parent.parent)
