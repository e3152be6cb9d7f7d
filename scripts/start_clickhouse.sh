#!/usr/bin/env bash
# Start a ClickHouse server for the tests on 127.0.0.1:9000 (native) / 8123 (HTTP), data in
# ${CLICKHOUSE_DATA:-/tmp/customer-import-clickhouse}; does nothing when one already answers on 9000.
set -euo pipefail
answering() { (echo > /dev/tcp/127.0.0.1/9000) 2>/dev/null; }
if answering; then echo "ClickHouse already answers on 127.0.0.1:9000"; exit 0; fi
SERVER=/usr/sbin/clickhouse-server
[ -x "$SERVER" ] || SERVER=$(command -v clickhouse-server || true)
if [ -z "$SERVER" ]; then echo "clickhouse-server is not installed (scripts/services.sh installs it)" >&2; exit 1; fi
DATA=${CLICKHOUSE_DATA:-/tmp/customer-import-clickhouse}
mkdir -p "$DATA/data" "$DATA/log"
nohup "$SERVER" --config-file=/etc/clickhouse-server/config.xml -- \
  --path="$DATA/data/" --logger.log="$DATA/log/server.log" --logger.errorlog="$DATA/log/error.log" \
  > "$DATA/log/stdout.log" 2>&1 &
for _ in $(seq 1 60); do
  if answering; then echo "ClickHouse started on 127.0.0.1:9000 (data $DATA)"; exit 0; fi
  sleep 0.5
done
echo "ClickHouse did not start; see $DATA/log/" >&2
exit 1
