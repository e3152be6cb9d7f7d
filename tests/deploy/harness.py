"""A real Airflow deployment for tests: PostgreSQL metadata DB, scheduler, dag-processor, api-server and,
for the CeleryExecutor, Celery workers; each an ``airflow`` process in its own process group.

Nothing is shared with the test process's own Airflow set-up (``tests/conftest.py``): the deployment gets
a fresh metadata database, a temporary ``AIRFLOW_HOME`` with the DAG file copied into its dags folder, and
the specs folder the factory reads (``[customer_import] specs_folder``), all passed as ``AIRFLOW__*``
variables. Parsing and scheduling intervals are short, so a spec written to the folder becomes a DAG in
seconds. On request (``statsd=True``, ``lineage=True``) every process also sends Airflow's metrics to a
StatsD listener of the test process (:class:`StatsdListener`) and its OpenLineage events to files of its
own (``lineage/<process>/``), as a deployment configures ``[metrics]`` and ``[openlineage]``. Everything
is reached the way an operator reaches it: the REST API (a JWT from ``POST /auth/token`` under the
SimpleAuthManager) and the ``airflow`` command line.

:meth:`Deployment.stop` ends every process group it started (by pid) and drops the databases it created.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PG_ADMIN = os.environ.get("CUSTOMER_IMPORT_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_SERVER = PG_ADMIN.rsplit("/", 1)[0]
REDIS = os.environ.get("CUSTOMER_IMPORT_TEST_REDIS", "redis://127.0.0.1:6379")
ADMIN = "admin"
STATSD_PREFIX = "deploy"  # [metrics] statsd_prefix of a deployment with statsd=True
LINEAGE_NAMESPACE = "customer-import-deploy"  # [openlineage] namespace of a deployment with lineage=True
T = TypeVar("T")

# A module on the workers' PYTHONPATH: [core] hostname_callable names each Celery worker in the task
# instances it runs (both workers share this machine's hostname).
HOSTNAME_MODULE = """\
import os
import socket


def hostname():
    return os.environ.get("CUSTOMER_IMPORT_WORKER_NAME") or socket.getfqdn()
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], T | None], timeout: float, what: str, every: float = 1.0) -> T:
    """Poll ``check`` until it returns something other than None/False; fail with ``what`` after timeout.

    The timeouts are generous upper bounds (the machine is shared; nothing here measures speed)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            result = check()
            if result is not None and result is not False:
                return result
        except (httpx.HTTPError, OSError) as exc:
            last_error = exc
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"timed out waiting for {what}" + (f" (last error: {last_error})" if last_error else "")
            )
        time.sleep(every)


class StatsdListener:
    """A StatsD server: a UDP socket on a free port of 127.0.0.1 and a thread that keeps every line received
    (a busy scheduler's metrics would otherwise fill the socket's buffer and drop later packets)."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.5)
        self.port = int(self._socket.getsockname()[1])
        self._lines: list[str] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, name="statsd-listener", daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            try:
                packet = self._socket.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._lines.extend(packet.decode(errors="replace").splitlines())

    def lines(self) -> list[str]:
        """Every line received so far, in order of arrival."""
        with self._lock:
            return list(self._lines)

    def close(self) -> None:
        self._closed.set()
        self._thread.join(timeout=5)
        self._socket.close()


