#!/usr/bin/env bash
# The date-bomb check: run the tests with this process's clock moved 1 day, 1 year and 5 years ahead
# (tests/conftest.py reads CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS and moves the clock with time-machine).
# A test that passes today and fails next week fails here today. Unit tests at every shift (they hold the
# schedules, timetables, the deploy run, the cursor and the report); integration and end-to-end tests
# (cursor, importer, dag.test runs) at the 5-year shift.
set -euo pipefail
cd "$(dirname "$0")/.."
for days in 1 365; do
  echo "== clock shifted ${days} day(s) ahead"
  CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS=$days .venv/bin/python -m pytest tests/unit -q -p no:cacheprovider "$@"
done
echo "== clock shifted 1826 days (5 years) ahead"
CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS=1826 .venv/bin/python -m pytest tests/unit tests/integration tests/e2e \
  -q -p no:cacheprovider -m "not deploy" "$@"
