#!/usr/bin/env bash
# The console on the demo's Airflow home: run scripts/demo.sh first, then this; open http://localhost:8080,
# log in as admin (the password Airflow's SimpleAuthManager generated is printed below) and choose
# "Customer imports" in the navigation.
set -euo pipefail
cd "$(dirname "$0")/.."
DEMO=$PWD/.demo
[ -f "$DEMO/airflow/airflow.db" ] || { echo "no demo yet: run bash scripts/demo.sh first" >&2; exit 1; }
export AIRFLOW_HOME=$DEMO/airflow
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=sqlite:///$DEMO/airflow/airflow.db
export AIRFLOW__CORE__DAGS_FOLDER=$PWD/dags
export AIRFLOW__CUSTOMER_IMPORT__EMBEDDED_STORE_PATH=$DEMO/profiles.db
export AIRFLOW_CONN_DEMO_CRM_SQLITE=sqlite:///$DEMO/crm.db
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}
PORT=${PORT:-8080}
.venv/bin/airflow api-server --port "$PORT" > "$DEMO/api-server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
for _ in $(seq 60); do
  curl -fs "http://127.0.0.1:$PORT/api/v2/monitor/health" > /dev/null 2>&1 && break
  sleep 1
done
echo "console: http://localhost:$PORT/customer-imports/ui (in the Airflow UI: Customer imports)"
echo "login: admin / $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["admin"])' \
  "$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated" 2>/dev/null || echo '(see the api-server log)')"
echo "api-server log: $DEMO/api-server.log; Ctrl-C stops it"
wait $server
