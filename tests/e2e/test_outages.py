"""Outages through the real operator (``dag.test()``): a throwaway PostgreSQL server (``initdb`` and
``pg_ctl`` in a temporary folder, on a free port) is the source in one test and the profile store in the
other, and is stopped (``pg_ctl stop -m immediate``, as a crash or a power cut would) once the first
batch is committed. The task fails with an error Airflow retries (not ``AirflowFailException``) that
names the connection and the cause; what the store holds is whole batches, exactly what the cursor says;
with the server started again, the next run completes and the store holds every row once.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from airflow.sdk.exceptions import AirflowFailException

from customer_import.operators.import_profiles import SourceUnavailableError, StoreUnavailableError
from tests.conftest import IN_CI, airflow_conn_env
from tests.e2e.conftest import variable
from tests.e2e.outcome import gated_source, in_background, run

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

ROWS = 600
BATCH = 100
GATE_ROW = 301  # the source waits before this row until the test lets it go on
LOCK_KEY = 4343
SOURCE_DDL = gated_source(ROWS, GATE_ROW, LOCK_KEY)
SPEC: dict[str, Any] = {
    "name": "outage",
    "target": {"database": "customers", "matching": {"by": "email_profile"}},
    "source": {
        "conn_id": "pg_src",
        "table": "customers",
        "query": "SELECT gate(id) AS id, email FROM customers WHERE id > {lastItem} ORDER BY customers.id",
        "cursor": {"column": "id", "start_value": 0},
    },
    "mapping": [{"field": "crm_id", "column": "id"}, {"field": "email", "column": "email"}],
}


@dataclass
class Cluster:
    """A PostgreSQL server of our own: stopped and started by the test."""

    bin: Path
    data: Path
    port: int
    as_postgres: bool

    @property
    def uri(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_postgres:  # initdb refuses to run as root
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data.parent} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.data.parent / "log"), "-w", "start"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb")) or [shutil.which("initdb") or ""]
    if not found[-1]:
        message = "initdb and pg_ctl (the PostgreSQL server's binaries) are not installed"
        if IN_CI:
            pytest.fail(f"{message}; CI=true requires them", pytrace=False)
        pytest.skip(message)
    as_postgres = os.geteuid() == 0
    folder = Path(tempfile.mkdtemp(prefix="customer-import-outage-"))
    if as_postgres:
        shutil.chown(folder, "postgres")
    server = Cluster(Path(found[-1]).parent, folder / "data", _free_port(), as_postgres)
    server._run("initdb", "-D", str(server.data), "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8")
    server.start()
    try:
        yield server
    finally:
        with suppress(subprocess.CalledProcessError):  # stopped already
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _until(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {timeout}s for {what}")
        time.sleep(0.02)


def _crm_ids(store_uri: str) -> list[int]:
    """The crm_id of every stored profile (a profile once per row of the source, or a duplicate shows)."""
    try:
        with psycopg.connect(store_uri, connect_timeout=5) as db:
            return [r[0] for r in db.execute("SELECT crm_id FROM customers_profiles ORDER BY crm_id")]
    except psycopg.errors.UndefinedTable:
        return []


def _assert_whole_batches_as_the_cursor_says(store_uri: str) -> int:
    ids = _crm_ids(store_uri)
    count = len(ids)
    assert count > 0 and count % BATCH == 0, count  # whole batches only: nothing half-written
    assert ids == list(range(1, count + 1))  # no gap, no duplicate
    cursor = int(variable("customer_import.outage.last_item") or 0)
    # The cursor never passes an uncommitted row; it may stay on the last committed value (decision 0006).
    assert count - 1 <= cursor <= count, (cursor, count)
    return cursor


def _assert_every_row_once(store_uri: str) -> None:
    with psycopg.connect(store_uri) as db:
        rows = db.execute("SELECT crm_id, email FROM customers_profiles ORDER BY crm_id").fetchall()
    assert rows == [(i, f"user{i}@example.com") for i in range(1, ROWS + 1)]  # 0 lost, 0 duplicated
    assert variable("customer_import.outage.last_item") == str(ROWS)


def test_the_source_server_stops_mid_run(
    project: Any, cluster: Cluster, pg_conn: Callable[[str], str], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = pg_conn("profile_store_default")
    monkeypatch.setenv(airflow_conn_env("pg_src"), cluster.uri)
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__BATCH_SIZE", str(BATCH))
    with psycopg.connect(cluster.uri, autocommit=True) as db:
        db.execute(SOURCE_DDL)
    project(SPEC)
    gate = psycopg.connect(cluster.uri, autocommit=True)
    gate.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))

    def stop_the_source_after_the_first_batch() -> None:
        try:
            _until(lambda: len(_crm_ids(store)) >= BATCH, "the first batch to be committed")
        except TimeoutError:
            gate.close()  # let the run end
            raise
        cluster.stop()

    with in_background(stop_the_source_after_the_first_batch) as errors:
        outcome = run("outage")
    assert not errors, errors
    assert outcome.state == "failed"
    assert [(r.task_id, type(r.error)) for r in outcome.raised] == [
        ("import_profiles", SourceUnavailableError)
    ]
    message = outcome.raised[0].message
    assert not isinstance(outcome.raised[0].error, AirflowFailException)
    assert message.startswith(
        "source connection 'pg_src' (postgres) is unavailable (Airflow retries the task) while reading rows: "
    ), message
    causes = ("immediate shutdown", "server closed the connection", "the connection is lost")
    assert any(cause in message for cause in causes), message

    _assert_whole_batches_as_the_cursor_says(store)
    cluster.start()
    again = run("outage")
    assert again.state == "success", again.raised
    _assert_every_row_once(store)


def test_the_store_server_stops_mid_run(
    project: Any, cluster: Cluster, pg_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(airflow_conn_env("pg_src"), pg_database)
    monkeypatch.setenv(airflow_conn_env("profile_store_default"), cluster.uri)
    monkeypatch.setenv("AIRFLOW__CUSTOMER_IMPORT__BATCH_SIZE", str(BATCH))
    with psycopg.connect(pg_database, autocommit=True) as db:
        db.execute(SOURCE_DDL)
    project(SPEC)
    gate = psycopg.connect(pg_database, autocommit=True)
    gate.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))

    def stop_the_store_after_the_first_batch() -> None:
        try:
            _until(lambda: len(_crm_ids(cluster.uri)) >= BATCH, "the first batch to be committed")
            cluster.stop()
        finally:
            gate.close()  # the source goes on: the next write meets the stopped store

    try:
        with in_background(stop_the_store_after_the_first_batch) as errors:
            outcome = run("outage")
    finally:
        gate.close()
    assert not errors, errors
    assert outcome.state == "failed"
    assert [(r.task_id, type(r.error)) for r in outcome.raised] == [
        ("import_profiles", StoreUnavailableError)
    ]
    message = outcome.raised[0].message
    assert message.startswith(
        "profile store connection 'profile_store_default' (postgres) is unavailable while "
    ), message
    causes = ("immediate shutdown", "server closed the connection", "the connection is lost")
    assert any(cause in message for cause in causes), message

    cluster.start()
    _assert_whole_batches_as_the_cursor_says(cluster.uri)
    again = run("outage")
    assert again.state == "success", again.raised
    _assert_every_row_once(cluster.uri)
