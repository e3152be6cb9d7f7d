#!/usr/bin/env bash
# Install and start what the tests need beside PostgreSQL and MariaDB (which the machine starts, and
# which are restarted here if they stopped): ClickHouse from Debian's clickhouse-server package, and
# Debian's chromium for the browser tests.
# Idempotent; each step is skipped when already done. Run as root (CI) or with passwordless sudo.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo -n"

need=()
[ -x /usr/sbin/clickhouse-server ] || need+=(clickhouse-server)
command -v clickhouse-client >/dev/null 2>&1 || need+=(clickhouse-client)
# The browser tests (tests/console) drive Debian's chromium with playwright: no browser download.
[ -x /usr/bin/chromium ] || need+=(chromium fonts-liberation)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing Debian packages: ${need[*]}"
  $SUDO apt-get update -q >/dev/null || true
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q "${need[@]}" >/dev/null
fi

# PostgreSQL and MariaDB are started by the machine; start them again if they stopped.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null && command -v pg_ctlcluster >/dev/null 2>&1; then
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
if ! (echo > /dev/tcp/127.0.0.1/3306) 2>/dev/null && [ -x /usr/sbin/mariadbd ]; then
  $SUDO start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd || true
fi

bash scripts/start_clickhouse.sh
