"""Test set-up shared by every test: an isolated Airflow home on SQLite, and real database servers.

Airflow reads its configuration when first imported, so the environment is set here, before any test
module imports it. PostgreSQL tests get a throwaway database each (created and dropped around the test).
Without a server they are skipped, except under ``CI=true``, where a missing server fails the run.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
_HOME = Path(tempfile.mkdtemp(prefix="customer-import-tests-"))
os.environ["AIRFLOW_HOME"] = str(_HOME)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_HOME}/airflow.db"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(REPO / "dags")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__CUSTOMER_IMPORT__EMBEDDED_STORE_PATH"] = str(_HOME / "embedded-profiles.db")
os.environ.setdefault("AIRFLOW__CUSTOMER_IMPORT__SPECS_FOLDER", str(REPO / "include" / "import_specs"))
os.environ.setdefault(
    "AIRFLOW__CUSTOMER_IMPORT__DATABASES_FOLDER", str(REPO / "include" / "profile_databases")
)

# Time travel for the whole session (the date-bomb check in .ci/run): CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS=365
# runs every test with this process's clock that many days ahead (time-machine moves time.time,
# datetime.now and what is built on them, pendulum included; the clock keeps ticking). Tests that need a
# fixed "now" freeze it themselves with ``time_machine.travel``, nested inside this shift.
_CLOCK_SHIFT_DAYS = os.environ.get("CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS", "").strip()
if _CLOCK_SHIFT_DAYS:
    import datetime as _dt

    import time_machine

    _SHIFTED_NOW = _dt.datetime.now(_dt.UTC) + _dt.timedelta(days=float(_CLOCK_SHIFT_DAYS))
    time_machine.travel(_SHIFTED_NOW, tick=True).start()


def pytest_report_header() -> str | None:
    if _CLOCK_SHIFT_DAYS:
        return f"clock shifted {_CLOCK_SHIFT_DAYS} days ahead: now is {_SHIFTED_NOW.isoformat()}"
    return None


PG_DSN = os.environ.get("CUSTOMER_IMPORT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(what: str, reason: Exception) -> None:
    message = f"{what} is not reachable ({reason})"
    if IN_CI:
        pytest.fail(f"{message}; CI=true requires it", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database; yields its URI (postgresql://…/<name>) and drops it after."""
    import psycopg

    name = f"ci_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_DSN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable("PostgreSQL", exc)
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_DSN.rsplit("/", 1)[0] + "/" + name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def airflow_conn_env(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


@pytest.fixture
def sqlite_conn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Define an Airflow sqlite connection to a fresh file; returns a function conn_id -> file path."""

    def define(conn_id: str) -> Path:
        path = tmp_path / f"{conn_id}.db"
        monkeypatch.setenv(airflow_conn_env(conn_id), f"sqlite:///{path}")
        return path

    return define


@pytest.fixture
def pg_conn(pg_database: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Define an Airflow postgres connection to the throwaway database; returns conn_id -> URI."""

    def define(conn_id: str) -> str:
        monkeypatch.setenv(airflow_conn_env(conn_id), pg_database)
        return pg_database

    return define


MYSQL_HOST = os.environ.get("CUSTOMER_IMPORT_TEST_MYSQL_HOST", "127.0.0.1")
CLICKHOUSE_HOST = os.environ.get("CUSTOMER_IMPORT_TEST_CLICKHOUSE_HOST", "127.0.0.1")


@pytest.fixture
def mysql_database() -> Iterator[str]:
    """A throwaway MariaDB/MySQL database; yields its Airflow URI and drops it after."""
    import MySQLdb

    name = f"ci_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = MySQLdb.connect(host=MYSQL_HOST, port=3306, user="root", passwd="", connect_timeout=5)
    except MySQLdb.OperationalError as exc:
        _unavailable("MariaDB/MySQL", exc)
    try:
        admin.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        yield f"mysql://root@{MYSQL_HOST}:3306/{name}"
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.close()


def _clickhouse_client() -> object:
    from clickhouse_driver import Client

    return Client(CLICKHOUSE_HOST, port=9000, connect_timeout=5)


@pytest.fixture(scope="session")
def clickhouse_server() -> None:
    """ClickHouse on 127.0.0.1:9000, started by scripts/start_clickhouse.sh when it is not running."""
    import subprocess

    from clickhouse_driver.errors import Error as ClickHouseError

    try:
        _clickhouse_client().execute("SELECT 1")  # type: ignore[attr-defined]
        return
    except (ClickHouseError, OSError, EOFError):
        pass
    started = subprocess.run(
        ["bash", str(REPO / "scripts" / "start_clickhouse.sh")], capture_output=True, text=True
    )
    try:
        _clickhouse_client().execute("SELECT 1")  # type: ignore[attr-defined]
    except (ClickHouseError, OSError, EOFError) as exc:
        _unavailable("ClickHouse", RuntimeError(f"{exc}; {started.stderr.strip()}"))


@pytest.fixture
def clickhouse_database(clickhouse_server: None) -> Iterator[str]:
    """A throwaway ClickHouse database; yields its Airflow URI and drops it after."""
    name = f"ci_test_{uuid.uuid4().hex[:12]}"
    client = _clickhouse_client()
    client.execute(f"CREATE DATABASE {name}")  # type: ignore[attr-defined]
    try:
        yield f"clickhouse://default@{CLICKHOUSE_HOST}:9000/{name}"
    finally:
        client.execute(f"DROP DATABASE IF EXISTS {name}")  # type: ignore[attr-defined]
