"""Real ``airflow dags test`` processes killed with SIGKILL, and the store compared with a reference run.

Each import series gets its own Airflow home (a copy of one migrated SQLite metadata DB, so its own cursor
Variable), its own specs folder and its own store (a PostgreSQL database or an embedded SQLite file). The
processes get ``tests/faults/inject`` on their ``PYTHONPATH``: its ``sitecustomize`` wraps product functions
at import and, under ``CUSTOMER_IMPORT_FAULT=<point>:<n>``, kills the process group at that point; its trace
file tells when the import started and what ran when a process was killed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
AIRFLOW = Path(sys.executable).parent / "airflow"
INJECT = Path(__file__).resolve().parent / "inject"
DAG_ID = "fault_import"
VARIABLE = f"customer_import.{DAG_ID}.last_item"
PROCESS_TIMEOUT = 420.0
# Profile columns the store generates (never compared): ids and times of writing.
GENERATED = {"profile_id", "created_at", "updated_at"}


@dataclass
class Kill:
    """One kill instant of a series and what the series looked like after its final run."""

    series: str
    store: str
    fault: str  # "<point>:<n>" or "random:<seconds after the import started>"
    running: str = ""  # the last steps the process reached before it died
    killed: bool = False
    seconds: float = 0.0  # process lifetime


@dataclass
class Outcome:
    lost: int = 0
    duplicated: int = 0
    differing: int = 0
    details: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.differing or self.details)


@dataclass
class Home:
    """An Airflow home for one import series: metadata DB, specs folder, environment."""

    root: Path
    env: dict[str, str]
    fernet_key: str

    @property
    def metadata(self) -> Path:
        return self.root / "airflow.db"

    def cursor_value(self) -> str | None:
        import sqlite3

        from cryptography.fernet import Fernet

        with contextlib.closing(sqlite3.connect(self.metadata)) as db:
            row = db.execute("SELECT val, is_encrypted FROM variable WHERE key = ?", (VARIABLE,)).fetchone()
        if row is None:
            return None
        value, encrypted = row
        return Fernet(self.fernet_key.encode()).decrypt(value.encode()).decode() if encrypted else value

    def dag_runs(self) -> Counter[str]:
        import sqlite3

        with contextlib.closing(sqlite3.connect(self.metadata)) as db:
            rows = db.execute(
                "SELECT state, count(*) FROM dag_run WHERE dag_id = ? GROUP BY state", (DAG_ID,)
            )
            return Counter({str(state): int(n) for state, n in rows})


def base_env(root: Path, fernet_key: str) -> dict[str, str]:
    """The environment of every child process: this process's, without its Airflow set-up."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "CUSTOMER_IMPORT_"))
        and k not in {"PYTHONPATH", "PYTEST_CURRENT_TEST"}
    }
    env.update(
        {
            "AIRFLOW_HOME": str(root),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root}/airflow.db",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__CORE__FERNET_KEY": fernet_key,
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "PYTHONPATH": str(INJECT),
        }
    )
    return env


def migrate_template(root: Path, fernet_key: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [str(AIRFLOW), "db", "migrate"],
        env=base_env(root, fernet_key),
        check=True,
        capture_output=True,
        timeout=PROCESS_TIMEOUT,
    )
    return root / "airflow.db"


