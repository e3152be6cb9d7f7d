#!/usr/bin/env bash
# The date-bomb check: run the tests with this process's clock moved 1 day, 1 year and 5 years ahead
# (tests/conftest.py reads CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS and moves the clock with time-machine).
# A test that passes today and fails next week fails here today.
# At 1 day and 1 year: every unit-test module that touches dates, schedules, timetables, the deploy run,
# the cursor, the report, the factory or the importer (found by grep, so a new such module is included).
# At 5 years: the unit, integration and end-to-end tests (cursor, importer, dag.test runs).
# Property-based tests draw fewer examples here: this stage looks for date bombs, not for new inputs.
set -euo pipefail
cd "$(dirname "$0")/.."
export CUSTOMER_IMPORT_PROPERTY_EXAMPLES=${CUSTOMER_IMPORT_PROPERTY_EXAMPLES:-300}
mapfile -t dated < <(grep -lE \
  'customer_import\.(schedule|cursor|report|factory|importer)|timetable|time_machine|pendulum|datetime|date\.today|now\(' \
  tests/unit/test_*.py)
for days in 1 365; do
  echo "== clock shifted ${days} day(s) ahead: ${#dated[@]} unit-test modules that touch dates"
  CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS=$days .venv/bin/python -m pytest "${dated[@]}" -q -p no:cacheprovider "$@"
done
echo "== clock shifted 1826 days (5 years) ahead"
# Left out there: the error-path tests that start many Airflow processes and look at no date (outages,
# retry classes, secrets); they run once, in scripts/test.sh.
CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS=1826 .venv/bin/python -m pytest tests/unit tests/integration tests/e2e \
  -q -p no:cacheprovider -m "not deploy and not faults" \
  --ignore=tests/e2e/test_outages.py --ignore=tests/e2e/test_retry_classes.py --ignore=tests/e2e/test_secrets.py "$@"
