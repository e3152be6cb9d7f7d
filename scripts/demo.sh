#!/usr/bin/env bash
# The demo, end to end on the embedded default: a generated SQLite "CRM" of 60,000 customers (some rows
# deliberately bad) is imported into the embedded SQLite profile store by the demo_crm_customers DAG,
# run twice with Airflow's dag.test() on a local SQLite metadata DB, showing the cursor advancing; then the
# cursor is rewound by hand and a third run finds the same profiles unchanged (nothing rewritten).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
DEMO=$PWD/.demo
rm -rf "$DEMO" && mkdir -p "$DEMO/airflow"
export AIRFLOW_HOME=$DEMO/airflow
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$DEMO/airflow/airflow.db
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CUSTOMER_IMPORT__EMBEDDED_STORE_PATH=$DEMO/profiles.db
export AIRFLOW_CONN_DEMO_CRM_SQLITE=sqlite:///$DEMO/crm.db
.venv/bin/python scripts/make_demo_source.py "$DEMO/crm.db" --rows 60000
.venv/bin/customer-import validate include/import_specs
echo "migrating the Airflow metadata DB ($AIRFLOW__DATABASE__SQL_ALCHEMY_CONN) ..."
.venv/bin/airflow db migrate > "$DEMO/airflow-db-migrate.log" 2>&1
.venv/bin/python scripts/demo.py demo_crm_customers --runs 2 --rewind-to 0 --log "$DEMO/dag-test.log"
echo
echo "stored profiles: $(.venv/bin/customer-import profiles export --database customers 2>/dev/null | wc -l)" \
     "(customer-import profiles export --database customers; embedded store $DEMO/profiles.db)"