def make_home(root: Path, template: Path, fernet_key: str, spec: dict[str, Any], env: dict[str, str]) -> Home:
    """A fresh home: the migrated metadata DB copied, the spec and the repo's profile databases."""
    (root / "specs").mkdir(parents=True)
    shutil.copytree(REPO / "include" / "profile_databases", root / "databases")
    shutil.copy(template, root / "airflow.db")
    (root / "specs" / f"{DAG_ID}.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    full = base_env(root, fernet_key)
    full.update(
        {
            "AIRFLOW__CUSTOMER_IMPORT__SPECS_FOLDER": str(root / "specs"),
            "AIRFLOW__CUSTOMER_IMPORT__DATABASES_FOLDER": str(root / "databases"),
            "AIRFLOW__CUSTOMER_IMPORT__BATCH_SIZE": "10000",
            "AIRFLOW__CUSTOMER_IMPORT__RETRIES": "0",
            **env,
        }
    )
    return Home(root, full, fernet_key)


def _trace_lines(path: Path) -> list[tuple[float, str]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        stamp, _, step = line.partition(" ")
        with contextlib.suppress(ValueError):
            out.append((float(stamp), step))
    return out


def run_dag(
    home: Home,
    label: str,
    *,
    fault: str = "",
    delay: float | None = None,
    extra_env: dict[str, str] | None = None,
) -> tuple[int, list[tuple[float, str]], float]:
    """Run ``airflow dags test`` in its own process group. ``fault``: a named kill point (the child kills
    itself there); ``delay``: kill the group that many seconds after the import started. Return the exit
    status (negative: the signal), the trace and the process's lifetime."""
    trace = home.root / f"trace-{label}.txt"
    log = home.root / f"log-{label}.txt"
    env = dict(home.env)
    env["CUSTOMER_IMPORT_FAULT_TRACE"] = str(trace)
    if fault:
        env["CUSTOMER_IMPORT_FAULT"] = fault
    env.update(extra_env or {})
    started = time.monotonic()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(AIRFLOW), "dags", "test", DAG_ID],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=home.root,
        )
        try:
            if delay is not None:
                while process.poll() is None and not any(s == "import-start" for _, s in _trace_lines(trace)):
                    if time.monotonic() - started > PROCESS_TIMEOUT:
                        raise TimeoutError(f"{label}: the import did not start; see {log}")
                    time.sleep(0.05)
                time.sleep(delay)
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGKILL)
            status = process.wait(timeout=PROCESS_TIMEOUT)
        finally:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return status, _trace_lines(trace), time.monotonic() - started


def what_ran(trace: list[tuple[float, str]]) -> str:
    """The last steps before the end of a trace, newest last (cursor values left out)."""
    steps = [s for _, s in trace if not s.startswith("cursor=")]
    if steps and steps[-1].startswith("KILL "):
        steps = steps[:-1]
    return " > ".join(steps[-2:]) if steps else "airflow start-up (import not started)"


# -- reading and comparing stores ---------------------------------------------------------------------


@dataclass
class StoreContent:
    profiles: list[tuple[Any, ...]]  # business columns, email first
    subscriptions: list[tuple[Any, ...]]  # email, resource, channel, contact, provider, status
    events: list[tuple[Any, ...]]  # email (None: no such profile), event_type, import_name
    tables: set[str]
    running_markers: list[str]


def read_store(connect: Callable[[], Any], is_pg: bool) -> StoreContent:
    with contextlib.closing(connect()) as db:
        cur = db.cursor()
        cur.execute("SELECT * FROM customers_profiles WHERE 1 = 0")
        columns = [d[0] for d in cur.description if d[0] not in GENERATED]
        columns.remove("email")
        columns.insert(0, "email")
        cur.execute(f"SELECT {', '.join(columns)} FROM customers_profiles")
        profiles = [tuple(_plain(v) for v in row) for row in cur.fetchall()]
        cur.execute(
            "SELECT p.email, s.resource, s.channel, s.contact, s.provider, s.status "
            "FROM customers_subscriptions s LEFT JOIN customers_profiles p ON p.profile_id = s.profile_id"
        )
        subscriptions = [tuple(row) for row in cur.fetchall()]
        cur.execute(
            "SELECT p.email, e.event_type, e.import_name "
            "FROM customers_events e LEFT JOIN customers_profiles p ON p.profile_id = e.profile_id"
        )
        events = [tuple(row) for row in cur.fetchall()]
        if is_pg:
            cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        else:
            cur.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
        tables = {str(r[0]) for r in cur.fetchall()}
        markers = []
        for table in sorted(tables):
            cur.execute(f'SELECT * FROM "{table}" WHERE 1 = 0')
            names = [d[0] for d in cur.description]
            for column in ("state", "status"):
                if column in names and table != "customers_subscriptions":
                    cur.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}" = \'running\'')
                    if n := cur.fetchone()[0]:
                        markers.append(f"{table}.{column} = 'running': {n} row(s)")
        if is_pg:
            db.rollback()
    return StoreContent(profiles, subscriptions, events, tables, markers)


def _plain(value: Any) -> Any:
    if isinstance(value, memoryview | bytearray):
        return bytes(value)
    return value


