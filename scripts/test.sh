#!/usr/bin/env bash
# Run the whole test suite (unit, integration on the real servers, end-to-end with Airflow).
# Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth); under CI=true a missing server fails.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh
.venv/bin/ruff check provider tests dags scripts
.venv/bin/ruff format --check provider tests dags scripts
.venv/bin/mypy
.venv/bin/python -m pytest "$@"
