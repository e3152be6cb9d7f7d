#!/usr/bin/env bash
# Create .venv (Python 3.11) and install the package with its pinned dependencies (constraints.txt).
# Idempotent: a second call only re-installs when pyproject.toml or constraints.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
# mysqlclient (MySQL/MariaDB sources) builds against libmariadb and needs pkg-config.
if ! dpkg -s pkg-config libmariadb-dev >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  echo "installing Debian packages pkg-config libmariadb-dev (to build mysqlclient) ..."
  $SUDO apt-get update -q >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q pkg-config libmariadb-dev >/dev/null
fi
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install --quiet --upgrade pip
fi
stamp=.venv/.customer-import-installed
want=$(cat pyproject.toml constraints.txt | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "installing airflow-provider-customer-import and its pinned dependencies into .venv ..."
  .venv/bin/python -m pip install --quiet -c constraints.txt -e ".[dev]"
  echo "$want" > "$stamp"
fi