def _diff_keyed(
    name: str, expected: list[tuple[Any, ...]], got: list[tuple[Any, ...]], key_len: int
) -> Outcome:
    """Rows keyed by their first ``key_len`` values: missing keys, keys more than once, other values."""
    outcome = Outcome()
    want = Counter(row[:key_len] for row in expected)
    have = Counter(row[:key_len] for row in got)
    outcome.lost = sum((want - have).values())
    outcome.duplicated = sum((have - want).values())
    by_key_want = {row[:key_len]: row for row in expected}
    by_key_have = {row[:key_len]: row for row in got}
    differing = [k for k in by_key_want.keys() & by_key_have.keys() if by_key_want[k] != by_key_have[k]]
    outcome.differing = len(differing)
    for key in sorted(differing, key=repr)[:3]:
        outcome.details.append(f"{name} {key}: expected {by_key_want[key]}, got {by_key_have[key]}")
    for label, keys in (("missing", want - have), ("extra", have - want)):
        if keys:
            outcome.details.append(f"{name} {label}: {sorted(keys, key=repr)[:3]}")
    return outcome


def compare(reference: StoreContent, got: StoreContent) -> dict[str, Outcome]:
    profiles = _diff_keyed("profile", reference.profiles, got.profiles, 1)
    subscriptions = _diff_keyed("subscription", reference.subscriptions, got.subscriptions, 4)
    events = Outcome()
    want, have = Counter(reference.events), Counter(got.events)
    events.lost = sum((want - have).values())
    events.duplicated = sum((have - want).values())
    if events.lost or events.duplicated:
        events.details.append(
            f"events missing {sorted((want - have).items(), key=repr)[:3]}, "
            f"extra {sorted((have - want).items(), key=repr)[:3]}"
        )
    orphans = sum(1 for e in got.events if e[0] is None) + sum(1 for s in got.subscriptions if s[0] is None)
    if orphans:
        events.details.append(f"{orphans} event(s)/subscription(s) without their profile")
    state = Outcome()
    if got.tables != reference.tables:
        state.details.append(
            f"store tables differ: extra {got.tables - reference.tables}, missing {reference.tables - got.tables}"
        )
    if leftovers := sorted(t for t in got.tables if t.startswith("customer_import_stage")):
        state.details.append(f"stage tables left: {leftovers}")
    state.details.extend(got.running_markers)
    return {"profiles": profiles, "subscriptions": subscriptions, "events": events, "state": state}


def pg_connect(uri: str) -> Callable[[], Any]:
    def connect() -> Any:
        import psycopg

        return psycopg.connect(uri)

    return connect


def sqlite_connect(path: Path) -> Callable[[], Any]:
    def connect() -> Any:
        import sqlite3

        return sqlite3.connect(path)

    return connect


def pg_leftovers(uri: str, wait: float = 15.0) -> list[str]:
    """Advisory locks and temporary stage tables still held in the store database (a killed client's
    backend ends when PostgreSQL notices the closed socket: wait a little for it)."""
    import psycopg

    name = uri.rsplit("/", 1)[1]
    admin = uri.rsplit("/", 1)[0] + "/postgres"
    deadline = time.monotonic() + wait
    while True:
        with psycopg.connect(admin, autocommit=True) as db:
            locks = db.execute(
                "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
                "WHERE l.locktype = 'advisory' AND d.datname = %s",
                (name,),
            ).fetchone()
            sessions = db.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            ).fetchone()
        with psycopg.connect(uri, autocommit=True) as db:
            stages = db.execute(
                "SELECT count(*) FROM pg_class WHERE relname LIKE 'customer_import_stage%%'"
            ).fetchone()
        found = []
        if locks and locks[0]:
            found.append(f"{locks[0]} advisory lock(s) held")
        if stages and stages[0]:
            found.append(f"{stages[0]} stage table(s) left")
        if sessions and sessions[0]:
            found.append(f"{sessions[0]} session(s) still connected")
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.25)


@contextlib.contextmanager
def pg_databases(admin_dsn: str, names: list[str]) -> Iterator[dict[str, str]]:
    import psycopg

    server = admin_dsn.rsplit("/", 1)[0]
    with psycopg.connect(admin_dsn, autocommit=True) as admin:
        for name in names:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield {name: f"{server}/{name}" for name in names}
        finally:
            for name in names:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