@dataclass
class Deployment:
    """One Airflow deployment; create it with :meth:`start`."""

    executor: str
    home: Path
    env: dict[str, str]
    port: int
    meta_db: str
    data_db: str
    workers: list[str] = field(default_factory=list)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    statsd: StatsdListener | None = None
    lineage: bool = False
    _token: str | None = None
    _password: str = ""

    # ------------------------------------------------------------------ life cycle
    @classmethod
    def start(
        cls,
        executor: str = "LocalExecutor",
        *,
        celery_workers: int = 0,
        statsd: bool = False,
        lineage: bool = False,
    ) -> Deployment:
        """``statsd``: ``[metrics]`` pointed at a :class:`StatsdListener` (``.statsd``); ``lineage``: the
        OpenLineage provider's file transport, one folder per process (:meth:`lineage_events`)."""
        key = uuid.uuid4().hex[:10]
        home = Path(tempfile.mkdtemp(prefix=f"customer-import-deploy-{key}-"))
        meta_db, data_db = f"deploy_meta_{key}", f"deploy_data_{key}"
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            admin.execute(f'CREATE DATABASE "{meta_db}"')
            admin.execute(f'CREATE DATABASE "{data_db}"')
        port = free_port()
        listener = StatsdListener() if statsd else None
        env = cls._environment(home, executor, port, f"{PG_SERVER}/{meta_db}", key)
        if listener is not None:
            env |= {
                "AIRFLOW__METRICS__STATSD_ON": "True",
                "AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1",
                "AIRFLOW__METRICS__STATSD_PORT": str(listener.port),
                "AIRFLOW__METRICS__STATSD_PREFIX": STATSD_PREFIX,
            }
        if lineage:  # the transport is set per process by launch()
            env["AIRFLOW__OPENLINEAGE__NAMESPACE"] = LINEAGE_NAMESPACE
        deployment = cls(
            executor=executor,
            home=home,
            env=env,
            port=port,
            meta_db=meta_db,
            data_db=data_db,
            statsd=listener,
            lineage=lineage,
        )
        try:
            deployment._prepare_home()
            deployment.airflow("db", "migrate", timeout=600)
            deployment.launch("scheduler", "scheduler", "--skip-serve-logs")
            deployment.launch("dag-processor", "dag-processor")
            deployment.launch(
                "api-server", "api-server", "--host", "127.0.0.1", "--port", str(port), "-w", "1"
            )
            for n in range(celery_workers):
                deployment.start_worker(f"worker-{'ab'[n] if n < 2 else n}")
            wait_until(deployment._healthy, 600, "the api-server to answer")
        except BaseException:
            deployment.stop()
            raise
        return deployment

    @staticmethod
    def _environment(home: Path, executor: str, port: int, meta_url: str, key: str) -> dict[str, str]:
        from cryptography.fernet import Fernet

        base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
        base["PATH"] = f"{VENV_BIN}{os.pathsep}{base.get('PATH', '')}"
        base["PYTHONPATH"] = os.pathsep.join(filter(None, [str(home / "pythonpath"), base.get("PYTHONPATH")]))
        base.pop("CUSTOMER_IMPORT_CLOCK_SHIFT_DAYS", None)
        api = f"http://127.0.0.1:{port}"
        settings = {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(home / "plugins"),
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",  # Airflow's default, stated
            "AIRFLOW__CORE__MIN_SERIALIZED_DAG_UPDATE_INTERVAL": "1",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{ADMIN}:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{api}/execution/",
            "AIRFLOW__API__BASE_URL": api,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(16),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "600",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "2",
            "AIRFLOW__SCHEDULER__JOB_HEARTBEAT_SEC": "2",
            "AIRFLOW__CUSTOMER_IMPORT__SPECS_FOLDER": str(home / "specs"),
            "AIRFLOW__CUSTOMER_IMPORT__DATABASES_FOLDER": str(home / "profile_databases"),
            "AIRFLOW__CUSTOMER_IMPORT__EMBEDDED_STORE_PATH": str(home / "embedded" / "profiles.db"),
            "AIRFLOW__CUSTOMER_IMPORT__RETRIES": "0",
        }
        if executor == "CeleryExecutor":
            settings |= {
                # A Redis database and a queue of this deployment's own: other deployments on the machine
                # share neither.
                "AIRFLOW__CELERY__BROKER_URL": f"{REDIS}/{int(key[:4], 16) % 14 + 2}",
                "AIRFLOW__CELERY__RESULT_BACKEND": f"db+{meta_url}",
                "AIRFLOW__CELERY__WORKER_CONCURRENCY": "1",
                "AIRFLOW__OPERATORS__DEFAULT_QUEUE": f"deploy_{key}",
                "AIRFLOW__CORE__HOSTNAME_CALLABLE": "deploy_hostname.hostname",
            }
        return base | settings

    def _prepare_home(self) -> None:
        for folder in ("dags", "plugins", "specs", "profile_databases", "logs", "pythonpath", "process-logs"):
            (self.home / folder).mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO / "dags" / "customer_imports.py", self.home / "dags" / "customer_imports.py")
        for file in (REPO / "include" / "profile_databases").glob("*.yaml"):
            shutil.copy(file, self.home / "profile_databases" / file.name)
        (self.home / "pythonpath" / "deploy_hostname.py").write_text(HOSTNAME_MODULE)
        self._password = secrets.token_urlsafe(12)
        (self.home / "passwords.json").write_text(json.dumps({ADMIN: self._password}))

    def launch(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> None:
        """Start ``airflow <args>`` in its own process group; its output goes to process-logs/<name>.log
        (and with ``lineage``, its OpenLineage events, and those of the task processes it starts, to
        lineage/<name>/: the file transport, one file per event)."""
        env = self.env | (extra_env or {})
        if self.lineage:
            folder = self.home / "lineage" / name
            folder.mkdir(parents=True, exist_ok=True)
            env["AIRFLOW__OPENLINEAGE__TRANSPORT"] = json.dumps(
                {"type": "file", "log_file_path": str(folder / "event")}
            )
        log = (self.home / "process-logs" / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [str(VENV_BIN / "airflow"), *args],
            env=env,
            cwd=self.home,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def start_worker(self, name: str) -> None:
        """A Celery worker, named ``name`` in Celery and in the task instances it runs (their hostname)."""
        queue = self.env["AIRFLOW__OPERATORS__DEFAULT_QUEUE"]
        self.launch(
            name,
            "celery",
            "worker",
            "--celery-hostname",
            f"{name}@{queue}",
            "--queues",
            queue,
            "--concurrency",
            "1",
            "--skip-serve-logs",
            extra_env={"CUSTOMER_IMPORT_WORKER_NAME": name},
        )
        self.workers.append(name)

    def stop_process(self, name: str) -> None:
        """End one component and every process of its group (and its descendants, whatever their group)."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        _end_group(process)

    def restart(self, name: str) -> None:
        args = {"scheduler": ("scheduler", "--skip-serve-logs"), "dag-processor": ("dag-processor",)}[name]
        self.stop_process(name)
        self.launch(name, *args)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_process(name)
        queue = self.env.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE")
        if queue:  # this deployment's own keys in the shared Redis
            import redis

            broker = redis.Redis.from_url(self.env["AIRFLOW__CELERY__BROKER_URL"], socket_connect_timeout=5)
            with contextlib.suppress(redis.RedisError):
                for name in list(broker.scan_iter(match=f"*{queue}*")):
                    broker.delete(name)
        if self.statsd is not None:
            self.statsd.close()
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5) as admin:
            for database in (self.meta_db, self.data_db):
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        if os.environ.get("CUSTOMER_IMPORT_KEEP_DEPLOY_HOME") != "1":
            shutil.rmtree(self.home, ignore_errors=True)

    # ------------------------------------------------------------------ command line and REST API
    def airflow(
        self, *args: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """Run ``airflow <args>`` with the deployment's configuration."""
        result = subprocess.run(
            [str(VENV_BIN / "airflow"), *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"airflow {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _healthy(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {process.returncode}:\n{self.process_log(name)[-3000:]}"
                )
        return httpx.get(f"{self.url}/api/v2/monitor/health", timeout=5).status_code == 200

    def token(self) -> str:
        if self._token is None:
            response = httpx.post(
                f"{self.url}/auth/token", json={"username": ADMIN, "password": self._password}, timeout=120
            )
            assert response.status_code == 201, response.text
            self._token = str(response.json()["access_token"])
        return self._token

    def api(self, method: str, path: str, *, ok: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        response = httpx.request(
            method,
            f"{self.url}/api/v2{path}",
            headers={"Authorization": f"Bearer {self.token()}"},
            timeout=120,
            **kwargs,
        )
        if response.status_code not in ok:
            raise AssertionError(f"{method} {path}: {response.status_code} {response.text}")
        return response.json() if response.content else None

    def add_connection(self, conn_id: str, uri: str) -> None:
        self.airflow("connections", "add", conn_id, "--conn-uri", uri)

    def delete_connection(self, conn_id: str) -> None:
        self.api("DELETE", f"/connections/{conn_id}", ok=(204, 404))

    def data_uri(self) -> str:
        return f"{PG_SERVER}/{self.data_db}"

    @contextlib.contextmanager
    def data(self) -> Iterator[psycopg.Connection[Any]]:
        """The deployment's source-and-store database (autocommit)."""
        with psycopg.connect(self.data_uri(), autocommit=True) as connection:
            yield connection

    # ------------------------------------------------------------------ DAGs and runs
    def write_spec(self, name: str, text: str) -> Path:
        path = self.home / "specs" / f"{name}.yaml"
        path.write_text(text)
        return path

    def dag(self, dag_id: str) -> dict[str, Any]:
        return dict(self.api("GET", f"/dags/{dag_id}"))

    def wait_for_dags(self, *dag_ids: str, timeout: float = 600) -> None:
        """Until every DAG is parsed and serialized, and the DAG file has no import error."""

        def parsed() -> bool:
            self._healthy()
            errors = self.api("GET", "/importErrors")
            assert errors["total_entries"] == 0, errors
            known = {d["dag_id"] for d in self.api("GET", "/dags", params={"limit": 100})["dags"]}
            return set(dag_ids) <= known

        wait_until(parsed, timeout, f"DAGs {dag_ids} to be parsed")

    def wait_for_parses(self, dag_id: str, count: int = 2, timeout: float = 600) -> None:
        """Until the dag-processor has parsed the DAG file ``count`` more times (and the scheduler looped)."""
        seen: list[str] = []

        def parsed_again() -> bool:
            stamp = str(self.dag(dag_id)["last_parsed_time"])
            if not seen or stamp != seen[-1]:
                seen.append(stamp)
            return len(seen) > count

        wait_until(parsed_again, timeout, f"{count} more parses of {dag_id}")
        time.sleep(6)  # a few scheduler loops: a run that was due would be created by now

    def set_paused(self, dag_id: str, paused: bool) -> None:
        self.api("PATCH", f"/dags/{dag_id}", json={"is_paused": paused})

    def trigger(self, dag_id: str, logical_date: str | None = None) -> str:
        run = self.api("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": logical_date})
        return str(run["dag_run_id"])

    def runs(self, dag_id: str, run_type: str | None = None) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"limit": 100, "order_by": "run_after"}
        if run_type:
            params["run_type"] = run_type
        return list(self.api("GET", f"/dags/{dag_id}/dagRuns", params=params)["dag_runs"])

    def wait_for_runs(
        self, dag_id: str, count: int, *, run_type: str | None = None, timeout: float = 900
    ) -> list[dict[str, Any]]:
        """Until ``count`` runs (of ``run_type``) exist and all have finished; fails on more."""

        def finished() -> list[dict[str, Any]] | None:
            self._healthy()
            runs = self.runs(dag_id, run_type)
            assert len(runs) <= count, [r["dag_run_id"] for r in runs]
            if len(runs) == count and all(r["state"] in ("success", "failed") for r in runs):
                return runs
            return None

        return wait_until(finished, timeout, f"{count} finished {run_type or ''} runs of {dag_id}", every=2)

    def wait_for_run(self, dag_id: str, run_id: str, timeout: float = 900) -> dict[str, Any]:
        def finished() -> dict[str, Any] | None:
            self._healthy()
            run = dict(self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}"))
            return run if run["state"] in ("success", "failed") else None

        return wait_until(finished, timeout, f"run {run_id} of {dag_id} to finish", every=2)

    def task_instances(self, dag_id: str, run_id: str) -> dict[str, dict[str, Any]]:
        tis = self.api("GET", f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti for ti in tis}

    def celery_task_ids(self, dag_id: str, run_id: str) -> dict[str, str | None]:
        """task_id -> the Celery task id that ran it (``external_executor_id``; not in the REST API)."""
        with psycopg.connect(f"{PG_SERVER}/{self.meta_db}", autocommit=True) as meta:
            found = meta.execute(
                "SELECT task_id, external_executor_id FROM task_instance WHERE dag_id = %s AND run_id = %s",
                (dag_id, run_id),
            )
            return {str(task_id): external for task_id, external in found}

    def report(self, dag_id: str, run_id: str) -> dict[str, Any]:
        """The import task's XCom report of the run."""
        entry = self.api(
            "GET",
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/import_profiles/xcomEntries/return_value",
            params={"deserialize": "true"},
        )
        value = entry["value"]
        return dict(json.loads(value) if isinstance(value, str) else value)

    def variable(self, key: str) -> str | None:
        found = self.api("GET", f"/variables/{key}", ok=(200, 404))
        return None if found is None or "value" not in found else str(found["value"])

    def task_log_files(self, dag_id: str) -> list[Path]:
        return sorted((self.home / "logs").glob(f"dag_id={dag_id}/**/*.log"))

    def lineage_events(self) -> dict[str, list[dict[str, Any]]]:
        """Process name -> the OpenLineage events written by it and the task processes it started (a file
        still being written is left for the next call)."""
        found: dict[str, list[dict[str, Any]]] = {}
        for folder in sorted((self.home / "lineage").glob("*")):
            events = found.setdefault(folder.name, [])
            for path in sorted(folder.glob("event-*.json")):
                with contextlib.suppress(json.JSONDecodeError):
                    events.append(json.loads(path.read_text()))
        return found

    def process_log(self, name: str) -> str:
        path = self.home / "process-logs" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""


def _end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group (and descendants that left it), then SIGKILL what is left after 30 s."""
    import psutil

    try:
        family = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        family = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    for member in family:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.terminate()
    _, alive = psutil.wait_procs(family, timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=10)
